"""The visualizer's geometry, free of widgets: the time window it shows and the cells it draws.

`TimeWindow` holds zoom, pan and pause; `environment_cells`, `throttle_counts` and
`concurrency_columns` turn a timeline `Snapshot` into one state per terminal cell, which the
widgets then paint with the theme's colors.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from lambench.core.timeline.spans import EnvironmentSpan, InvocationSpan, Snapshot

#: The widths of window the zoom steps through, in seconds.
ZOOM_LEVELS_S: tuple[float, ...] = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
DEFAULT_SPAN_S = 10.0
#: A pan moves the window by this share of its width.
PAN_SHARE = 0.25
#: Round steps between the time axis's labels, in seconds.
TICK_STEPS_S: tuple[float, ...] = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
#: The fewest columns from one axis label to the next.
TICK_SPACING = 14

Cell = Literal["dead", "idle", "init", "invoke", "async", "retry", "error", "retry_failed", "retired"]
# A cell shows the most important thing that happened in it. A cold start outranks the invocation
# it delays, so it stays visible when both fit in one column; "retired" is set apart, on the
# column after the environment's last moment.
# An asynchronous attempt is an invocation drawn apart, and a retry outranks a first attempt so a
# column holding both shows that the event came back. A failed retry keeps its retry mark (in the
# error's color): a short attempt fills one column, and its failure alone would hide the retry.
_RANK: dict[Cell, int] = {
    "dead": 0,
    "retired": 0,
    "idle": 1,
    "invoke": 2,
    "async": 2,
    "retry": 3,
    "init": 4,
    "error": 5,
    "retry_failed": 5,
}


class TimeWindow:
    """What part of the time axis is shown: a width, a right edge (following now, or fixed) and pause.

    Following (`anchor` None), the window ends at the clock's now. Panning back fixes the right
    edge; panning forward past now follows again. Paused, now stands still at the moment of the
    pause, so the picture freezes, yet zoom and pan still move over what was recorded.
    """

    def __init__(self, span_s: float = DEFAULT_SPAN_S) -> None:
        if span_s <= 0:
            raise ValueError(f"span_s must be positive, not {span_s}")
        self.span_s = span_s
        self.anchor: float | None = None
        self.paused_at: float | None = None

    @property
    def paused(self) -> bool:
        """True while the picture is frozen."""
        return self.paused_at is not None

    @property
    def following(self) -> bool:
        """True while the right edge is now."""
        return self.anchor is None

    def now(self, clock_now: float) -> float:
        """The latest time the window may show: the clock's, or the moment of the pause."""
        return self.paused_at if self.paused_at is not None else clock_now

    def bounds(self, clock_now: float) -> tuple[float, float]:
        """(start, end) of the window at `clock_now`."""
        end = self.now(clock_now) if self.anchor is None else min(self.anchor, self.now(clock_now))
        return end - self.span_s, end

    def zoom_in(self) -> None:
        """Show a narrower stretch of time, in more detail."""
        narrower = [level for level in ZOOM_LEVELS_S if level < self.span_s - 1e-9]
        self.span_s = narrower[-1] if narrower else ZOOM_LEVELS_S[0]

    def zoom_out(self) -> None:
        """Show a wider stretch of time."""
        wider = [level for level in ZOOM_LEVELS_S if level > self.span_s + 1e-9]
        self.span_s = wider[0] if wider else ZOOM_LEVELS_S[-1]

    def pan(self, direction: int, clock_now: float) -> None:
        """Move the window back (`direction` < 0) or forward (> 0) by a quarter of its width."""
        now = self.now(clock_now)
        end = self.anchor if self.anchor is not None else now
        end += math.copysign(self.span_s * PAN_SHARE, direction)
        self.anchor = None if end >= now else end

    def follow(self) -> None:
        """Jump back to now."""
        self.anchor = None

    def toggle_pause(self, clock_now: float) -> bool:
        """Pause or resume; returns True when now paused. Resuming follows now again."""
        if self.paused_at is None:
            self.paused_at = clock_now
            return True
        self.paused_at = None
        self.anchor = None
        return False

    def describe(self, clock_now: float) -> str:
        """`10 s · live`, `10 s · paused`, `30 s · 25 s ago`."""
        width = f"{self.span_s:g} s" if self.span_s < 60 else f"{self.span_s / 60:g} min"
        if self.anchor is None:
            state = "paused" if self.paused else "live"
        else:
            behind = self.now(clock_now) - self.anchor
            state = f"{behind:.0f} s ago" + (", paused" if self.paused else "")
        return f"{width} · {state}"


@dataclass(frozen=True)
class Axis:
    """Maps times in `[start, end)` to `cells` columns."""

    start: float
    end: float
    cells: int

    @property
    def step(self) -> float:
        """Seconds per cell."""
        return max(self.end - self.start, 1e-9) / max(self.cells, 1)

    def cell(self, t: float) -> int:
        """The column `t` falls in, clamped to the axis."""
        return min(self.cells - 1, max(0, math.floor((t - self.start) / self.step)))

    def covered(self, begin: float, finish: float) -> range:
        """The columns a span from `begin` to `finish` touches (a span of no length gets its column)."""
        if self.cells <= 0 or finish < self.start or begin >= self.end:
            return range(0)
        first = self.cell(begin)
        # A span ending exactly on a column's left edge does not reach into it.
        last = max(first, min(self.cells - 1, math.ceil((finish - self.start) / self.step) - 1))
        return range(first, last + 1)


