"""`LogPaneActions`: the main screen's log keys (filter, follow, clear, this request, this function).

A mixin of `LambenchApp`; Textual finds its `action_*` methods through the app's MRO.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App

from lambench.tui.widgets import LogsPanel


class LogPaneActions(App[None]):
    """The actions on the log pane of `LambenchApp`."""

    #: The request id of the last result shown, or None before the first.
    _last_request_id: str | None
    #: Whether the log shows only the selected function's lines (`f` switches).
    log_scoped: bool

    if TYPE_CHECKING:

        def _selected(self) -> str | None: ...

    def action_clear_logs(self) -> None:
        """Empty the log view."""
        self.query_one(LogsPanel).clear()

    def action_filter_logs(self) -> None:
        """Focus the log filter."""
        for field in self.query("#log-filter"):
            field.focus()

    def action_follow_logs(self) -> None:
        """Scroll the log to the end and follow it again."""
        self.query_one(LogsPanel).follow()

    def action_jump_to_logs(self) -> None:
        """Show only the log lines of the last result's request."""
        request_id = self._last_request_id
        if request_id is None:
            self.notify("no result yet to show the logs of", severity="warning")
            return
        self.query_one(LogsPanel).set_filter(f"req:{request_id}")

    def action_scope_logs(self) -> None:
        """Switch the log between the selected function's lines and every function's."""
        function = self._selected()
        if function is None:
            self.notify("no function selected yet", severity="warning")
            return
        self.log_scoped = not self.log_scoped
        self.query_one(LogsPanel).scope(function if self.log_scoped else None)
