"""What every command shares: finding the project, turning user mistakes into one-line errors."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.cli.errors import UserError as UserError  # re-exported: every command raises it
from lambench.core.limits import DEFAULT_MEMORY_MB, DEFAULT_RUNTIME, DEFAULT_TIMEOUT_S, SUPPORTED_RUNTIMES
from lambench.core.record import field, record

if TYPE_CHECKING:
    from lambench.core.backends.local import LocalBackend
    from lambench.core.cloud_resources import CloudResource
    from lambench.core.config import FunctionConfig
    from lambench.core.http.model import HttpFrontDoors
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.sources.model import Source
    from lambench.core.template import Deployment


def add_project_option(parser: argparse.ArgumentParser) -> None:
    """`--project DIR`, which every command takes."""
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=".",
        help="project directory holding template.yaml (default: the current directory)",
    )


def add_project_and_runtime_options(parser: argparse.ArgumentParser) -> None:
    """`--project DIR` and `--strict-runtime`, for the commands that run functions."""
    add_project_option(parser)
    parser.add_argument(
        "--strict-runtime",
        action="store_true",
        help="fail a Node.js function's init when the local node's major version is not its "
        "runtime's (default: a warning in its log)",
    )
    parser.add_argument(
        "--cpu-scaling",
        choices=("off", "auto", "cgroup", "duty"),
        default=None,
        help="give each environment CPU in proportion to its memory, as on AWS (one vCPU at 1,769 MB): "
        "auto uses a cgroup quota where lambench may create cgroups, else a duty cycle (default: off, "
        "full speed)",
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


@record
class Loaded:
    """The functions a command works on, with their deployment settings from the template."""

    functions: dict[str, FunctionConfig]
    deployments: dict[str, Deployment] = field(default_factory=dict)
    resources: list[CloudResource] = field(default_factory=list)
    #: The functions' `Events:` and the template's located warnings (what it ignores).
    sources: list[Source] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The template's APIs, routes and function URLs.
    http: HttpFrontDoors | None = None


def load_project_functions(args: argparse.Namespace) -> Loaded:
    """The project's functions and deployment settings, or one ad-hoc function."""
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
            return Loaded({config.name: config})
        project = load_project(project_dir)
        return Loaded(
            dict(project.functions),
            dict(project.deployments),
            list(project.cloud_resources),
            list(project.sources),
            list(project.warnings),
            project.http,
        )
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def load_functions(args: argparse.Namespace) -> dict[str, FunctionConfig]:
    """The functions a command works on: the project's, or one ad-hoc function."""
    return load_project_functions(args).functions


def require_function(loaded: Loaded, name: str, project: str) -> str:
    """`name` without its qualifier, checked to be one of the project's functions."""
    base = name.split(":", 1)[0]
    if base not in loaded.functions:
        known = ", ".join(loaded.functions) or "none"
        raise UserError(f"no function named {base!r} in {project} (functions: {known})")
    return base


def versions_dir(args: argparse.Namespace) -> Path:
    """Where the project keeps published versions and aliases."""
    return Path(args.project) / ".lambench" / "versions"


@contextlib.contextmanager
def open_service(
    args: argparse.Namespace,
    loaded: Loaded,
    *,
    publish: Callable[[str], bool] = lambda function: False,
    provision: Callable[[str, str], bool] = lambda function, alias: False,
    **options: Any,
) -> Iterator[LocalLambda]:
    """The project's local service, ready to invoke; closed (with its account) on leaving.

    Reserved concurrency always applies; AutoPublishAlias runs for the functions `publish` names
    and provisioned concurrency starts where `provision` says (see `apply_deployments`).
    `options` go to `LocalLambda` (limits, keep-alive, ...).
    """
    with open_local_backend(args, loaded, publish=publish, provision=provision, **options) as backend:
        yield backend.service


@contextlib.contextmanager
def open_local_backend(
    args: argparse.Namespace,
    loaded: Loaded,
    *,
    publish: Callable[[str], bool] = lambda function: False,
    provision: Callable[[str, str], bool] = lambda function, alias: False,
    share: bool = True,
    **options: Any,
) -> Iterator[LocalBackend]:
    """`local_backend`, closed on leaving."""
    backend = local_backend(args, loaded, publish=publish, provision=provision, share=share, **options)
    try:
        yield backend
    finally:
        backend.close()


def local_backend(
    args: argparse.Namespace,
    loaded: Loaded,
    *,
    publish: Callable[[str], bool] = lambda function: False,
    provision: Callable[[str, str], bool] = lambda function, alias: False,
    share: bool = True,
    **options: Any,
) -> LocalBackend:
    """The project's local backend (engine, embedded or served account, log store), deployed.

    `build_local_backend` builds it from `loaded`, in the project's `.lambench/versions`; a
    deployment setting the engine refuses becomes a `UserError`. The caller closes the backend.
    """
    from lambench.core.backends.build import build_local_backend
    from lambench.core.config import ConfigError
    from lambench.core.template import Project

    project_dir = Path(args.project).resolve()
    project = Project(
        directory=project_dir,
        functions=loaded.functions,
        deployments=loaded.deployments,
        cloud_resources=loaded.resources,
        sources=loaded.sources,
        warnings=loaded.warnings,
    )
    if loaded.http is not None:
        project.http = loaded.http
    try:
        return build_local_backend(
            project,
            project_dir,
            versions=versions_dir(args),
            publish=publish,
            provision=provision,
            share=share,
            **options,
        )
    except ConfigError as exc:
        raise UserError(str(exc)) from None


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn a service error (unknown qualifier, bad alias, throttle) into a one-line user error."""
    from lambench.core.runtime.errors import LambdaServiceError, TooManyRequestsError

    try:
        yield
    except TooManyRequestsError as exc:
        raise UserError(f"{exc.error_code}: {exc.message} (Reason: {exc.reason})") from None
    except LambdaServiceError as exc:
        raise UserError(f"{exc.error_code}: {exc.message}") from None


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
