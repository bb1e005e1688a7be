"""Feeding the invocation timeline: lifecycle and throttle records folded into bounded state.

`TimelineRecorder` holds the timeline's state and its one lock, and folds each record in as the
engine publishes it; `store.Timeline` adds the queries that read that state back as snapshots.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from lambench.core.runtime.figures import InvocationFigures
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, LogRecord, Record, ThrottleRecord
from lambench.core.timeline.aggregates import Series, Totals
from lambench.core.timeline.concurrency import Gauge
from lambench.core.timeline.environments import EnvironmentState, Running
from lambench.core.timeline.spans import (
    OUT_OF_MEMORY,
    InvocationSpan,
    Outcome,
)

TimelineRecord = Record


class LiveEnvironment(Protocol):
    """What `Timeline.adopt` needs of an environment that is already running (the engine's
    `EnvironmentInfo` has it)."""

    @property
    def id(self) -> str: ...

    @property
    def function(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def created_at(self) -> float: ...

    @property
    def init_type(self) -> str: ...


class RecordSource(Protocol):
    """Anything that publishes records to subscribers, such as the engine's service."""

    def subscribe(self, callback: Callable[[TimelineRecord], None]) -> Callable[[], None]:
        """Call `callback` with every record from now on; return a function that stops it."""
        ...


def _outcome(figures: InvocationFigures | None) -> Outcome:
    if figures is None:
        return "success"
    if figures.error_type == OUT_OF_MEMORY:
        return "oom"
    if figures.status == "timeout":
        return "timeout"
    if figures.status == "success":
        return "success"
    return "error"


