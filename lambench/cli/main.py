"""The `lambench` command: parse the command line and dispatch to a command module.

Imports stay light here: `lambench invoke` is the inner loop of a developer's day, so boto3,
moto and textual are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lambench import __version__
from lambench.cli.common import UserError, fail

#: Flags the top-level parser answers itself (everything else before a command goes to the TUI).
_TOP_LEVEL_FLAGS = ("-h", "--help", "--version", "--endpoint")

#: Exit status when AWS (or the embedded account) refused or could not be reached.
EXIT_BACKEND = 3


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one subcommand per module."""
    parser = argparse.ArgumentParser(
        prog="lambench",
        description=(
            "A workbench for AWS Lambda: runs your functions locally with the real execution model "
            "(cold and warm starts, timeouts, memory limits, AWS's exact errors and log lines)."
        ),
        epilog=(
            "Run 'lambench COMMAND --help' for a command's options. Exit status: 0 success, 1 a function "
            "error, 2 a usage error, 3 an error from AWS (credentials, permissions, network)."
        ),
    )
    from lambench.cli import (
        events_cmd,
        functions_cmd,
        invoke_cmd,
        load_cmd,
        logs_cmd,
        metrics_cmd,
        serve_cmd,
        tui_cmd,
        versions_cmd,
        watch_cmd,
    )

    parser.add_argument("--version", action="version", version=f"lambench {__version__}")
    parser.add_argument(
        "--endpoint",
        action="store_true",
        help="print the endpoint of the embedded account 'lambench serve' runs for this directory, and exit",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    functions_cmd.register(subparsers)
    invoke_cmd.register(subparsers)
    events_cmd.register(subparsers)
    versions_cmd.register(subparsers)
    load_cmd.register(subparsers)
    logs_cmd.register(subparsers)
    metrics_cmd.register(subparsers)
    serve_cmd.register(subparsers)
    watch_cmd.register(subparsers)
    tui_cmd.register(subparsers)
    return parser


def _tui_parser() -> argparse.ArgumentParser:
    from lambench.cli import tui_cmd

    parser = argparse.ArgumentParser(prog="lambench", description="lambench's terminal UI")
    parser.set_defaults(endpoint=False)
    tui_cmd.register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `lambench [--project DIR] [--theme T] ...` with no command opens the TUI. Only the TUI's
    # parser is built then: the other commands' modules are not imported before the first paint.
    if not argv or (argv[0].startswith("-") and argv[0] not in _TOP_LEVEL_FLAGS):
        parser = _tui_parser()
        argv = ["tui", *argv]
    else:
        parser = build_parser()
    args = parser.parse_args(argv)
    if args.endpoint and not getattr(args, "run", None):
        args = parser.parse_args(["env", "--endpoint"])
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except UserError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("lambench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `lambench invoke ... | head`: the reader left; that is not an error worth a traceback.
        return 0
    except Exception as exc:
        # Imported here, not at the top: the TUI's first paint does not wait for the backends'
        # module (whoever raised a BackendError has imported it already).
        from lambench.core.backends.base import BackendError

        if not isinstance(exc, BackendError):
            raise
        print(f"lambench: error: {exc.message}", file=sys.stderr)
        return EXIT_BACKEND
