"""The visualizer's async queue panel: where each `Event` invocation of the function stands.

The screen's clock hands the panel a snapshot of the engine's `AsyncBoard`; the panel stays out
of the way (hidden) until the function has had an asynchronous invocation.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from lambench.core.runtime.async_board import FINISHED_STATES, LIVE_STATES, AsyncEntry, AsyncQueueSnapshot

#: The order states are counted in the panel's title.
_TITLE_STATES = (*LIVE_STATES, *FINISHED_STATES)
_STATE_WIDTH = 13


def queue_title(snapshot: AsyncQueueSnapshot) -> str:
    """`Async queue · 1 in flight · 2 retrying · 5 delivered` (states with none left out)."""
    parts = [f"{snapshot.counts[state]} {state}" for state in _TITLE_STATES if snapshot.counts.get(state)]
    return " · ".join(["Async queue", *parts]) if parts else "Async queue · empty"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")


def entry_line(entry: AsyncEntry, now: float) -> str:
    """One event: its state, request id and what comes next (or how it ended)."""
    head = f"{entry.state:<{_STATE_WIDTH}} {entry.request_id[:8]}  "
    state = entry.state
    if state == "queued":
        waiting = "" if entry.next_at is None or entry.next_at <= now else f" · due {_clock(entry.next_at)}"
        detail = f"accepted {_clock(entry.accepted)}{waiting}"
        if entry.attempts:
            detail += f" · resumed after {_attempts(entry.attempts)}"
    elif state == "in flight":
        detail = f"attempt {entry.attempts}" + (" (retry)" if entry.attempts > 1 else "")
    elif state in ("retrying", "throttled"):
        why = entry.error_type or ""
        after = f"after {entry.delay_s:g} s" if entry.delay_s is not None else ""
        due = f" at {_clock(entry.next_at)}" if entry.next_at is not None else ""
        if state == "retrying":
            detail = f"attempt {entry.attempts} failed ({why}) · retry {after}{due}"
        else:
            detail = f"throttled ({why}) · again {after}{due}"
    else:
        detail = _attempts(entry.attempts)
        if entry.condition and entry.condition != "Success":
            detail += f" · {entry.condition}"
        if entry.error_type and state != "succeeded" and state != "delivered":
            detail += f" ({entry.error_type})"
        if entry.destinations:
            detail += " → " + ", ".join(arn.rsplit(":", 1)[-1] for arn in entry.destinations)
    if entry.problem:
        detail += f" · {entry.problem}"
    return head + detail


class AsyncQueuePanel(Widget):
    """The async queue of one function: live events by when they run next, then the latest finished."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"asyncq--live", "asyncq--ok", "asyncq--failed", "asyncq--muted"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: AsyncQueueSnapshot | None = None
        self._now = time.time()
        self.display = False

    def show(self, snapshot: AsyncQueueSnapshot, now: float) -> None:
        """Draw this snapshot; shown only once there is something in it."""
        self.snapshot = snapshot
        self._now = now
        self.border_title = queue_title(snapshot)
        self.display = bool(snapshot.entries)
        self.refresh()

    def lines(self) -> list[str]:
        """The panel's rows as plain text."""
        if self.snapshot is None:
            return []
        return [entry_line(entry, self._now) for entry in self.snapshot.entries]

    def render(self) -> Text:
        if self.snapshot is None:
            return Text("")
        width = max(1, self.size.width)
        text = Text()
        for index, entry in enumerate(self.snapshot.entries[: max(1, self.size.height)]):
            if index:
                text.append("\n")
            if entry.live:
                style = "live"
            elif entry.state in ("failed", "dead-lettered", "dropped") or entry.problem:
                style = "failed"
            else:
                style = "ok"
            text.append(
                entry_line(entry, self._now)[:width], style=self.get_component_rich_style(f"asyncq--{style}")
            )
        return text
