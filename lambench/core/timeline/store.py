"""The invocation timeline: what the engine's records say happened, kept in bounded memory.

The engine publishes lifecycle and throttle records on its invoking threads; `Timeline.feed`
folds each one in under a single lock and returns in microseconds. A UI reads it through
queries that hand back frozen snapshots (`lambench.core.timeline.spans`).

Detail is bounded: the most recent invocations, retired environments and throttles are kept as
records, and everything ever fed is also counted in per-bucket aggregates (one bucket per
`bucket_s` seconds and function version) with a log-spaced duration histogram, so counts, costs
and percentiles of any window survive after its detail is dropped. Those aggregates grow with
the length of the run, not with the number of invocations: a million invocations in ten minutes
take 600 buckets per function version.
"""

from __future__ import annotations

import bisect
import itertools
import math

from lambench.core.record import field, record
from lambench.core.runtime.records import ThrottleRecord
from lambench.core.timeline import histogram
from lambench.core.timeline.aggregates import Totals
from lambench.core.timeline.concurrency import sweep
from lambench.core.timeline.cost import compute_cost
from lambench.core.timeline.recording import LiveEnvironment, RecordSource, TimelineRecord, TimelineRecorder
from lambench.core.timeline.spans import (
    EnvironmentSpan,
    InvocationSpan,
    Snapshot,
    Summary,
)

__all__ = ["MAX_SLOTS", "LiveEnvironment", "RecordSource", "Timeline", "TimelineRecord"]

#: A snapshot's concurrency series has at most this many slots; longer windows get wider slots.
MAX_SLOTS = 1000

_PERCENTILES = (50.0, 95.0, 99.0)


def _covered(low: float, dropped: float) -> bool:
    """True if nothing dropped from detail can be at or after `low`."""
    return dropped == -math.inf or low > dropped


def _matches(function: str, version: str, want_function: str | None, want_version: str | None) -> bool:
    return (want_function is None or function == want_function) and (
        want_version is None or version == want_version
    )


