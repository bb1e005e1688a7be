"""The visualizer's widgets: the environment timeline, the concurrency chart, the figures, the load panel.

They draw what the screen hands them (a timeline `Snapshot`, a load's progress) and never read
the engine themselves. Colors come from component classes styled in `visualizer.tcss` with the
theme's variables; every state also has its own character, for monochrome terminals.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, ProgressBar, Static

from lambench.core.load import LoadProgress
from lambench.core.timeline.spans import Snapshot, Summary
from lambench.tui.visualizer.view import (
    Axis,
    Cell,
    axis_labels,
    concurrency_columns,
    environment_cells,
    environment_label,
    has_async,
    throttle_counts,
)

#: Columns taken by a row's label.
LABEL_WIDTH = 10
#: The character drawn for each state of a cell.
CELL_CHARS: dict[Cell, str] = {
    "dead": " ",
    "idle": "·",
    "init": "░",
    "invoke": "█",
    "async": "▓",
    "retry": "↻",
    "error": "✗",
    "retry_failed": "↻",
    "retired": "┤",
}
THROTTLE_CHAR = "!"
_BARS = " ▁▂▃▄▅▆▇█"


def _throttle_mark(count: int) -> str:
    """`!` for one throttled request in a column, the count up to 9, `+` beyond."""
    if count == 1:
        return THROTTLE_CHAR
    return str(count) if count < 10 else "+"


class TimelineChart(Widget, can_focus=True):
    """One row per execution environment, time running left to right, throttles on a row below."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--axis",
        "timeline--label",
        "timeline--provisioned",
        "timeline--idle",
        "timeline--init",
        "timeline--invoke",
        "timeline--async",
        "timeline--retry",
        "timeline--error",
        "timeline--retry_failed",
        "timeline--retired",
        "timeline--throttle",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: Snapshot | None = None
        #: Rows scrolled past from the top; None keeps the newest environments in view.
        self.row_offset: int | None = None
        # Environments keep their number for as long as the screen lives, wherever the window is.
        self._numbers: dict[str, int] = {}
        self.hint = "no environments here yet: b sends a burst"

    @property
    def cells(self) -> int:
        """Columns available for time."""
        return max(0, self.size.width - LABEL_WIDTH)

    def show(self, snapshot: Snapshot) -> None:
        """Draw this snapshot (called by the screen's clock)."""
        self.snapshot = snapshot
        for environment in snapshot.environments:
            if environment.environment_id not in self._numbers:
                self._numbers[environment.environment_id] = len(self._numbers) + 1
        self.refresh()

    def scroll_rows(self, delta: int) -> None:
        """Move the rows shown by `delta` environments (up is negative)."""
        total = len(self.snapshot.environments) if self.snapshot is not None else 0
        room = self._row_room()
        if total <= room:
            self.row_offset = None
            return
        top = self._top(total, room) + delta
        self.row_offset = None if top >= total - room else max(0, top)
        self.refresh()

    def _row_room(self) -> int:
        # The axis, the throttle row and the legend take three lines.
        return max(1, self.size.height - 3)

    def _top(self, total: int, room: int) -> int:
        if self.row_offset is None:
            return max(0, total - room)
        return min(self.row_offset, max(0, total - room))

    def row_texts(self) -> list[str]:
        """The drawing as plain lines (what a monochrome terminal shows)."""
        return [line.plain for line in self._lines()]

    def render(self) -> Text:
        return Text("\n").join(self._lines())

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"timeline--{name}", default=Style())

    def _lines(self) -> list[Text]:
        snapshot = self.snapshot
        cells = self.cells
        if snapshot is None or cells <= 0:
            return [Text("waiting for the clock...")]
        axis = Axis(snapshot.start, snapshot.end, cells)
        lines = [self._axis_line(snapshot, cells)]
        environments = snapshot.environments
        room = self._row_room()
        if not environments:
            lines.append(Text(self.hint[: self.size.width], style=self._style("label")))
        else:
            top = self._top(len(environments), room)
            shown = environments[top : top + room]
            hidden_above, hidden_below = top, len(environments) - top - len(shown)
            for index, environment in enumerate(shown):
                number = self._numbers.get(environment.environment_id, 0)
                label = environment_label(environment, number)
                if index == 0 and hidden_above:
                    label = f"↑{hidden_above} more"
                elif index == len(shown) - 1 and hidden_below:
                    label = f"↓{hidden_below} more"
                provisioned = environment.init_type == "provisioned-concurrency"
                line = Text(
                    label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH),
                    style=self._style("provisioned" if provisioned else "label"),
                )
                self._append_cells(line, environment_cells(environment, axis))
                lines.append(line)
        throttles = throttle_counts(snapshot, axis)
        line = Text("throttled".ljust(LABEL_WIDTH), style=self._style("label"))
        line.append(
            "".join(_throttle_mark(count) if count else " " for count in throttles),
            style=self._style("throttle"),
        )
        lines.append(line)
        lines.append(self._legend(has_async(snapshot)))
        return lines

    def _append_cells(self, line: Text, row: list[Cell]) -> None:
        # One styled run per stretch of equal cells keeps the Text small.
        start = 0
        for index in range(1, len(row) + 1):
            if index == len(row) or row[index] != row[start]:
                state = row[start]
                line.append(
                    CELL_CHARS[state] * (index - start),
                    style=self._style(state) if state != "dead" else None,
                )
                start = index

    def _axis_line(self, snapshot: Snapshot, cells: int) -> Text:
        return Text(
            " " * LABEL_WIDTH + axis_labels(snapshot.start, snapshot.end, cells), style=self._style("axis")
        )

    def _legend(self, with_async: bool = False) -> Text:
        legend = Text(" " * LABEL_WIDTH)
        items: tuple[tuple[Cell, str], ...] = (
            ("init", "init"),
            ("invoke", "invoke"),
            *((("async", "async"), ("retry", "retry")) if with_async else ()),
            ("idle", "idle"),
            ("error", "failed"),
            ("retired", "retired"),
        )
        for state, name in items:
            legend.append(CELL_CHARS[state], style=self._style(state))
            legend.append(f"{name} ", style=self._style("axis"))
        legend.append(THROTTLE_CHAR, style=self._style("throttle"))
        legend.append("throttled", style=self._style("axis"))
        legend.truncate(self.size.width)
        return legend


