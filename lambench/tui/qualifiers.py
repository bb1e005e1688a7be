"""`QualifierChoice`: the version or alias each function is invoked as (`q`), and the editor's title.

A mixin of `LambenchApp`. The function's versions and aliases are read in a thread worker; the
dialog is pushed back on the UI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from lambench.tui.widgets import EventEditor

if TYPE_CHECKING:
    from lambench.tui.session import Session


class QualifierChoice(App[None]):
    """Choosing the qualifier invokes of the selected function use, for `LambenchApp`."""

    session: Session | None
    #: The qualifier invokes use, by function (absent: $LATEST).
    qualifiers: dict[str, str]

    if TYPE_CHECKING:

        def _selected(self) -> str | None: ...

    def _target(self, function: str) -> str:
        """`function`, or `function:qualifier` when a version or alias was chosen for it."""
        qualifier = self.qualifiers.get(function)
        return f"{function}:{qualifier}" if qualifier and qualifier != "$LATEST" else function

    def action_choose_qualifier(self) -> None:
        """Pick the version or alias the selected function is invoked as."""
        function = self._selected()
        if self.session is None or function is None:
            self.notify("no function selected yet", severity="warning")
            return
        self._load_qualifiers(function)

    @work(thread=True, group="describe")
    def _load_qualifiers(self, function: str) -> None:
        assert self.session is not None
        try:
            detail = self.session.backend.describe_function(function)
        except Exception as exc:
            self.call_from_thread(self.notify, str(getattr(exc, "message", exc)), severity="error")
            return
        choices = [(v.version, v.description) for v in detail.versions]
        for alias in detail.aliases:
            weights = ", ".join(f"{version} at {weight:.0%}" for version, weight in alias.weights.items())
            choices.append((alias.name, f"alias of {alias.version}" + (f" (+ {weights})" if weights else "")))
        self.call_from_thread(self._ask_qualifier, function, choices)

    def _ask_qualifier(self, function: str, choices: list[tuple[str, str]]) -> None:
        def chosen(value: str | None) -> None:
            if value is None:
                return
            self.qualifiers[function] = value
            self._show_target()

        from lambench.tui.dialogs import QualifierScreen

        current = self.qualifiers.get(function, "$LATEST")
        self.push_screen(QualifierScreen(function, choices, current), chosen)

    def _show_target(self) -> None:
        function = self._selected()
        qualifier = self.qualifiers.get(function or "", "$LATEST")
        editor = self.query_one(EventEditor)
        editor.border_title = f"Event for {function}:{qualifier}" if function else "Event"
