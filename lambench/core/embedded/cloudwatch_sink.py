"""Writing the engine's logs and metrics into the embedded account's CloudWatch, as AWS does.

Logs: group `/aws/lambda/<function>` (or the function's LoggingConfig.LogGroup), one stream per
environment named as lambda-facts §5.1, every platform line and output line its own event, in order.
Metrics: `Invocations`, `Errors`, `Duration`, `Throttles` and `ConcurrentExecutions` in namespace
`AWS/Lambda` with the `FunctionName` dimension.

The engine's threads only append to bounded buffers; one thread writes to moto, and only once the
account has started, so an invoke never waits for CloudWatch and a one-shot command never starts
moto for it. moto keeps every event in memory, so the sink deletes the oldest streams once it has
written `max_events`, keeping a long session bounded.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
from collections.abc import Callable
from typing import Any

from lambench.core.diagnostics import logger
from lambench.core.record import record
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, LogRecord, ThrottleRecord

#: PutLogEvents limits: 10,000 events and 1,048,576 bytes (26 bytes of overhead per event).
_MAX_BATCH_EVENTS = 10_000
_MAX_BATCH_BYTES = 1_048_576 - 64 * 1024
_EVENT_OVERHEAD = 26


@record
class _FunctionMetrics:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    # Duration as a statistic set: constant memory however long the account stays unstarted.
    duration_count: int = 0
    duration_sum: float = 0.0
    duration_min: float = math.inf
    duration_max: float = 0.0
    in_flight: int = 0
    peak: int = 0

    def add_duration(self, value: float) -> None:
        self.duration_count += 1
        self.duration_sum += value
        self.duration_min = min(self.duration_min, value)
        self.duration_max = max(self.duration_max, value)

    def has_data(self) -> bool:
        return bool(self.invocations or self.throttles or self.peak)


class CloudWatchSink:
    """Mirrors LocalLambda records into CloudWatch Logs and metrics of the embedded account.

    `subscriber` is given to `LocalLambda.subscribe`; `start(clients)` begins writing once moto is
    up (records published before that are kept, up to `max_buffered` lines); `close()` writes what
    is pending and stops the thread.
    """

    def __init__(
        self,
        log_group_of: Callable[[str], str],
        *,
        interval_s: float = 0.5,
        max_buffered: int = 20_000,
        max_events: int = 200_000,
    ) -> None:
        self._log_group_of = log_group_of
        self._interval_s = interval_s
        self._max_events = max_events
        self._lines: collections.deque[LogRecord] = collections.deque(maxlen=max_buffered)
        self._metrics: dict[str, _FunctionMetrics] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: Callable[[str], Any] | None = None
        # Streams by recency of writing, with how many events each holds.
        self._streams: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()
        self._groups: set[str] = set()
        self._written = 0
        self._flushed = threading.Condition()
        self._generation = 0

    # -- engine side: cheap and non-blocking ----------------------------------------------------

    def subscriber(self, record: object) -> None:
        """Take one engine record; called on the engine's threads."""
        if isinstance(record, LogRecord):
            self._lines.append(record)
            return
        if isinstance(record, LifecycleRecord):
            if record.kind is Lifecycle.INVOKE_START:
                with self._lock:
                    metrics = self._metrics.setdefault(record.function, _FunctionMetrics())
                    metrics.in_flight += 1
                    metrics.peak = max(metrics.peak, metrics.in_flight)
            elif record.kind is Lifecycle.INVOKE_END:
                with self._lock:
                    metrics = self._metrics.setdefault(record.function, _FunctionMetrics())
                    metrics.in_flight = max(0, metrics.in_flight - 1)
                    metrics.invocations += 1
                    figures = record.figures
                    if figures is not None and figures.failed:
                        metrics.errors += 1
                    if figures is not None:
                        metrics.add_duration(figures.duration_ms)
        elif isinstance(record, ThrottleRecord):
            with self._lock:
                self._metrics.setdefault(record.function, _FunctionMetrics()).throttles += 1

    # -- writer side ----------------------------------------------------------------------------

    def start(self, clients: Callable[[str], Any]) -> None:
        """Begin writing through `clients(service)` (boto3 clients on the embedded endpoint)."""
        self._clients = clients
        self._thread = threading.Thread(target=self._run, name="lambench-cloudwatch", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything published so far is written; False if the sink is not running."""
        if self._thread is None or not self._thread.is_alive():
            return False
        with self._flushed:
            target = self._generation + 2
            self._wake.set()
            return self._flushed.wait_for(lambda: self._generation >= target, timeout)

    def close(self) -> None:
        """Write what is pending and stop the writer thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                self._write_logs()
                self._write_metrics()
            except Exception:
                logger(__name__).exception("writing to the embedded CloudWatch failed")
            with self._flushed:
                self._generation += 1
                self._flushed.notify_all()
            if stopping:
                return
            self._wake.wait(self._interval_s)
            self._wake.clear()

    def _write_logs(self) -> None:
        assert self._clients is not None
        pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        while self._lines:
            try:
                record = self._lines.popleft()
            except IndexError:
                break
            key = (self._log_group_of(record.function), record.log_stream)
            pending.setdefault(key, []).append(
                {"timestamp": int(record.time * 1000), "message": record.message}
            )
        if not pending:
            return
        logs = self._clients("logs")
        for (group, stream), events in pending.items():
            self._ensure_stream(logs, group, stream)
            # One stream's events arrive in order from one environment; sort anyway, since
            # PutLogEvents refuses a batch that is not chronological.
            events.sort(key=lambda event: event["timestamp"])
            for batch in _batches(events):
                try:
                    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                except logs.exceptions.ResourceNotFoundException:
                    # The stream was pruned (or the account reset): make it again.
                    self._streams.pop((group, stream), None)
                    self._ensure_stream(logs, group, stream)
                    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                self._written += len(batch)
                self._streams[(group, stream)] = self._streams.get((group, stream), 0) + len(batch)
        self._prune(logs)

    def _ensure_stream(self, logs: Any, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            self._streams.move_to_end((group, stream))
            return
        if group not in self._groups:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
            self._groups.add(group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        self._streams[(group, stream)] = 0

    def _prune(self, logs: Any) -> None:
        # Drop the least recently written streams until moto holds well under the cap again.
        if self._written <= self._max_events:
            return
        while len(self._streams) > 1 and self._written > self._max_events * 0.8:
            (group, stream), count = self._streams.popitem(last=False)
            self._written -= count
            try:
                logs.delete_log_stream(logGroupName=group, logStreamName=stream)
            except Exception:  # pruning is best effort
                logger(__name__).debug("could not prune %s %s", group, stream)

    def _write_metrics(self) -> None:
        assert self._clients is not None
        with self._lock:
            ready = {name: metrics for name, metrics in self._metrics.items() if metrics.has_data()}
            for name, metrics in ready.items():
                self._metrics[name] = _FunctionMetrics(in_flight=metrics.in_flight)
        if not ready:
            return
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        data: list[dict[str, Any]] = []
        for name, metrics in ready.items():
            dimensions = [{"Name": "FunctionName", "Value": name}]

            def datum(
                metric: str, value: float, unit: str, dimensions: list[dict[str, str]] = dimensions
            ) -> None:
                data.append(
                    {
                        "MetricName": metric,
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": value,
                        "Unit": unit,
                    }
                )

            if metrics.invocations:
                datum("Invocations", metrics.invocations, "Count")
                datum("Errors", metrics.errors, "Count")
            if metrics.throttles:
                datum("Throttles", metrics.throttles, "Count")
            if metrics.peak:
                datum("ConcurrentExecutions", metrics.peak, "Count")
            if metrics.duration_count:
                data.append(
                    {
                        "MetricName": "Duration",
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "StatisticValues": {
                            "SampleCount": metrics.duration_count,
                            "Sum": metrics.duration_sum,
                            "Minimum": metrics.duration_min,
                            "Maximum": metrics.duration_max,
                        },
                        "Unit": "Milliseconds",
                    }
                )
        cloudwatch = self._clients("cloudwatch")
        for start in range(0, len(data), 500):
            cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data[start : start + 500])


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + _EVENT_OVERHEAD
        if current and (len(current) >= _MAX_BATCH_EVENTS or size + event_size > _MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(event)
        size += event_size
    if current:
        batches.append(current)
    return batches
