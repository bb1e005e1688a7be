"""A timeline snapshot drawn as plain text: one row per environment, time running left to right.

For terminals and logs (`lambench bench`, tests, bug reports); the TUI draws its own widget from
the same snapshot.
"""

from __future__ import annotations

import math
import time

from lambench.core.timeline.spans import EnvironmentSpan, Snapshot

#: Characters for each state of a cell, in the unicode and the ASCII set.
UNICODE_CELLS = {"dead": " ", "idle": "·", "init": "░", "invoking": "█", "error": "x", "throttle": "!"}
ASCII_CELLS = {"dead": " ", "idle": ".", "init": "i", "invoking": "#", "error": "x", "throttle": "!"}

# A cell shows the most important thing that happened in it.
_DEAD, _IDLE, _INIT, _INVOKING, _ERROR = range(5)
_STATES = ("dead", "idle", "init", "invoking", "error")

#: Columns taken by a row's label and the space after it.
LABEL_WIDTH = 10
#: The narrowest drawing that still has a usable time axis.
MIN_WIDTH = LABEL_WIDTH + 10


class _Axis:
    """Maps times of the snapshot's window to cells."""

    def __init__(self, start: float, end: float, cells: int) -> None:
        self.start = start
        self.cells = cells
        # A window of no length still gets a drawable axis.
        self.step = max(end - start, 1e-9) / cells
        self.end = start + self.step * cells

    def cell(self, t: float) -> int:
        """The cell `t` falls in; times outside the window go to the nearest end."""
        return min(self.cells - 1, max(0, math.floor((t - self.start) / self.step)))

    def covered(self, begin: float, finish: float) -> range:
        """The cells a span from `begin` to `finish` touches; a span of no length gets its cell."""
        if finish < self.start or begin > self.end:
            return range(0)
        first = self.cell(begin)
        # A span ending exactly on a cell's left edge does not reach into that cell.
        last = max(first, min(self.cells - 1, math.ceil((finish - self.start) / self.step) - 1))
        return range(first, last + 1)

    def paint(self, row: list[int], begin: float, finish: float, state: int) -> None:
        """Raise the cells the span covers to `state`."""
        for index in self.covered(begin, finish):
            if row[index] < state:
                row[index] = state


def _label(environment: EnvironmentSpan, number: int) -> str:
    if environment.init_type == "provisioned-concurrency":
        text = f"p{number} prov"
    elif environment.init_type == "on-demand":
        text = f"e{number} cold"
    else:
        text = f"e{number}"
    return text[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH)


def _environment_row(environment: EnvironmentSpan, axis: _Axis) -> list[int]:
    row = [_DEAD] * axis.cells
    alive_until = environment.retired_at if environment.retired_at is not None else axis.end
    axis.paint(row, environment.created_at, alive_until, _IDLE)
    if environment.init_start is not None:
        init_end = environment.init_end if environment.init_end is not None else alive_until
        axis.paint(row, environment.init_start, init_end, _INIT)
    for span in environment.invocations:
        # A running invocation is drawn up to now, or up to the retirement that cut it short.
        span_end = span.end if span.end is not None else alive_until
        axis.paint(row, span.start, span_end, _INVOKING)
        cells = axis.covered(span.start, span_end)
        if span.failed and cells:
            row[cells[-1]] = _ERROR
    return row


def _header(snapshot: Snapshot, width: int) -> str:
    started = time.strftime("%H:%M:%S", time.localtime(snapshot.start))
    length = snapshot.end - snapshot.start
    lasted = f"+{length:.1f}s" if length < 100 else f"+{length:.0f}s"
    room = width - LABEL_WIDTH
    if len(started) + 1 + len(lasted) > room:
        return ("time".ljust(LABEL_WIDTH) + started)[:width]
    return "time".ljust(LABEL_WIDTH) + started + lasted.rjust(room - len(started))


def render_environments(
    snapshot: Snapshot, width: int = 80, ascii_only: bool = False, max_rows: int = 20
) -> list[str]:
    """The snapshot's environments as text lines, none wider than `width`.

    A header with the window's start (local time) and length, one row per environment (init,
    invoking, idle and not alive drawn differently, a failed invocation marked where it ended),
    a row marking the cells with throttles, and a legend. Past `max_rows` environments, the
    first `max_rows - 1` are drawn and a last line says how many more there are.
    """
    if width < MIN_WIDTH:
        raise ValueError(f"width must be at least {MIN_WIDTH}, not {width}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    chars = ASCII_CELLS if ascii_only else UNICODE_CELLS
    axis = _Axis(snapshot.start, snapshot.end, width - LABEL_WIDTH)
    lines = [_header(snapshot, width)]

    environments = snapshot.environments
    shown = environments if len(environments) <= max_rows else environments[: max_rows - 1]
    for number, environment in enumerate(shown, start=1):
        row = _environment_row(environment, axis)
        lines.append(_label(environment, number) + "".join(chars[_STATES[state]] for state in row))
    if len(shown) < len(environments):
        lines.append(f"... and {len(environments) - len(shown)} more environments"[:width])

    throttled = [False] * axis.cells
    for throttle in snapshot.throttles:
        if axis.start <= throttle.time <= axis.end:
            throttled[axis.cell(throttle.time)] = True
    marks = "".join(chars["throttle"] if hit else chars["dead"] for hit in throttled)
    lines.append("throttled".ljust(LABEL_WIDTH) + marks)

    legend = (
        f"{chars['init']} init  {chars['invoking']} invoking  {chars['idle']} idle  "
        f"{chars['error']} failed  {chars['throttle']} throttled"
    )
    lines.append(legend[:width])
    return lines
