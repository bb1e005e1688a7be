"""Event options shared by `lambench events` and `lambench invoke`: `--param`, templates, and their errors."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lambench.cli.errors import UserError

if TYPE_CHECKING:
    from lambench.core.events import EventTemplate


def add_param_option(parser: argparse.ArgumentParser) -> None:
    """`--param KEY=VALUE`, repeatable; shared with `lambench invoke --event-template`."""
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter (repeatable); objects and arrays are given as JSON",
    )


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings as a dict; the template checks and types each value."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param takes KEY=VALUE, not {pair!r}")
        params[key.strip()] = value
    return params


@contextmanager
def event_errors() -> Iterator[None]:
    """Turn the events core's user-facing errors into one-line `UserError`s."""
    from lambench.core.events.catalog import EventError

    try:
        yield
    except EventError as exc:
        raise UserError(str(exc)) from None


def find_template(service: str, name: str | None) -> EventTemplate:
    """A built-in template; unknown names become a one-line error listing the choices."""
    from lambench.core.events.catalog import builtin_template

    with event_errors():
        return builtin_template(service, name)


def render_template(template: EventTemplate, pairs: list[str]) -> Any:
    """The template's event with `--param` values; a bad value is a one-line error."""
    with event_errors():
        return template.render(parse_params(pairs))
