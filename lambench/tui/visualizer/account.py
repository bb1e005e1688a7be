"""The visualizer's real-account mode, free of widgets: following a function's log into a timeline.

A real account shows lambench only its logs and its CloudWatch metrics. `follow_reports` tails
the function's log group and hands every line to a `ReportTimeline`, which turns START, REPORT
and the runtime's error lines into the lifecycle records the local engine publishes; the screen
then draws that timeline exactly as it draws the local one. It blocks, so the screen runs it in
a thread worker; notices (`reconnecting in 4 s: ...`) go to a callback.

When the tail cannot even start (the network is down, the caller is throttled), it is started
again with backoff, from the last line already shown, and lines seen at that instant are not fed
twice, so the timeline does not count an invocation twice across a reconnection.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from lambench.core.backends.base import Backend, BackendError
from lambench.core.logs.model import LogLine, LogQuery
from lambench.core.logs.report_timeline import ReportTimeline

#: How far back the visualizer's tail starts, so a wider zoom shows recent history at once.
HISTORY_S = 600.0
#: The window CloudWatch metrics are read over, at least (a wider zoom widens it).
METRICS_WINDOW_S = 600.0
#: One metrics point per minute: Lambda's standard resolution.
METRICS_PERIOD_S = 60
#: How often the metrics panel is refreshed on its own.
METRICS_EVERY_S = 30.0
MAX_BACKOFF_S = 30.0
#: Why the load and settings controls are off for a real account (shown on the screen).
NO_LOAD = "load and settings off: real traffic and bills on a real account"


def metrics_window_s(span_s: float) -> float:
    """The metrics window for a visualizer window of `span_s`: at least METRICS_WINDOW_S, in whole minutes."""
    return max(METRICS_WINDOW_S, math.ceil(span_s / 60) * 60)


def one_line(exc: BaseException) -> str:
    """What a worker's failure says to the user: the backend's own line, or the code and the message."""
    if isinstance(exc, BackendError):
        return exc.message
    code = getattr(exc, "error_code", None) or getattr(exc, "code", None)
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    return f"{code}: {text}" if code else text


class TailCursor:
    """Where a restarted tail resumes: the newest line's time, and what was seen at that instant."""

    def __init__(self, since: float) -> None:
        self.since = since
        self._at_since: set[tuple[str, str]] = set()

    def fresh(self, line: LogLine) -> bool:
        """True the first time a line is seen; moves the cursor forward."""
        if line.time < self.since:
            return False
        key = (line.stream, line.text)
        if line.time == self.since:
            if key in self._at_since:
                return False
            self._at_since.add(key)
            return True
        self.since = line.time
        self._at_since = {key}
        return True


def follow_reports(
    backend: Backend,
    function: str,
    since: float,
    stop: threading.Event,
    reports: ReportTimeline,
    notice: Callable[[str], object],
    *,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> int:
    """Follow `function`'s log from `since` into `reports` until `stop` is set; the lines fed.

    Retryable failures (throttling, the network) are reported through `notice` and retried with
    exponential backoff; any other `BackendError` (access denied, no such function) is raised.
    """
    cursor = TailCursor(since)
    fed = 0
    delay = 0.0
    while not stop.is_set():
        try:
            for batch in backend.tail(LogQuery(function=function, since=cursor.since, follow=True), stop):
                if batch.notice:
                    notice(batch.notice)
                for line in batch.lines:
                    if cursor.fresh(line):
                        reports.feed(line)
                        fed += 1
                if batch.lines:
                    delay = 0.0
                if stop.is_set():
                    return fed
        except BackendError as error:
            if not error.retryable:
                raise
            delay = min(max_backoff_s, delay * 2 if delay else 1.0)
            notice(f"reconnecting in {delay:g} s: {error.message}")
            stop.wait(delay)
            continue
        # A follow only ends when stopped; if a source ended anyway, start it again, not at once.
        stop.wait(1.0)
    return fed
