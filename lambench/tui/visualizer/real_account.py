"""`RealAccountMode`: the visualizer screen's side of a real account: its log tail, metrics, one invoke.

A mixin of `VisualizerScreen`. The blocking work (`account.follow_reports`, the metrics read,
the invoke) runs in thread workers that answer with typed messages; the handlers here, found by
Textual through the screen's MRO, show them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.screen import ModalScreen

from lambench.core.backends.base import MetricsSummary
from lambench.core.logs.report_timeline import ReportTimeline
from lambench.tui.session import Session
from lambench.tui.visualizer.account import METRICS_PERIOD_S, follow_reports, metrics_window_s, one_line
from lambench.tui.visualizer.messages import (
    VisualizerInvoked,
    VisualizerInvokeFailed,
    VisualizerMetricsFailed,
    VisualizerMetricsRead,
    VisualizerTailFailed,
    VisualizerTailNotice,
)
from lambench.tui.visualizer.metrics import MetricsPanel
from lambench.tui.visualizer.view import TimeWindow
from lambench.tui.visualizer.widgets import TimelineChart
from lambench.tui.widgets import status_line

INVOKE_OFF = "invoking is off for this account: start lambench with --allow-invoke"


class RealAccountMode(ModalScreen[None]):
    """Following a real account's log into the timeline, reading its metrics, invoking once."""

    session: Session
    function: str
    qualifier: str | None
    event: str
    window: TimeWindow
    _now: Callable[[], float]
    #: The last CloudWatch metrics read (real account only), and how many reads came back.
    metrics: MetricsSummary | None
    metrics_reads: int
    _metrics_error: str | None

    if TYPE_CHECKING:

        @property
        def target(self) -> str: ...

        def _view_changed(self) -> None: ...

    @work(thread=True, group="visualizer-tail", exit_on_error=False)
    def _follow_log(self, reports: ReportTimeline, since: float, stop: threading.Event) -> None:
        # The only thread that feeds `reports`; the clock reads the timeline under its lock.
        try:
            follow_reports(
                self.session.backend,
                self.function,
                since,
                stop,
                reports,
                lambda text: self.post_message(VisualizerTailNotice(text)),
            )
        except Exception as exc:  # shown to the user; what was drawn stays
            self.post_message(VisualizerTailFailed(one_line(exc)))

    def on_visualizer_tail_notice(self, message: VisualizerTailNotice) -> None:
        self.notify(message.text, title="visualizer log tail", severity="warning", timeout=6)

    def on_visualizer_tail_failed(self, message: VisualizerTailFailed) -> None:
        self.query_one(TimelineChart).hint = f"the log tail stopped: {message.error}"
        self._view_changed()
        self.notify(message.error, title="visualizer log tail stopped", severity="error", timeout=15)

    def action_read_metrics(self) -> None:
        """Read the function's CloudWatch metrics again (a real account)."""
        end = self._now()
        self._read_metrics(end - metrics_window_s(self.window.span_s), end)

    @work(thread=True, exclusive=True, group="visualizer-metrics", exit_on_error=False)
    def _read_metrics(self, start: float, end: float) -> None:
        try:
            summary = self.session.backend.metrics(self.function, start, end, METRICS_PERIOD_S)
        except Exception as exc:  # shown in the panel; the next read may work
            self.post_message(VisualizerMetricsFailed(one_line(exc)))
            return
        self.post_message(VisualizerMetricsRead(summary, end))

    def on_visualizer_metrics_read(self, message: VisualizerMetricsRead) -> None:
        self.metrics = message.summary
        self.metrics_reads += 1
        self._metrics_error = None
        self.query_one(MetricsPanel).show(message.summary, message.read_at)

    def on_visualizer_metrics_failed(self, message: VisualizerMetricsFailed) -> None:
        self.metrics_reads += 1
        self.query_one(MetricsPanel).show_error(message.error)
        if message.error != self._metrics_error:
            # Once per new reason: a read every 30 s must not bury the screen in toasts.
            self.notify(message.error, title="metrics not read", severity="error", timeout=8)
        self._metrics_error = message.error

    def action_invoke_account(self) -> None:
        """Invoke the function once in the account, when invoking is allowed."""
        if not self.session.backend.can_invoke:
            self.notify(INVOKE_OFF, severity="error")
            return
        self._invoke_once(self.event.encode(), self.qualifier)

    @work(thread=True, group="visualizer-invoke", exit_on_error=False)
    def _invoke_once(self, payload: bytes, qualifier: str | None) -> None:
        try:
            outcome = self.session.backend.invoke(self.function, payload, qualifier=qualifier)
        except Exception as exc:  # shown to the user; the screen stays usable
            self.post_message(VisualizerInvokeFailed(one_line(exc)))
            return
        self.post_message(VisualizerInvoked(outcome))

    def on_visualizer_invoked(self, message: VisualizerInvoked) -> None:
        failed = message.outcome.function_error is not None
        self.notify(
            str(status_line(self.target, message.outcome)),
            title="invoked: the timeline shows it once its log arrives",
            severity="warning" if failed else "information",
            timeout=5,
        )

    def on_visualizer_invoke_failed(self, message: VisualizerInvokeFailed) -> None:
        self.notify(message.error, title=f"{self.target} not invoked", severity="error")
