"""`--backend local|aws`, `--profile`, `--region`, `--endpoint-url`, `--allow-invoke`: choosing the account.

Every command that reads functions or logs takes these; the command then holds a `Backend` and
never asks which one it has.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lambench.cli.common import UserError, load_project_functions, open_local_backend, service_errors

if TYPE_CHECKING:
    from lambench.core.backends.aws import AwsBackend
    from lambench.core.backends.base import Backend


def add_backend_options(parser: argparse.ArgumentParser, *, invoke: bool = False) -> None:
    """The options that pick the account a command works on."""
    group = parser.add_argument_group(
        "account",
        "local (default): the project's functions on lambench's engine with an embedded moto account; "
        "aws: a real account through the standard boto3 credential chain",
    )
    group.add_argument("--backend", choices=("local", "aws"), default="local", help="(default: %(default)s)")
    group.add_argument("--profile", metavar="P", help="AWS profile (aws backend)")
    group.add_argument("--region", metavar="R", help="AWS region (aws backend; default: the profile's)")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="send AWS calls to this endpoint instead (aws backend; e.g. a running 'lambench serve')",
    )
    if invoke:
        group.add_argument(
            "--allow-invoke",
            action="store_true",
            help="let lambench invoke functions in a real account (off by default: invokes have effects)",
        )


def check_backend_options(args: argparse.Namespace) -> None:
    """Refuse account options that the chosen backend would ignore."""
    if args.backend == "local":
        for option in ("profile", "region", "endpoint_url"):
            if getattr(args, option, None):
                flag = "--" + option.replace("_", "-")
                raise UserError(f"{flag} needs --backend aws (the local backend uses the project's template)")


def aws_backend(args: argparse.Namespace) -> AwsBackend:
    """The real-account backend the options describe (nothing is contacted until it is used)."""
    from lambench.core.backends.aws import AwsBackend

    return AwsBackend(
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
        allow_invoke=bool(getattr(args, "allow_invoke", False)),
    )


@contextlib.contextmanager
def open_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The backend the options choose, closed on leaving."""
    check_backend_options(args)
    if args.backend == "aws":
        backend = aws_backend(args)
        try:
            yield backend
        finally:
            backend.close()
        return
    loaded = load_project_functions(args)
    with service_errors(), open_local_backend(args, loaded) as local:
        yield local
