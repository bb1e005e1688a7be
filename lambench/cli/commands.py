"""The table of lambench's commands: each one's name and one-line help, and where its options live.

The top-level parser is built from this table alone, so `lambench --help`, `--version` and an
unknown command import no command module; the one command being run is configured by its own
module (`configure` there), imported only then.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

# `typing` is not imported at run time: `lambench --help` would pay a tenth of its wall time for it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _terminal_columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` reports it (COLUMNS first, 80 if unknown)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (OSError, ValueError, AttributeError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given its width so that it does not import shutil (and shutil's
    compression modules) just to ask the terminal's size."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        # argparse itself takes two columns off the terminal's width.
        super().__init__(prog, indent_increment, max_help_position, width or _terminal_columns() - 2)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`HelpFormatter` that keeps the description's and epilog's own line breaks."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with `HelpFormatter` by default, for itself and every subparser under it.

    argparse builds a formatter for each option it adds (to check the metavar), so a parser left
    with the standard formatter would import shutil after all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def translate_messages_once() -> None:
    """Look argparse's message catalog up once for the process, not at every message.

    argparse translates each string it uses through `gettext.gettext`, which searches the locale
    directories again on every call when no catalog exists (the usual case): some sixty searches
    for one `lambench invoke`. The catalog found (or the identity fallback) is the same each time
    for the life of a process, so it is resolved here once and handed to argparse.
    """
    import gettext

    domain = gettext.textdomain()
    catalog = gettext.translation(domain, gettext.bindtextdomain(domain), fallback=True)
    argparse._ = catalog.gettext  # type: ignore[attr-defined]
    argparse.ngettext = catalog.ngettext  # type: ignore[attr-defined]


class Command:
    """One subcommand: its name, its line in `lambench --help`, and the function that adds its options."""

    # A plain class, not a dataclass: building one costs start-up time every command pays.
    __slots__ = ("configure", "help", "module", "name")

    def __init__(self, name: str, help: str, module: str, configure: str = "configure") -> None:
        self.name = name
        self.help = help
        self.module = module
        self.configure = configure

    def configure_parser(self, parser: argparse.ArgumentParser) -> None:
        """Import the command's module and let it add its description, options and `run`."""
        configure: Callable[[argparse.ArgumentParser], None] = getattr(
            importlib.import_module(self.module), self.configure
        )
        configure(parser)


def _command(name: str, help: str, module: str, configure: str = "configure") -> Command:
    return Command(name, help, f"lambench.cli.{module}", configure)


#: In the order `lambench --help` lists them.
COMMANDS: tuple[Command, ...] = (
    _command("functions", "list the functions, or show one in detail", "functions_cmd"),
    _command("invoke", "invoke a function locally", "invoke_cmd"),
    _command(
        "sources",
        "list the event sources (queues, buckets, streams, schedules) and their counters",
        "sources_cmd",
    ),
    _command("events", "event templates for every Lambda trigger, and saved test events", "events_cmd"),
    _command("versions", "publish and list versions of a function", "versions_cmd", "configure_versions"),
    _command("aliases", "create, update, list and delete aliases", "versions_cmd", "configure_aliases"),
    _command("load", "drive a function with many invokes; show throttles, cold starts and cost", "load_cmd"),
    _command("tune", "run a function at several memory sizes and find the cheapest and fastest", "tune_cmd"),
    _command("logs", "print or follow a function's log", "logs_cmd"),
    _command("metrics", "print a function's CloudWatch metrics for a window", "metrics_cmd"),
    _command("serve", "run the project's embedded AWS account until Ctrl-C", "serve_cmd", "configure_serve"),
    _command(
        "env",
        "print the variables that point the AWS CLI at the running embedded account",
        "serve_cmd",
        "configure_env",
    ),
    _command("watch", "print hot reloads as files change, until Ctrl-C", "watch_cmd"),
    _command("tui", "open the terminal UI (the default when no command is given)", "tui_cmd"),
)


def add_commands(subparsers: argparse._SubParsersAction[ArgumentParser], selected: str | None) -> None:
    """Add every command to `subparsers`; only `selected` (if any) gets its options."""
    for command in COMMANDS:
        parser = subparsers.add_parser(command.name, help=command.help, formatter_class=HelpFormatter)
        if command.name == selected:
            command.configure_parser(parser)