class Timeline(TimelineRecorder):
    """Invocations, environments and throttles over time, fed by the engine's records.

    Thread-safe: `feed` runs on the engine's invoking threads and every query takes the same
    lock once. Query windows are `start <= t < end` in seconds since the epoch; a missing `start`
    means from the first record, a missing `end` means up to now. `function` and `version`
    narrow a query to one function and/or version.

    Memory stays bounded however many invocations are fed: at most `max_invocations` detailed
    invocations (the most recent), `max_environments` retired environments (live ones are always
    kept) and `max_throttles` throttles. The per-bucket aggregates (`bucket_s` seconds each) grow
    with the run's duration instead.
    """

    def clear(self) -> None:
        """Forget everything fed so far."""
        with self._lock:
            self._reset_state()

    # -- queries --------------------------------------------------------------------------------
    #
    # Each query copies what it needs under the lock (`_capture`: tuples of immutable records,
    # bucket totals, gauge peaks) and does the counting, sorting and sweeping after releasing it,
    # so a UI refreshing at 10 Hz holds up the invoking threads for as little as possible.

    def summary(
        self,
        start: float | None = None,
        end: float | None = None,
        function: str | None = None,
        version: str | None = None,
    ) -> Summary:
        """Counts, percentiles, peak concurrency and cost of the invocations started in the window."""
        with self._lock:
            capture = self._capture(start, end, function, version, None, summary=True)
        return _summarize(capture, max(_series(capture), default=0))

    def concurrency(
        self,
        start: float,
        end: float,
        resolution_s: float,
        function: str | None = None,
        version: str | None = None,
    ) -> list[tuple[float, int]]:
        """(slot start, most invocations in flight during the slot) for each slot of the window.

        Exact where the detailed invocations cover a slot; for slots older than that, the peak of
        the aggregate buckets overlapping it. Invocations still running count up to `end`.
        """
        if resolution_s <= 0:
            raise ValueError(f"resolution_s must be positive, not {resolution_s}")
        with self._lock:
            capture = self._capture(start, end, function, version, resolution_s)
        return _timed(capture, _series(capture))

    def environments(
        self,
        start: float | None = None,
        end: float | None = None,
        function: str | None = None,
        version: str | None = None,
    ) -> list[EnvironmentSpan]:
        """The kept environments alive at some time in the window, oldest first."""
        with self._lock:
            capture = self._capture(start, end, function, version, None, series=False)
        return capture.environments

    def invocations(
        self,
        start: float | None = None,
        end: float | None = None,
        function: str | None = None,
        version: str | None = None,
    ) -> list[InvocationSpan]:
        """The detailed invocations running at some time in the window (running ones too), oldest first."""
        with self._lock:
            capture = self._capture(start, end, function, version, None, series=False)
        return _invocations(capture)

    def throttles(
        self,
        start: float | None = None,
        end: float | None = None,
        function: str | None = None,
        version: str | None = None,
    ) -> list[ThrottleRecord]:
        """The detailed throttles in the window, oldest first."""
        with self._lock:
            capture = self._capture(start, end, function, version, None, series=False)
        return _throttles(capture)

    def snapshot(
        self,
        start: float | None = None,
        end: float | None = None,
        function: str | None = None,
        version: str | None = None,
        resolution_s: float | None = None,
    ) -> Snapshot:
        """All of the above for one window, consistent with each other: one lock, one `now`.

        The concurrency series has slots of `resolution_s` (default `bucket_s`), widened so there
        are at most MAX_SLOTS of them.
        """
        if resolution_s is not None and resolution_s <= 0:
            raise ValueError(f"resolution_s must be positive, not {resolution_s}")
        with self._lock:
            capture = self._capture(
                start, end, function, version, resolution_s or self.bucket_s, summary=True, capped=True
            )
        peaks = _series(capture)
        return Snapshot(
            start=capture.shown_start,
            end=capture.shown_end,
            resolution_s=capture.resolution,
            # The slots cover the window, so the window's peak is theirs.
            summary=_summarize(capture, max(peaks, default=0)),
            environments=tuple(capture.environments),
            invocations=tuple(_invocations(capture)),
            throttles=tuple(_throttles(capture)),
            concurrency=tuple(_timed(capture, peaks)),
        )

    # -- capturing (the lock is held) -----------------------------------------------------------

    def _capture(
        self,
        start: float | None,
        end: float | None,
        function: str | None,
        version: str | None,
        resolution: float | None,
        *,
        summary: bool = False,
        series: bool = True,
        capped: bool = False,
    ) -> _Capture:
        """Copy what a query of this window needs; `resolution` None means one slot for all of it."""
        now = self._clock()
        if start is not None:
            shown_start = start
        else:
            shown_start = self._first_time if self._first_time is not None else now
        shown_end = end if end is not None else max(now, shown_start)
        low = start if start is not None else -math.inf
        high = end if end is not None else math.inf
        capture = _Capture(
            low=low,
            high=high,
            shown_start=shown_start,
            shown_end=shown_end,
            function=function,
            version=version,
            spans=tuple(self._invocations),
            running=tuple(
                span
                for environment in self._running.values()
                if (span := environment.running_span()) is not None
            ),
            throttles=tuple(self._throttles),
            environments=self._environment_spans(low, high, function, version),
            exact_invocations=_covered(low, self._dropped_start),
            exact_throttles=_covered(low, self._dropped_throttle),
        )
        if series:
            self._capture_gauges(capture, resolution, capped)
        if summary:
            if _covered(low, self._dropped_created):
                capture.created = sum(
                    1
                    for environment in self._environments.values()
                    if environment.created_seen
                    and low <= environment.created_at < high
                    and _matches(environment.function, environment.version, function, version)
                )
            if not (capture.exact_invocations and capture.exact_throttles and capture.created is not None):
                capture.aggregate = self._aggregate(low, high, function, version)
        return capture

    def _capture_gauges(self, capture: _Capture, resolution: float | None, capped: bool) -> None:
        """Lay out the slots and answer from the gauges those that detail may no longer cover.

        `capped`: widen the slots so that there are at most MAX_SLOTS of them.
        """
        start, end = capture.shown_start, capture.shown_end
        if end <= start:
            # No time, no slots.
            capture.resolution = resolution or 0.0
            return
        if resolution is None:
            resolution = end - start
        if capped:
            resolution = max(resolution, (end - start) / MAX_SLOTS)
        slots = max(1, math.ceil((end - start) / resolution - 1e-9))
        capture.resolution = resolution
        capture.peaks = peaks = [0] * slots
        # A slot that starts after every dropped invocation ended is fully covered by detail.
        exact_from = next(
            (slot for slot in range(slots) if start + slot * resolution >= self._dropped_end), slots
        )
        capture.exact_from = exact_from
        gauge = self._gauges.get((capture.function, capture.version))
        if gauge is None:
            return
        for slot in range(exact_from):
            slot_start = start + slot * resolution
            slot_end = min(end, slot_start + resolution)
            first = math.floor(slot_start / self.bucket_s)
            peaks[slot] = gauge.peak(first, max(first, math.ceil(slot_end / self.bucket_s) - 1))

    def _aggregate(self, low: float, high: float, function: str | None, version: str | None) -> Totals:
        """The sum of the buckets touching the window, whole buckets at its edges."""
        first = math.floor(low / self.bucket_s) if low > -math.inf else None
        last = math.ceil(high / self.bucket_s) - 1 if high < math.inf else None
        total = Totals()
        for (series_function, series_version), series in self._series.items():
            if not _matches(series_function, series_version, function, version):
                continue
            order = series.order
            position = bisect.bisect_left(order, first) if first is not None else 0
            while position < len(order) and (last is None or order[position] <= last):
                total.merge(series.buckets[order[position]])
                position += 1
        return total

    def _environment_spans(
        self, low: float, high: float, function: str | None, version: str | None
    ) -> list[EnvironmentSpan]:
        chosen = [
            environment.frozen()
            for environment in self._environments.values()
            if environment.created_at < high
            and (environment.retired_at is None or environment.retired_at >= low)
            and _matches(environment.function, environment.version, function, version)
        ]
        chosen.sort(key=lambda environment: environment.created_at)
        return chosen


