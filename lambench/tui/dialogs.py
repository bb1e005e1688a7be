"""Small modal screens: choosing a qualifier, and the key help."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class QualifierScreen(ModalScreen[str | None]):
    """Pick `$LATEST`, a published version or an alias; dismisses with the choice (None: cancelled)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel-qualifier")]

    def __init__(self, function: str, choices: list[tuple[str, str]], current: str) -> None:
        super().__init__()
        self._function = function
        self._choices = choices
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Invoke {self._function} as:", id="dialog-title")
            yield OptionList(
                *(Option(f"{value}  {label}".rstrip(), id=value) for value, label in self._choices)
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [value for value, _ in self._choices]
        options.highlighted = values.index(self._current) if self._current in values else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without changing the qualifier."""
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key of the main screen, with what it does."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="close-help"),
        Binding("question_mark", "close", "Close", id="close-help-again", show=False),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self._keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in self._keys), default=4)
        lines = [f"{key.ljust(width)}  {description}" for key, description in self._keys]
        with Vertical(id="dialog"):
            yield Static("Keys", id="dialog-title")
            yield Static("\n".join(lines), id="help-keys")
            yield Static("ctrl+p opens the command palette: every action, and the themes.", id="help-foot")

    def action_close(self) -> None:
        """Back to the main screen."""
        self.dismiss(None)
