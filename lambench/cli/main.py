"""The `lambench` command: parse the command line and dispatch to a command module.

Imports stay light here: `lambench invoke` is the inner loop of a developer's day, so boto3,
moto and textual are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lambench import __version__
from lambench.cli.errors import UserError, fail

#: Flags the top-level parser answers itself (everything else before a command goes to the TUI).
_TOP_LEVEL_FLAGS = ("-h", "--help", "--version", "--endpoint")

#: Exit status when AWS (or the embedded account) refused or could not be reached.
EXIT_BACKEND = 3


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser, with every command listed and only `command`'s options added."""
    from lambench.cli.commands import ArgumentParser, add_commands, translate_messages_once

    translate_messages_once()
    parser = ArgumentParser(
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
    parser.add_argument("--version", action="version", version=f"lambench {__version__}")
    parser.add_argument(
        "--endpoint",
        action="store_true",
        help="print the endpoint of the embedded account 'lambench serve' runs for this directory, and exit",
    )
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"), command)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The command `argv` runs: its first word that is not a top-level flag."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        # Answered before argparse builds anything: scripts call it to check what is installed.
        print(f"lambench {__version__}")
        return 0
    # `lambench [--project DIR] [--theme T] ...` with no command opens the TUI. Only the command
    # being run is configured: the other commands' modules are never imported.
    if not argv or (argv[0].startswith("-") and argv[0] not in _TOP_LEVEL_FLAGS):
        argv = ["tui", *argv]
    parser = build_parser(_command_named(argv))
    args = parser.parse_args(argv)
    if args.endpoint and not getattr(args, "run", None):
        args = build_parser("env").parse_args(["env", "--endpoint"])
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    if getattr(args, "strict_runtime", False):
        # Read where runtimes start (core/runtime/node.py), in this process and its children.
        os.environ["LAMBENCH_STRICT_RUNTIME"] = "1"
    if getattr(args, "cpu_scaling", None):
        os.environ["LAMBENCH_CPU_SCALING"] = args.cpu_scaling  # read by LocalLambda
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