class TimelineRecorder:
    """The timeline's state and the records that change it; `store.Timeline` is what to use.

    `feed` runs on the engine's invoking threads under the timeline's one lock, and returns in
    microseconds; detail beyond the bounds given to `Timeline` is dropped as it comes in.
    """

    def __init__(
        self,
        max_invocations: int = 10_000,
        max_environments: int = 2_000,
        max_throttles: int = 10_000,
        bucket_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (
            ("max_invocations", max_invocations),
            ("max_environments", max_environments),
            ("max_throttles", max_throttles),
            ("bucket_s", bucket_s),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
        self.max_invocations = max_invocations
        self.max_environments = max_environments
        self.max_throttles = max_throttles
        self.bucket_s = bucket_s
        self._clock = clock
        self._lock = threading.Lock()
        self._reset_state()

    def _reset_state(self) -> None:
        self._invocations: deque[InvocationSpan] = deque()
        self._throttles: deque[ThrottleRecord] = deque()
        self._environments: dict[str, EnvironmentState] = {}
        self._retired: deque[EnvironmentState] = deque()
        self._running: dict[str, EnvironmentState] = {}
        self._series: dict[tuple[str, str], Series] = {}
        self._gauges: dict[tuple[str | None, str | None], Gauge] = {}
        # Latest times among the records already dropped from detail: a window that starts after
        # them is still fully covered by the detailed records.
        self._dropped_start = -math.inf
        self._dropped_end = -math.inf
        self._dropped_throttle = -math.inf
        self._dropped_created = -math.inf
        self._first_time: float | None = None

    # -- feeding --------------------------------------------------------------------------------

    def attach(self, source: RecordSource) -> Callable[[], None]:
        """Subscribe to `source` (the engine's service); returns the function that unsubscribes."""
        return source.subscribe(self.feed)

    def adopt(self, environments: Iterable[LiveEnvironment]) -> None:
        """Environments that were live before the timeline attached (the engine's `environments()`).

        Each is drawn from its creation on, idle until its next invocation; what it did before the
        timeline attached is not known. One that the timeline has already seen is left as it is.
        """
        for environment in environments:
            self.feed(
                LifecycleRecord(
                    Lifecycle.ENVIRONMENT_CREATED,
                    environment.created_at,
                    environment.function,
                    environment.version,
                    environment.id,
                    init_type=environment.init_type,
                )
            )

    def feed(self, record: TimelineRecord) -> None:
        """Fold one record in; log records are ignored."""
        # Log lines are by far the commonest record and carry nothing the timeline needs.
        if isinstance(record, LogRecord):
            return
        with self._lock:
            if self._first_time is None or record.time < self._first_time:
                self._first_time = record.time
            if isinstance(record, LifecycleRecord):
                kind = record.kind
                if kind is Lifecycle.INVOKE_START:
                    self._invoke_start(record)
                elif kind is Lifecycle.INVOKE_END:
                    self._invoke_end(record)
                elif kind is Lifecycle.ENVIRONMENT_CREATED:
                    self._created(record)
                elif kind is Lifecycle.INIT_START:
                    self._init_start(record)
                elif kind is Lifecycle.INIT_END:
                    self._init_end(record)
                elif kind is Lifecycle.ENVIRONMENT_RETIRED:
                    self._retire(record)
                # ENVIRONMENT_RESET needs nothing: the init that follows it is counted as a reset.
            elif isinstance(record, ThrottleRecord):
                self._throttle(record)

    def _environment(self, record: LifecycleRecord) -> EnvironmentState:
        """The record's environment, about to change (so its frozen copy is stale)."""
        environment = self._environments.get(record.environment_id)
        if environment is None:
            # Attached after the environment was created: start it at the first record seen.
            environment = self._environments[record.environment_id] = EnvironmentState(record)
        environment.frozen_copy = None
        return environment

    def _bucket(self, function: str, version: str, t: float) -> Totals:
        key = (function, version)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series()
        return series.at(self._start_index(t))

    def _start_index(self, t: float) -> int:
        return int(t // self.bucket_s)

    def _end_index(self, t: float, start_index: int) -> int:
        # An invocation ending exactly on a bucket's edge was not in flight during that bucket.
        return max(start_index, math.ceil(t / self.bucket_s) - 1)

    def _move(self, function: str, version: str, index: int, delta: int) -> None:
        gauges = self._gauges
        # One gauge per way a query can be narrowed, so every scope's peak is exact.
        for key in ((function, version), (function, None), (None, version), (None, None)):
            gauge = gauges.get(key)
            if gauge is None:
                gauge = gauges[key] = Gauge()
            gauge.move(index, delta)

    def _created(self, record: LifecycleRecord) -> None:
        environment = self._environment(record)
        if environment.created_seen:
            return
        environment.created_seen = True
        environment.created_at = record.time
        if record.init_type is not None:
            environment.init_type = record.init_type
        if record.memory_size_mb is not None:
            environment.memory_size_mb = record.memory_size_mb
        if record.architecture is not None:
            environment.architecture = record.architecture
        self._bucket(record.function, record.version, record.time).environments_created += 1

    def _init_start(self, record: LifecycleRecord) -> None:
        environment = self._environment(record)
        if environment.init_start is None:
            environment.init_start = record.time
            if environment.init_type is None:
                environment.init_type = record.init_type
        else:
            environment.resets += 1

    def _init_end(self, record: LifecycleRecord) -> None:
        environment = self._environment(record)
        if environment.resets == 0 and environment.init_status is None:
            environment.init_end = record.time
            environment.init_duration_ms = record.duration_ms
            environment.init_status = record.status
            environment.init_error_type = record.error_type

    def _invoke_start(self, record: LifecycleRecord) -> None:
        environment = self._environment(record)
        if environment.running is not None:
            # The previous invocation's end never came: stop counting it as in flight.
            self._stop_running(environment, record.time)
        environment.running = Running(record.time, record.request_id, bool(record.cold), record.attempt)
        self._running[record.environment_id] = environment
        self._move(record.function, record.version, self._start_index(record.time), 1)

    def _stop_running(self, environment: EnvironmentState, t: float) -> None:
        running = environment.running
        assert running is not None
        environment.running = None
        self._running.pop(environment.environment_id, None)
        end_index = self._end_index(t, self._start_index(running.start))
        self._move(environment.function, environment.version, end_index, -1)

    def _invoke_end(self, record: LifecycleRecord) -> None:
        environment = self._environment(record)
        running = environment.running
        figures = record.figures
        duration_ms = figures.duration_ms if figures is not None else None
        attempt: int | None = None
        if running is not None:
            start = running.start
            attempt = running.attempt
            cold = running.cold or (figures is not None and figures.cold)
            self._stop_running(environment, record.time)
        else:
            # Its start came before the timeline was attached (or was cleared away).
            start = record.time - (duration_ms or 0.0) / 1000
            cold = figures is not None and figures.cold
            if not environment.created_seen:
                environment.created_at = min(environment.created_at, start)
        memory_size_mb = figures.memory_size_mb if figures is not None else None
        span = InvocationSpan(
            request_id=record.request_id,
            function=record.function,
            version=record.version,
            environment_id=record.environment_id,
            start=start,
            end=record.time,
            figures=figures,
            memory_size_mb=memory_size_mb if memory_size_mb is not None else environment.memory_size_mb,
            architecture=environment.architecture,
            cold=cold,
            init_type=environment.init_type,
            outcome=_outcome(figures),
            attempt=attempt,
        )
        environment.invocation_count += 1
        environment.spans.append(span)
        self._invocations.append(span)
        if len(self._invocations) > self.max_invocations:
            self._drop_invocation()
        # Counted in the bucket where it started, as the request it is.
        bucket = self._bucket(record.function, record.version, start)
        bucket.count(span)
        if duration_ms is not None:
            bucket.count_duration(duration_ms)

    def _drop_invocation(self) -> None:
        dropped = self._invocations.popleft()
        self._dropped_start = max(self._dropped_start, dropped.start)
        self._dropped_end = max(self._dropped_end, dropped.end if dropped.end is not None else dropped.start)
        environment = self._environments.get(dropped.environment_id)
        # Both deques are in the order fed, so the oldest overall is its environment's oldest.
        if environment is not None and environment.spans and environment.spans[0] is dropped:
            environment.spans.popleft()
            environment.frozen_copy = None

    def _retire(self, record: LifecycleRecord) -> None:
        environment = self._environments.get(record.environment_id)
        if environment is None or environment.retired_at is not None:
            return
        environment.retired_at = record.time
        environment.frozen_copy = None
        environment.retire_reason = record.reason
        # It stays findable by id: an invocation cut short by the shutdown may still end.
        self._retired.append(environment)
        if len(self._retired) > self.max_environments:
            dropped = self._retired.popleft()
            self._dropped_created = max(self._dropped_created, dropped.created_at)
            if self._environments.get(dropped.environment_id) is dropped:
                del self._environments[dropped.environment_id]
            if dropped.running is not None:
                # Its invocation will never be seen to end now: stop counting it as in flight.
                self._stop_running(dropped, record.time)

    def _throttle(self, record: ThrottleRecord) -> None:
        self._throttles.append(record)
        if len(self._throttles) > self.max_throttles:
            dropped = self._throttles.popleft()
            self._dropped_throttle = max(self._dropped_throttle, dropped.time)
        self._bucket(record.function, record.version, record.time).count_throttle(record.reason)