class ConcurrencyChart(Widget):
    """Invocations in flight over the window, as bars from zero up to the peak."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"concurrency--bar", "concurrency--empty"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: Snapshot | None = None

    def show(self, snapshot: Snapshot) -> None:
        """Draw this snapshot's concurrency series."""
        self.snapshot = snapshot
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if self.snapshot is None or width <= 0 or height <= 0:
            return Text("")
        values = concurrency_columns(self.snapshot, width)
        scale = max(max(values, default=0), 1)
        bar = self.get_component_rich_style("concurrency--bar", default=Style())
        empty = self.get_component_rich_style("concurrency--empty", default=Style())
        # Eighths of a row per column; anything in flight shows at least one eighth.
        eighths = [max(1, round(value / scale * height * 8)) if value else 0 for value in values]
        lines = []
        for row in reversed(range(height)):
            chars = "".join(_BARS[min(8, max(0, level - row * 8))] for level in eighths)
            if row == 0:
                # The baseline, so an idle window still reads as a chart.
                chars = "".join(char if char != " " else "▁" for char in chars)
                line = Text()
                for char, level in zip(chars, eighths, strict=True):
                    line.append(char, style=bar if level else empty)
            else:
                line = Text(chars, style=bar)
            lines.append(line)
        return Text("\n").join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def stats_text(
    summary: Summary, in_flight: int, live_environments: int, environments: int, *, live_known: bool = True
) -> Text:
    """The window's figures, one per line, for the side panel.

    `live_known` is False when environments are seen only through their logs, which never say
    when one is shut down: then they are counted as seen, not as live.
    """
    rows = [
        ("in flight", f"{in_flight} · peak {summary.max_concurrency}"),
        ("invocations", f"{summary.invocations:,}"),
        ("cold starts", f"{summary.cold_starts:,} ({summary.cold_ratio:.0%})"),
        ("p50", _ms(summary.p50_ms)),
        ("p95", _ms(summary.p95_ms)),
        ("p99", _ms(summary.p99_ms)),
        ("throttles", f"{summary.throttles:,}"),
        ("errors", f"{summary.errors:,}"),
        ("GB-seconds", f"{summary.gb_seconds:,.4f}"),
        ("cost", f"${summary.cost.total_usd:.7f}"),
        (
            "environments",
            f"{environments} · {live_environments} live" if live_known else f"{environments} seen",
        ),
    ]
    text = Text()
    for index, (label, value) in enumerate(rows):
        if index:
            text.append("\n")
        style = "bold" if label in ("throttles", "errors") and value != "0" else ""
        text.append(f"{label:<12} ", style="dim")
        text.append(value, style=style)
    return text