def _raise(row: list[Cell], cells: range, state: Cell) -> None:
    for index in cells:
        if _RANK[row[index]] < _RANK[state]:
            row[index] = state


def invocation_cell(span: InvocationSpan) -> Cell:
    """How an invocation is drawn: `invoke` (synchronous), `async` (an event's first attempt), `retry`."""
    if span.attempt is None:
        return "invoke"
    return "async" if span.attempt <= 1 else "retry"


def environment_cells(environment: EnvironmentSpan, axis: Axis) -> list[Cell]:
    """One environment's row: not alive, idle, initialising, invoking (sync, async or a retry),
    failed, retired."""
    row: list[Cell] = ["dead"] * axis.cells
    alive_until = environment.retired_at if environment.retired_at is not None else axis.end
    _raise(row, axis.covered(environment.created_at, alive_until), "idle")
    if environment.init_start is not None:
        init_end = environment.init_end if environment.init_end is not None else alive_until
        _raise(row, axis.covered(environment.init_start, init_end), "init")
    for span in environment.invocations:
        # Still running: drawn up to now, or up to the retirement that cut it short.
        span_end = span.end if span.end is not None else alive_until
        cells = axis.covered(span.start, span_end)
        drawn = invocation_cell(span)
        _raise(row, cells, drawn)
        if span.failed and cells:
            row[cells[-1]] = "retry_failed" if drawn == "retry" else "error"
    if environment.retired_at is not None and axis.start <= environment.retired_at < axis.end:
        # The column after its last moment, so the end of its last invocation stays visible.
        index = axis.cell(environment.retired_at)
        if row[index] != "dead" and index + 1 < axis.cells:
            index += 1
        if row[index] in ("dead", "idle"):
            row[index] = "retired"
    return row


def has_async(snapshot: Snapshot) -> bool:
    """True when the window holds an asynchronous attempt (so the legend explains its marks)."""
    return any(span.attempt is not None for span in snapshot.invocations) or any(
        span.attempt is not None for environment in snapshot.environments for span in environment.invocations
    )


def throttle_counts(snapshot: Snapshot, axis: Axis) -> list[int]:
    """How many requests were throttled in each column."""
    counts = [0] * axis.cells
    for throttle in snapshot.throttles:
        if axis.start <= throttle.time < axis.end:
            counts[axis.cell(throttle.time)] += 1
    return counts


def concurrency_columns(snapshot: Snapshot, columns: int) -> list[int]:
    """The most invocations in flight in each of `columns` equal parts of the snapshot's window."""
    if columns <= 0:
        return []
    axis = Axis(snapshot.start, snapshot.end, columns)
    peaks = [0] * columns
    for slot_start, in_flight in snapshot.concurrency:
        slot_end = min(snapshot.end, slot_start + snapshot.resolution_s)
        for index in axis.covered(slot_start, slot_end):
            peaks[index] = max(peaks[index], in_flight)
    return peaks


def environment_label(environment: EnvironmentSpan, number: int) -> str:
    """`p1 prov` for a provisioned environment, `e3` for an on-demand one (`e3 v2` on version 2)."""
    if environment.init_type == "provisioned-concurrency":
        # Always on a published version; the title names the alias or version loads go to.
        return f"p{number} prov"
    label = f"e{number}"
    if environment.version != "$LATEST":
        label += f" v{environment.version}"
    return label


def axis_labels(start: float, end: float, cells: int) -> str:
    """The time axis: local clock times at round instants, `cells` columns wide.

    Each label starts at the column of its instant; steps are chosen so labels stay at least
    TICK_SPACING columns apart. Below a second per step, labels show tenths (`19:36.5`).
    """
    if cells <= 0:
        return ""
    axis = Axis(start, end, cells)
    step = next((s for s in TICK_STEPS_S if s / axis.step >= TICK_SPACING), TICK_STEPS_S[-1])
    line = [" "] * cells
    free_from = 0
    # Round instants in local time, so a 60 s step lands on whole minutes of the clock shown.
    offset = time.localtime(start).tm_gmtoff
    tick = math.ceil((start + offset) / step - 1e-9) * step - offset
    while tick < end:
        column = axis.cell(tick)
        # Rounded first: a tick summed up to 4.9999999 is labelled 5.0, not 4.0.
        tenths = round(tick * 10)
        if step >= 1:
            label = time.strftime("%H:%M:%S", time.localtime(round(tick)))
        else:
            label = time.strftime("%M:%S", time.localtime(tenths // 10)) + f".{tenths % 10}"
        if column >= free_from and column + len(label) <= cells:
            line[column : column + len(label)] = label
            free_from = column + len(label) + 2
        tick += step
    return "".join(line)
