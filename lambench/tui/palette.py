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


def main_commands(app: LambenchApp) -> Iterable[SystemCommand]:
    """The main screen's lambench actions."""
    yield SystemCommand("Invoke", "Invoke the selected function with the event", app.action_invoke)
    yield SystemCommand(
        "Invoke asynchronously", "An Event invoke of the selected function", app.action_invoke_async
    )
    yield SystemCommand("Invoke again", "Repeat the last invoke", app.action_invoke_again)
    yield SystemCommand("Choose qualifier", "Invoke a version or alias", app.action_choose_qualifier)
    yield SystemCommand("Pick an event", "Templates, saved and shared events", app.action_pick_event)
    yield SystemCommand("Visualize", "Environments, concurrency, cold starts, load", app.action_visualize)
    yield SystemCommand("Save the event", "Save the editor's event for the function", app.action_save_event)
    yield SystemCommand("Filter functions", "Focus the function filter", app.action_filter)
    yield SystemCommand("Filter logs", "Focus the log filter", app.action_filter_logs)
    yield SystemCommand("Logs of the last result", "Show only its request's lines", app.action_jump_to_logs)
    yield SystemCommand(
        "Log of this function / all", "Show the selected function's lines, or all", app.action_scope_logs
    )
    yield SystemCommand("Follow logs", "Scroll to the newest line", app.action_follow_logs)
    yield SystemCommand("Clear logs", "Empty the log view", app.action_clear_logs)
    yield SystemCommand("Keys", "List every key", app.action_help)


def theme_commands(app: LambenchApp) -> Iterable[SystemCommand]:
    """Cycling through lambench's themes, and one command per theme."""
    yield SystemCommand("Next theme", "Cycle through lambench's themes", app.action_next_theme)
    for name in sorted(n for n in app.available_themes if n.startswith("lambench-")):
        yield SystemCommand(
            f"Theme: {name}", "Switch to this theme", lambda name=name: setattr(app, "theme", name)
        )