def progress_text(progress: LoadProgress, *, finished: bool) -> str:
    """`6/6 done · 2 ok · 4 throttled · 1.2 s`; errors and what is in flight only when there are any."""
    parts = [f"{progress.done:,}/{progress.planned:,}" + (" done" if finished else "")]
    parts.append(f"{progress.succeeded:,} ok")
    parts.append(f"{progress.throttled:,} throttled")
    errors = progress.function_errors + progress.failed
    if errors:
        parts.append(f"{errors:,} errors")
    if progress.in_flight:
        parts.append(f"{progress.in_flight:,} in flight")
    parts.append(f"{progress.elapsed_s:.1f} s")
    return " · ".join(parts)


class FieldInput(Input):
    """A field of the load panel: enter hands the keyboard back to the timeline at once.

    At once, not when the Submitted message is handled, so keys typed right after enter (a
    paste, a script driving the terminal) reach the timeline's bindings rather than the field.
    """

    async def action_submit(self) -> None:
        await super().action_submit()
        charts = self.screen.query(TimelineChart)
        self.screen.set_focus(charts.first() if charts else None)


class LoadPanel(Vertical):
    """How to load the function, its concurrency and memory settings, and the run's progress."""

    def __init__(self, *, reserved: str, provisioned: str, memory: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reserved = reserved
        self._provisioned = provisioned
        self._memory = memory

    def compose(self) -> ComposeResult:
        with Horizontal(classes="viz-row"):
            yield Label("N", classes="viz-label")
            yield FieldInput("20", id="viz-requests", type="integer", compact=True)
            yield Label("C", classes="viz-label")
            yield FieldInput("5", id="viz-concurrency", type="integer", compact=True)
            yield Label("rate", classes="viz-label")
            yield FieldInput("10", id="viz-rate", type="number", compact=True)
            yield Label("/s for", classes="viz-label")
            yield FieldInput("5", id="viz-seconds", type="number", compact=True)
            yield Label("s", classes="viz-label")
        with Horizontal(classes="viz-row"):
            yield Label("reserved", classes="viz-label")
            yield FieldInput(
                self._reserved, id="viz-reserved", type="integer", compact=True, placeholder="none"
            )
            yield Label("provisioned", classes="viz-label")
            yield FieldInput(
                self._provisioned, id="viz-provisioned", type="integer", compact=True, placeholder="0"
            )
            yield Label("memory", classes="viz-label")
            yield FieldInput(self._memory, id="viz-memory", type="integer", compact=True)
            yield Label("MB", classes="viz-label")
        with Horizontal(classes="viz-row"):
            yield ProgressBar(total=1, id="viz-progress", show_eta=False)
            yield Static("no load yet", id="viz-load-status")

    def field(self, name: str) -> Input:
        """The input named `requests`, `concurrency`, `rate`, `seconds`, `reserved`, ..."""
        return self.query_one(f"#viz-{name}", Input)

    def edit(self, name: str) -> None:
        """Put the keyboard in a field now (not on the next turn of the event loop)."""
        self.screen.set_focus(self.field(name))

    def show_progress(self, progress: LoadProgress, *, finished: bool) -> None:
        """Move the bar and the counts."""
        self.query_one(ProgressBar).update(total=max(1, progress.planned), progress=progress.done)
        self.query_one("#viz-load-status", Static).update(progress_text(progress, finished=finished))

    def show_status(self, text: str) -> None:
        """A line instead of the counts (a refused load)."""
        self.query_one("#viz-load-status", Static).update(text)
