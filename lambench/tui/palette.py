"""What the main screen offers in the command palette (ctrl+p) and lists in its help (`?`).

Every key's action has a palette command too, so nothing is reachable only by a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from lambench.tui.app import LambenchApp

#: Keys Textual binds itself, listed in the help after the app's own.
TEXTUAL_KEYS = (("ctrl+p", "Command palette"), ("ctrl+q", "Quit"), ("tab", "Next panel"))


def help_keys(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """Each shown binding as (key, what it does), then Textual's own keys."""
    keys = [
        (binding.key.replace("question_mark", "?").replace("slash", "/"), binding.description)
        for binding in bindings
        if isinstance(binding, Binding) and binding.description
    ]
    return [*keys, *TEXTUAL_KEYS]


#: The main screen's palette entries: title, help line, and the app's action they run.
_MAIN_COMMANDS = (
    ("Invoke", "Invoke the selected function with the event", "invoke"),
    ("Invoke asynchronously", "An Event invoke of the selected function", "invoke_async"),
    ("Invoke again", "Repeat the last invoke", "invoke_again"),
    ("Choose qualifier", "Invoke a version or alias", "choose_qualifier"),
    ("Pick an event", "Templates, saved and shared events", "pick_event"),
    ("Visualize", "Environments, concurrency, cold starts, load", "visualize"),
    ("Tune memory", "Run the function at several memory sizes; the cheapest and fastest", "tune"),
    ("Save the event", "Save the editor's event for the function", "save_event"),
    ("Filter functions", "Focus the function filter", "filter"),
    ("Filter logs", "Focus the log filter", "filter_logs"),
    ("Logs of the last result", "Show only its request's lines", "jump_to_logs"),
    ("Log of this function / all", "Show the selected function's lines, or all", "scope_logs"),
    ("Follow logs", "Scroll to the newest line", "follow_logs"),
    ("Clear logs", "Empty the log view", "clear_logs"),
    ("Keys", "List every key", "help"),
)


def main_commands(app: LambenchApp) -> Iterable[SystemCommand]:
    """The main screen's lambench actions."""
    for title, help_text, action in _MAIN_COMMANDS:
        yield SystemCommand(title, help_text, getattr(app, f"action_{action}"))


def theme_commands(app: LambenchApp) -> Iterable[SystemCommand]:
    """Cycling through lambench's themes, and one command per theme."""
    yield SystemCommand("Next theme", "Cycle through lambench's themes", app.action_next_theme)
    for name in sorted(n for n in app.available_themes if n.startswith("lambench-")):
        yield SystemCommand(
            f"Theme: {name}", "Switch to this theme", lambda name=name: setattr(app, "theme", name)
        )