@record(slots=True)
class _Capture:
    """What one query needs, copied under the lock; the module functions below work on it."""

    low: float
    high: float
    shown_start: float
    shown_end: float
    function: str | None
    version: str | None
    spans: tuple[InvocationSpan, ...]
    running: tuple[InvocationSpan, ...]
    throttles: tuple[ThrottleRecord, ...]
    environments: list[EnvironmentSpan]
    exact_invocations: bool
    exact_throttles: bool
    # Environments created in the window, when detail still holds all of them.
    created: int | None = None
    aggregate: Totals | None = None
    resolution: float = 0.0
    peaks: list[int] = field(default_factory=list)
    exact_from: int = 0

    def matches(self, function: str, version: str) -> bool:
        """True if a record of this function version belongs to the query."""
        return _matches(function, version, self.function, self.version)


def _series(capture: _Capture) -> list[int]:
    """The peak of each slot: the gauges' answers, then an exact sweep over the detail."""
    peaks = list(capture.peaks)
    if capture.exact_from < len(peaks):
        spans = (
            span
            for span in itertools.chain(capture.spans, capture.running)
            if capture.matches(span.function, span.version)
        )
        sweep(peaks, capture.exact_from, capture.shown_start, capture.shown_end, capture.resolution, spans)
    return peaks


def _timed(capture: _Capture, peaks: list[int]) -> list[tuple[float, int]]:
    return [(capture.shown_start + slot * capture.resolution, peak) for slot, peak in enumerate(peaks)]


def _invocations(capture: _Capture) -> list[InvocationSpan]:
    low, high = capture.low, capture.high
    chosen = [
        span
        for span in itertools.chain(capture.spans, capture.running)
        if span.start < high
        and (span.end is None or span.end >= low)
        and capture.matches(span.function, span.version)
    ]
    chosen.sort(key=lambda span: span.start)
    return chosen


def _throttles(capture: _Capture) -> list[ThrottleRecord]:
    low, high = capture.low, capture.high
    return [
        throttle
        for throttle in capture.throttles
        if low <= throttle.time < high and capture.matches(throttle.function, throttle.version)
    ]


def _summarize(capture: _Capture, peak: int) -> Summary:
    low, high = capture.low, capture.high
    aggregate = capture.aggregate
    if capture.exact_invocations:
        totals = Totals()
        durations: list[float] = []
        for span in capture.spans:
            if low <= span.start < high and capture.matches(span.function, span.version):
                totals.count(span)
                if span.duration_ms is not None:
                    durations.append(span.duration_ms)
        durations.sort()
        percentiles = histogram.nearest_rank(durations, _PERCENTILES)
        max_duration = durations[-1] if durations else None
    else:
        assert aggregate is not None
        totals = aggregate
        percentiles = histogram.histogram_percentiles(aggregate.durations, _PERCENTILES)
        max_duration = aggregate.max_duration_ms

    if capture.exact_throttles:
        throttle_reasons: dict[str, int] = {}
        for throttle in _throttles(capture):
            throttle_reasons[throttle.reason] = throttle_reasons.get(throttle.reason, 0) + 1
    else:
        assert aggregate is not None
        throttle_reasons = dict(aggregate.throttles)

    if capture.created is not None:
        created = capture.created
    else:
        assert aggregate is not None
        created = aggregate.environments_created

    p50, p95, p99 = percentiles
    return Summary(
        start=capture.shown_start,
        end=capture.shown_end,
        invocations=totals.invocations,
        successes=totals.successes,
        errors=totals.errors,
        error_types=dict(totals.error_types),
        timeouts=totals.timeouts,
        ooms=totals.ooms,
        throttles=sum(throttle_reasons.values()),
        throttle_reasons=throttle_reasons,
        cold_starts=totals.cold,
        cold_ratio=totals.cold / totals.invocations if totals.invocations else 0.0,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_duration_ms=max_duration,
        max_concurrency=peak,
        environments_created=created,
        gb_seconds=totals.gb_x86 + totals.gb_arm,
        cost=compute_cost(totals.invocations, totals.gb_x86, totals.gb_arm),
        percentiles_exact=capture.exact_invocations or totals.invocations == 0,
    )
