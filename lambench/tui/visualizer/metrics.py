"""The visualizer's CloudWatch metrics panel, for a real account: what the account itself counted.

The timeline rebuilt from the log shows what the tail saw; the metrics are CloudWatch's own
count over the window, throttles included (a throttled request writes no log line). The panel
draws what the screen hands it and never calls AWS itself.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from lambench.core.backends.base import MetricsSummary


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _duration(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def metrics_rows(summary: MetricsSummary | None) -> list[list[tuple[str, str]]]:
    """(label, value) pairs, two rows of them; a figure CloudWatch did not return shows as `-`."""
    figures = summary or MetricsSummary("", 0.0, 0.0, 60, None, None, None, None, None, None)
    return [
        [
            ("invocations", _count(figures.invocations)),
            ("errors", _count(figures.errors)),
            ("throttles", _count(figures.throttles)),
        ],
        [
            ("duration p50", _duration(figures.duration_p50_ms)),
            ("p99", _duration(figures.duration_p99_ms)),
            ("peak concurrency", _count(figures.max_concurrent)),
        ],
    ]


class MetricsPanel(Widget):
    """Invocations, Errors, Throttles, Duration p50/p99 and peak ConcurrentExecutions of a window."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "metrics--label",
        "metrics--value",
        "metrics--note",
        "metrics--error",
    }

    def __init__(self, *, can_invoke: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_invoke = can_invoke
        #: The last metrics read, and when (seconds since the epoch).
        self.summary: MetricsSummary | None = None
        self.read_at: float | None = None
        #: The last read's failure, one line, until a read succeeds.
        self.error: str | None = None
        self.reading = True

    def show(self, summary: MetricsSummary, read_at: float) -> None:
        """Draw a fresh read."""
        self.summary, self.read_at, self.error, self.reading = summary, read_at, None, False
        self.refresh()

    def show_error(self, error: str) -> None:
        """Keep the last figures, and say why they could not be read again."""
        self.error, self.reading = error, False
        self.refresh()

    def text(self) -> str:
        """The panel as plain text (what a monochrome terminal shows)."""
        return self.render().plain

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"metrics--{name}", default=Style())

    def render(self) -> Text:
        lines = []
        for row in metrics_rows(self.summary):
            line = Text()
            for index, (label, value) in enumerate(row):
                line.append(("   " if index else "") + f"{label} ", style=self._style("label"))
                line.append(value, style=self._style("value"))
            lines.append(line)
        lines.append(self._note())
        return Text("\n").join(lines)

    def _note(self) -> Text:
        if self.error is not None:
            return Text(f"not read: {self.error}", style=self._style("error"))
        parts = []
        if self.reading:
            parts.append("reading CloudWatch...")
        elif self.summary is not None and self.read_at is not None:
            minutes = (self.summary.end - self.summary.start) / 60
            parts.append(f"read {time.strftime('%H:%M:%S', time.localtime(self.read_at))}")
            parts.append(f"last {minutes:.0f} min")
        parts.append("g reads again")
        parts.append("i invokes once" if self.can_invoke else "invoking needs --allow-invoke")
        return Text(" · ".join(parts), style=self._style("note"))
