"""What every command shares: finding the project, turning user mistakes into one-line errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lambench.core.limits import DEFAULT_MEMORY_MB, DEFAULT_RUNTIME, DEFAULT_TIMEOUT_S, SUPPORTED_RUNTIMES

if TYPE_CHECKING:
    from lambench.core.config import FunctionConfig

#: Exit status for a user mistake (bad option, unknown function, broken template or event).
EXIT_USAGE = 2


class UserError(Exception):
    """A mistake the user can fix; printed as `lambench: error: <message>` with exit status 2."""


def add_project_option(parser: argparse.ArgumentParser) -> None:
    """`--project DIR`, which every command takes."""
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=".",
        help="project directory holding template.yaml (default: the current directory)",
    )


def add_adhoc_options(parser: argparse.ArgumentParser) -> None:
    """Options that describe a function without a template."""
    group = parser.add_argument_group(
        "ad-hoc function", "run a handler that no template describes (NAME then names it, optionally)"
    )
    group.add_argument("--handler", help="handler as module.function, e.g. app.handler")
    group.add_argument("--code-dir", metavar="DIR", help="the function's code directory (default: --project)")
    group.add_argument(
        "--runtime",
        default=DEFAULT_RUNTIME,
        help=f"one of {', '.join(SUPPORTED_RUNTIMES)} (default: %(default)s)",
    )
    group.add_argument(
        "--memory", default=DEFAULT_MEMORY_MB, metavar="MB", help="128-10240 (default: %(default)s)"
    )
    group.add_argument(
        "--timeout", default=DEFAULT_TIMEOUT_S, metavar="S", help="1-900 (default: %(default)s)"
    )
    group.add_argument(
        "--env", action="append", default=[], metavar="K=V", help="an environment variable (repeatable)"
    )


def load_functions(args: argparse.Namespace) -> dict[str, FunctionConfig]:
    """The functions a command works on: the project's, or one ad-hoc function."""
    from lambench.core.config import ConfigError
    from lambench.core.template import adhoc_function, load_project

    project_dir = Path(args.project)
    try:
        if getattr(args, "handler", None):
            config = adhoc_function(
                handler=args.handler,
                code_dir=args.code_dir or project_dir,
                runtime=args.runtime,
                memory=args.memory,
                timeout=args.timeout,
                env=args.env,
                name=getattr(args, "name", None) or None,
            )
            return {config.name: config}
        return dict(load_project(project_dir).functions)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def fail(message: str) -> int:
    """Print a one-line error to stderr and return the usage exit status."""
    print(f"lambench: error: {message}", file=sys.stderr)
    return EXIT_USAGE
