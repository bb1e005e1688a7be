"""The invocation timeline, fed synthetic records at fixed times (no processes)."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

import pytest

from lambench.core.runtime.figures import InvocationFigures
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, LogRecord, ThrottleRecord
from lambench.core.timeline import (
    InvocationSpan,
    Snapshot,
    Timeline,
    TimelineRecord,
    render_environments,
    to_json,
    write_csv,
)
from lambench.core.timeline.export import CSV_TABLES, CsvTable
from lambench.core.timeline.histogram import RELATIVE_ERROR
from tests.helpers import REPO

T0 = 1_700_000_000.0
THROTTLE_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"


# -- records --------------------------------------------------------------------------------------


def created(
    env: str,
    t: float,
    *,
    function: str = "fn",
    version: str = "$LATEST",
    init_type: str = "on-demand",
    memory: int = 128,
    architecture: str = "x86_64",
) -> LifecycleRecord:
    return LifecycleRecord(
        Lifecycle.ENVIRONMENT_CREATED,
        T0 + t,
        function,
        version,
        env,
        init_type=init_type,
        memory_size_mb=memory,
        architecture=architecture,
    )


def init(
    env: str,
    start: float,
    end: float,
    *,
    function: str = "fn",
    version: str = "$LATEST",
    phase: str = "init",
    status: str = "success",
    error_type: str | None = None,
) -> list[LifecycleRecord]:
    return [
        LifecycleRecord(Lifecycle.INIT_START, T0 + start, function, version, env, phase=phase),
        LifecycleRecord(
            Lifecycle.INIT_END,
            T0 + end,
            function,
            version,
            env,
            phase=phase,
            duration_ms=(end - start) * 1000,
            status=status,
            error_type=error_type,
        ),
    ]


def invoke_start(
    env: str, t: float, request_id: str, *, cold: bool = False, function: str = "fn", version: str = "$LATEST"
) -> LifecycleRecord:
    return LifecycleRecord(
        Lifecycle.INVOKE_START, T0 + t, function, version, env, request_id=request_id, cold=cold
    )


def invoke_end(
    env: str,
    t: float,
    request_id: str,
    *,
    duration_ms: float,
    billed_ms: int | None = None,
    memory: int | None = 128,
    cold: bool = False,
    status: str | None = "success",
    error_type: str | None = None,
    function: str = "fn",
    version: str = "$LATEST",
) -> LifecycleRecord:
    return LifecycleRecord(
        Lifecycle.INVOKE_END,
        T0 + t,
        function,
        version,
        env,
        request_id=request_id,
        figures=InvocationFigures(
            duration_ms=duration_ms,
            billed_duration_ms=billed_ms if billed_ms is not None else math.ceil(duration_ms),
            memory_size_mb=memory,
            max_memory_used_mb=40,
            cold=cold,
            # A record without a status (an older producer) is counted as a success.
            status=status or "success",
            error_type=error_type,
        ),
    )


def invoke(
    env: str,
    start: float,
    end: float,
    request_id: str,
    *,
    duration_ms: float | None = None,
    billed_ms: int | None = None,
    memory: int = 128,
    cold: bool = False,
    status: str | None = "success",
    error_type: str | None = None,
    function: str = "fn",
    version: str = "$LATEST",
) -> list[LifecycleRecord]:
    """An INVOKE_START and INVOKE_END pair; the duration defaults to the span's length."""
    return [
        invoke_start(env, start, request_id, cold=cold, function=function, version=version),
        invoke_end(
            env,
            end,
            request_id,
            duration_ms=duration_ms if duration_ms is not None else (end - start) * 1000,
            billed_ms=billed_ms,
            memory=memory,
            cold=cold,
            status=status,
            error_type=error_type,
            function=function,
            version=version,
        ),
    ]


def retired(env: str, t: float, reason: str = "idle", *, function: str = "fn") -> LifecycleRecord:
    return LifecycleRecord(Lifecycle.ENVIRONMENT_RETIRED, T0 + t, function, "$LATEST", env, reason=reason)


def throttle(
    t: float, request_id: str, *, function: str = "fn", reason: str = THROTTLE_REASON
) -> ThrottleRecord:
    return ThrottleRecord(T0 + t, function, "$LATEST", None, request_id, reason)


def feed(timeline: Timeline, *groups: Iterable[TimelineRecord] | TimelineRecord) -> None:
    """Feed every record in time order, as the engine publishes them (ties keep their order)."""
    records: list[TimelineRecord] = []
    for group in groups:
        if not isinstance(group, Iterable):
            records.append(group)
        else:
            records.extend(group)
    for record in sorted(records, key=lambda r: r.time):
        timeline.feed(record)


def clock_at(t: float) -> Callable[[], float]:
    return lambda: T0 + t


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


# -- counts and outcomes --------------------------------------------------------------------------


def test_counts_cold_starts_and_environments() -> None:
    timeline = Timeline(clock=clock_at(100))
    feed(
        timeline,
        created("a", 0),
        init("a", 0, 0.5),
        invoke("a", 0.5, 1.0, "r1", cold=True),
        invoke("a", 2.0, 2.1, "r2"),
        invoke("a", 3.0, 3.2, "r3"),
        created("b", 2.5),
        init("b", 2.5, 2.9),
        invoke("b", 2.9, 3.1, "r4", cold=True),
        throttle(3.05, "t1"),
    )
    summary = timeline.summary()
    assert summary.invocations == 4
    assert summary.successes == 4
    assert summary.errors == 0
    assert summary.cold_starts == 2
    assert summary.cold_ratio == pytest.approx(0.5)
    assert summary.environments_created == 2
    assert summary.throttles == 1
    assert summary.max_concurrency == 2  # r3 and r4 overlap from 3.0 to 3.1
    assert summary.start == T0
    assert summary.end == T0 + 100
    assert summary.percentiles_exact

    # Windows count invocations by the time they started.
    later = timeline.summary(start=T0 + 2.0, end=T0 + 3.0)
    assert (later.invocations, later.cold_starts, later.environments_created) == (2, 1, 1)
    assert later.cold_ratio == pytest.approx(0.5)


def test_cold_ratio_is_zero_without_invocations() -> None:
    timeline = Timeline()
    summary = timeline.summary(start=T0, end=T0 + 10)
    assert summary.invocations == 0
    assert summary.cold_ratio == 0.0
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms, summary.max_duration_ms) == (None,) * 4
    assert summary.max_concurrency == 0


def test_outcomes_from_status_and_error_type() -> None:
    timeline = Timeline()
    feed(
        timeline,
        created("a", 0),
        invoke("a", 1, 2, "ok"),
        invoke("a", 3, 4, "err", status="error", error_type="ValueError"),
        invoke("a", 5, 8, "slow", status="timeout", error_type="Sandbox.Timedout"),
        invoke("a", 9, 10, "oom", status="error", error_type="Runtime.OutOfMemory"),
        invoke("a", 11, 12, "unknown", status=None),
    )
    spans = {span.request_id: span for span in timeline.invocations()}
    outcomes = {request_id: span.outcome for request_id, span in spans.items()}
    assert outcomes == {
        "ok": "success",
        "err": "error",
        "slow": "timeout",
        "oom": "oom",
        "unknown": "success",
    }
    assert spans["oom"].error_type == "Runtime.OutOfMemory"
    assert spans["oom"].failed and not spans["ok"].failed

    summary = timeline.summary()
    assert summary.invocations == 5
    assert summary.successes == 2
    # Errors counts every failed invocation, as CloudWatch does: successes + errors == invocations.
    assert summary.errors == 3
    assert summary.timeouts == 1
    assert summary.ooms == 1
    assert summary.error_types == {"ValueError": 1, "Sandbox.Timedout": 1, "Runtime.OutOfMemory": 1}


def test_invocation_spans_carry_the_report_and_the_environment() -> None:
    timeline = Timeline()
    feed(
        timeline,
        created("a", 0, memory=512, architecture="arm64"),
        init("a", 0, 0.25),
        invoke_start("a", 0.25, "r1", cold=True),
        invoke_end("a", 0.5, "r1", duration_ms=250.4, billed_ms=251, memory=512, cold=True),
    )
    (span,) = timeline.invocations()
    assert span == InvocationSpan(
        request_id="r1",
        function="fn",
        version="$LATEST",
        environment_id="a",
        start=T0 + 0.25,
        end=T0 + 0.5,
        figures=InvocationFigures(250.4, 251, 512, 40, cold=True),
        memory_size_mb=512,
        architecture="arm64",
        cold=True,
        init_type="on-demand",
        outcome="success",
    )
    assert span.duration_ms == 250.4 and span.billed_duration_ms == 251 and span.max_memory_mb == 40
    assert span.init_duration_ms is None and span.error_type is None
    assert not span.running


def test_environment_init_resets_and_retirement() -> None:
    timeline = Timeline()
    feed(
        timeline,
        created("a", 0),
        init("a", 0, 1, status="error", error_type="Runtime.ExitError"),
        LifecycleRecord(Lifecycle.ENVIRONMENT_RESET, T0 + 1.5, "fn", "$LATEST", "a", reason="init failed"),
        invoke_start("a", 2, "r1", cold=True),
        init("a", 2, 2.5, phase="invoke"),
        invoke_end("a", 3, "r1", duration_ms=1000, cold=True),
        retired("a", 10, "idle timeout"),
        created("p", 0, init_type="provisioned-concurrency"),
        init("p", 0, 0.3),
    )
    first, second = timeline.environments()
    assert first.environment_id == "a" and second.environment_id == "p"
    assert first.init_start == T0 and first.init_end == T0 + 1
    assert first.init_status == "error" and first.init_error_type == "Runtime.ExitError"
    assert first.resets == 1
    assert first.retired and first.retired_at == T0 + 10 and first.retire_reason == "idle timeout"
    assert [span.request_id for span in first.invocations] == ["r1"]
    assert first.invocation_count == 1
    assert second.init_type == "provisioned-concurrency"
    assert second.resets == 0 and second.init_status == "success"
    assert not second.retired

    # An environment retired before the window is not in it.
    assert [env.environment_id for env in timeline.environments(start=T0 + 11)] == ["p"]


def test_log_records_are_ignored() -> None:
    timeline = Timeline(clock=clock_at(5))
    timeline.feed(LogRecord(T0 + 1, "fn", "$LATEST", "a", "stream", "r1", "START RequestId: r1"))
    snapshot = timeline.snapshot()
    assert snapshot.summary.invocations == 0
    assert snapshot.environments == ()
    # Nothing was fed, so the window is just now.
    assert snapshot.start == snapshot.end == T0 + 5


def test_filters_by_function_and_version() -> None:
    timeline = Timeline()
    feed(
        timeline,
        created("a", 0, function="one"),
        created("b", 0, function="two", version="3"),
        invoke("a", 1, 3, "r1", function="one"),
        invoke("b", 2, 4, "r2", function="two", version="3"),
        throttle(2.5, "t1", function="two"),
    )
    assert timeline.summary(function="one").invocations == 1
    assert timeline.summary(function="two", version="3").invocations == 1
    assert timeline.summary(function="two", version="$LATEST").invocations == 0
    assert timeline.summary(version="3").invocations == 1
    assert timeline.summary().max_concurrency == 2
    assert timeline.summary(function="one").max_concurrency == 1
    assert [span.request_id for span in timeline.invocations(function="two")] == ["r2"]
    assert [env.environment_id for env in timeline.environments(function="one")] == ["a"]
    assert len(timeline.throttles(function="one")) == 0
    assert len(timeline.throttles(function="two")) == 1


def test_throttles_are_counted_and_not_billed() -> None:
    timeline = Timeline()
    feed(
        timeline,
        throttle(1, "t1"),
        throttle(2, "t2"),
        throttle(3, "t3", reason="ConcurrentInvocationLimitExceeded"),
    )
    summary = timeline.summary()
    assert summary.throttles == 3
    assert summary.throttle_reasons == {THROTTLE_REASON: 2, "ConcurrentInvocationLimitExceeded": 1}
    assert summary.invocations == 0
    assert summary.cost.requests == 0
    assert summary.cost.total_usd == 0.0
    assert [t.request_id for t in timeline.throttles()] == ["t1", "t2", "t3"]
    assert [t.request_id for t in timeline.throttles(start=T0 + 2, end=T0 + 3)] == ["t2"]


def test_billed_gb_seconds_and_cost_per_architecture() -> None:
    timeline = Timeline()
    records: list[LifecycleRecord] = [
        created("x", 0, memory=128),
        created("y", 0, memory=1024, architecture="arm64"),
    ]
    for i in range(1000):
        # 100 ms billed each; the REPORT's Duration is a little less.
        records += invoke("x", i, i + 0.1, f"x{i}", duration_ms=99.2, billed_ms=100)
    for i in range(10):
        records += invoke("y", 3 * i, 3 * i + 2, f"y{i}", duration_ms=1999.5, billed_ms=2000, memory=1024)
    feed(timeline, records)
    summary = timeline.summary()
    assert summary.cost.gb_seconds_x86 == pytest.approx(1000 * 0.0125)
    assert summary.cost.gb_seconds_arm == pytest.approx(10 * 2.0)
    assert summary.gb_seconds == pytest.approx(12.5 + 20.0)
    assert summary.cost.requests == 1010
    assert summary.cost.request_usd == pytest.approx(1010 * 0.0000002, rel=1e-12)
    assert summary.cost.duration_usd == pytest.approx(12.5 * 0.0000166667 + 20 * 0.0000133334, rel=1e-12)
    assert summary.cost.after_free_tier_usd == pytest.approx(0.0, abs=1e-15)


def test_billed_duration_falls_back_to_the_rounded_up_duration() -> None:
    timeline = Timeline()
    end = LifecycleRecord(
        Lifecycle.INVOKE_END,
        T0 + 1,
        "fn",
        "$LATEST",
        "a",
        request_id="r1",
        figures=InvocationFigures(1023.2, None, 1024, None),
    )
    feed(timeline, created("a", 0, memory=1024), invoke_start("a", 0, "r1"), end)
    assert timeline.summary().gb_seconds == pytest.approx(1.024)


# -- percentiles ------------------------------------------------------------------------------------


def test_exact_percentiles_are_nearest_rank() -> None:
    timeline = Timeline()
    records: list[LifecycleRecord] = [created("a", 0)]
    for i, ms in enumerate([10.0, 40.0, 20.0, 30.0]):
        records += invoke("a", i, i + 0.5, f"r{i}", duration_ms=ms)
    feed(timeline, records)
    summary = timeline.summary()
    assert summary.percentiles_exact
    # Nearest rank of 4 values: p50 is the 2nd (not the interpolated 25), p95 and p99 the 4th.
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms) == (20.0, 40.0, 40.0)
    assert summary.max_duration_ms == 40.0


def test_exact_percentiles_of_twenty_durations_in_any_order() -> None:
    durations = [float(ms) for ms in range(1, 21)]
    random.Random(7).shuffle(durations)
    timeline = Timeline()
    records: list[LifecycleRecord] = [created("a", 0)]
    for i, ms in enumerate(durations):
        records += invoke("a", i, i + 0.5, f"r{i}", duration_ms=ms)
    feed(timeline, records)
    summary = timeline.summary()
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms) == (10.0, 19.0, 20.0)


def test_histogram_percentiles_after_detail_is_dropped() -> None:
    rng = random.Random(42)
    durations = [math.exp(rng.uniform(math.log(0.5), math.log(30_000))) for _ in range(5000)]
    timeline = Timeline(max_invocations=100)
    records: list[LifecycleRecord] = [created("a", 0)]
    for i, ms in enumerate(durations):
        records += invoke("a", i * 0.05, i * 0.05 + 0.01, f"r{i}", duration_ms=ms)
    feed(timeline, records)
    assert len(timeline.invocations()) == 100

    summary = timeline.summary()
    assert summary.invocations == 5000
    assert not summary.percentiles_exact
    for p, estimate in ((50, summary.p50_ms), (95, summary.p95_ms), (99, summary.p99_ms)):
        exact = nearest_rank(durations, p)
        assert estimate is not None
        assert abs(estimate - exact) <= RELATIVE_ERROR * exact
    assert summary.max_duration_ms == max(durations)

    # A window that starts after everything dropped is still answered from the detail.
    recent = timeline.summary(start=T0 + 4950 * 0.05)
    assert recent.percentiles_exact
    assert recent.invocations == 50
    assert recent.p50_ms == nearest_rank(durations[4950:], 50)


def test_summaries_from_aggregates_match_those_from_detail() -> None:
    rng = random.Random(3)
    records: list[TimelineRecord] = []
    for env in range(20):
        environment = f"e{env}"
        arch = "arm64" if env % 2 else "x86_64"
        records.append(created(environment, env, memory=256, architecture=arch))
        records += init(environment, env, env + 0.2)
        t = env + 0.2
        for i in range(30):
            start = t + rng.uniform(0, 0.3)
            end = start + rng.uniform(0.01, 0.5)
            status, error = rng.choice(
                [("success", None), ("error", "Boom"), ("timeout", "Sandbox.Timedout")]
            )
            records += invoke(
                environment, start, end, f"{env}-{i}", cold=i == 0, status=status, error_type=error
            )
            t = end
        records.append(retired(environment, t + 1))
        records.append(throttle(env + 0.5, f"t{env}"))

    detailed = Timeline()
    squeezed = Timeline(max_invocations=10, max_environments=2, max_throttles=3)
    feed(detailed, records)
    feed(squeezed, records)
    assert len(squeezed.invocations()) == 10
    assert len(squeezed.environments()) == 2
    assert len(squeezed.throttles()) == 3

    # Whole buckets, so the aggregates cover exactly the window.
    for start, end in ((T0, T0 + 60), (T0 + 5, T0 + 12)):
        full = detailed.summary(start, end)
        rolled = squeezed.summary(start, end)
        assert full.percentiles_exact and not rolled.percentiles_exact
        for name in (
            "invocations",
            "successes",
            "errors",
            "error_types",
            "timeouts",
            "ooms",
            "throttles",
            "throttle_reasons",
            "cold_starts",
            "environments_created",
            "max_duration_ms",
            "max_concurrency",
        ):
            assert getattr(rolled, name) == getattr(full, name), name
        assert rolled.gb_seconds == pytest.approx(full.gb_seconds, rel=1e-12)
        assert rolled.cost.total_usd == pytest.approx(full.cost.total_usd, rel=1e-12)
        assert rolled.cost.gb_seconds_arm == pytest.approx(full.cost.gb_seconds_arm, rel=1e-12)
        assert full.p95_ms is not None and rolled.p95_ms is not None
        assert rolled.p95_ms == pytest.approx(full.p95_ms, rel=RELATIVE_ERROR)
    assert detailed.summary(T0 + 5, T0 + 12).invocations < detailed.summary(T0, T0 + 60).invocations


# -- concurrency ------------------------------------------------------------------------------------


def overlapping() -> list[LifecycleRecord]:
    # A [0, 3), B [1, 2), C [1.5, 4), D [5, 5.5), each in its own environment.
    return [
        *invoke("A", 0, 3, "a"),
        *invoke("B", 1, 2, "b"),
        *invoke("C", 1.5, 4, "c"),
        *invoke("D", 5, 5.5, "d"),
    ]


def test_concurrency_series_is_exact_for_overlapping_spans() -> None:
    timeline = Timeline()
    feed(timeline, overlapping())
    series = timeline.concurrency(T0, T0 + 6, 1.0)
    assert series == [(T0, 1), (T0 + 1, 3), (T0 + 2, 2), (T0 + 3, 1), (T0 + 4, 0), (T0 + 5, 1)]
    # Finer than the buckets: B ends at 2 and C starts at 1.5.
    assert [n for _, n in timeline.concurrency(T0 + 1, T0 + 2.5, 0.5)] == [2, 3, 2]
    assert timeline.concurrency(T0, T0 + 6, 6.0) == [(T0, 3)]
    assert timeline.summary(T0 + 4, T0 + 6).max_concurrency == 1


def test_back_to_back_invocations_do_not_overlap() -> None:
    timeline = Timeline()
    feed(timeline, invoke("a", 0, 1, "r1"), invoke("a", 1, 2, "r2"))
    assert timeline.concurrency(T0, T0 + 2, 2.0) == [(T0, 1)]


def test_concurrency_falls_back_to_bucket_peaks_when_detail_is_gone() -> None:
    timeline = Timeline(max_invocations=5)
    records = overlapping()
    # A long invocation with no record in the middle of its run, then later traffic.
    records += invoke("L", 10, 20, "long")
    for i in range(20):
        records += invoke("Z", 30 + i, 30.5 + i, f"z{i}")
    feed(timeline, records)
    assert len(timeline.invocations()) == 5
    old = timeline.concurrency(T0, T0 + 6, 1.0)
    assert old == [(T0, 1), (T0 + 1, 3), (T0 + 2, 2), (T0 + 3, 1), (T0 + 4, 0), (T0 + 5, 1)]
    # Buckets 11 to 19 saw no record but L was running all through them.
    assert [n for _, n in timeline.concurrency(T0 + 9, T0 + 22, 1.0)] == [0] + [1] * 10 + [0, 0]
    assert timeline.summary(T0, T0 + 6).max_concurrency == 3
    # Old slots from the buckets, recent ones (from 45 s, after the last dropped end) from detail.
    assert [n for _, n in timeline.concurrency(T0 + 28, T0 + 50, 1.0)] == [0, 0] + [1] * 20


def test_running_invocations_are_in_flight_up_to_the_end() -> None:
    timeline = Timeline(clock=clock_at(10))
    feed(timeline, created("a", 0), init("a", 0, 2), invoke_start("a", 2, "r1", cold=True))
    assert timeline.concurrency(T0, T0 + 5, 1.0) == [
        (T0, 0),
        (T0 + 1, 0),
        (T0 + 2, 1),
        (T0 + 3, 1),
        (T0 + 4, 1),
    ]

    snapshot = timeline.snapshot()
    assert (snapshot.start, snapshot.end) == (T0, T0 + 10)
    assert [n for _, n in snapshot.concurrency] == [0, 0] + [1] * 8
    (running,) = snapshot.invocations
    assert running.running and running.outcome is None and running.cold
    assert running.start == T0 + 2
    assert snapshot.environments[0].invocations == (running,)
    # It is not an invocation of the summary until it ends, but it is in flight.
    assert snapshot.summary.invocations == 0
    assert snapshot.summary.max_concurrency == 1

    feed(timeline, invoke_end("a", 4, "r1", duration_ms=2000, cold=True))
    (done,) = timeline.invocations()
    assert not done.running and done.end == T0 + 4 and done.outcome == "success"
    assert timeline.summary().invocations == 1
    assert [n for _, n in timeline.concurrency(T0, T0 + 6, 1.0)] == [0, 0, 1, 1, 0, 0]


def test_an_end_without_its_start_is_placed_by_its_duration() -> None:
    # Attached while the invocation was running: only its end arrives.
    timeline = Timeline()
    timeline.feed(invoke_end("a", 5, "r1", duration_ms=1500))
    (span,) = timeline.invocations()
    assert span.start == pytest.approx(T0 + 3.5)
    (environment,) = timeline.environments()
    assert environment.created_at == pytest.approx(T0 + 3.5)
    assert timeline.summary().invocations == 1
    assert all(n >= 0 for _, n in timeline.concurrency(T0, T0 + 6, 1.0))


def test_concurrency_rejects_a_bad_resolution() -> None:
    with pytest.raises(ValueError, match="resolution_s must be positive"):
        Timeline().concurrency(T0, T0 + 1, 0)


# -- bounds, threads, lifecycle ---------------------------------------------------------------------


def churn(invocations: int, per_environment: int) -> Iterator[TimelineRecord]:
    """A long run: environments that serve a few invocations each, and a throttle now and then."""
    t = 0.0
    env = ""
    for i in range(invocations):
        if i % per_environment == 0:
            if env:
                yield retired(env, t)
            env = f"e{i}"
            yield created(env, t)
        yield invoke_start(env, t, f"r{i}")
        t += 0.001
        yield invoke_end(env, t, f"r{i}", duration_ms=1.0)
        if i % 10 == 0:
            yield throttle(t, f"t{i}")


def test_memory_stays_bounded() -> None:
    timeline = Timeline(max_invocations=1000, max_environments=50, max_throttles=300)
    fed = 0
    for record in churn(100_000, per_environment=100):
        timeline.feed(record)
        fed += 1
    assert fed > 200_000
    environments = timeline.environments()
    assert len(timeline.invocations()) == 1000
    assert len([env for env in environments if env.retired]) == 50
    assert len([env for env in environments if not env.retired]) == 1
    assert sum(len(env.invocations) for env in environments) <= 1000
    assert len(timeline.throttles()) == 300
    # The aggregates still count everything.
    summary = timeline.summary()
    assert summary.invocations == 100_000
    assert summary.environments_created == 1000
    assert summary.throttles == 10_000
    assert summary.max_concurrency == 1


def test_feeding_from_many_threads() -> None:
    # Every invocation stays in detail, so the peak comes from the spans' times, not feed order.
    timeline = Timeline()
    threads_n, per_thread = 8, 1000
    snapshots: list[Snapshot] = []

    def invoker(number: int) -> None:
        env = f"e{number}"
        timeline.feed(created(env, 0))
        for i in range(per_thread):
            timeline.feed(invoke_start(env, i * 0.01, f"{number}-{i}"))
            timeline.feed(invoke_end(env, i * 0.01 + 0.005, f"{number}-{i}", duration_ms=5))

    def reader() -> None:
        # A bounded number: a reader that never let go of the lock would starve the invokers.
        for _ in range(40):
            snapshots.append(timeline.snapshot(T0, T0 + 10))

    threads = [threading.Thread(target=invoker, args=(n,)) for n in range(threads_n)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    watcher.join()
    summary = timeline.summary()
    assert summary.invocations == threads_n * per_thread
    # Invocation i of every thread runs over the same 5 ms.
    assert summary.max_concurrency == threads_n
    assert snapshots
    counts = [snapshot.summary.invocations for snapshot in snapshots]
    assert counts == sorted(counts)
    for snapshot in snapshots:
        # One lock for the whole snapshot: its summary and its spans agree.
        assert snapshot.summary.invocations == sum(not span.running for span in snapshot.invocations)


class FakeService:
    """Stands in for the engine's service: it hands records to its subscribers."""

    def __init__(self) -> None:
        self.subscribers: list[Callable[[TimelineRecord], None]] = []

    def subscribe(self, callback: Callable[[TimelineRecord], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def publish(self, records: Iterable[TimelineRecord]) -> None:
        for record in records:
            for subscriber in self.subscribers:
                subscriber(record)


def test_attach_subscribes_and_returns_the_unsubscribe() -> None:
    service = FakeService()
    timeline = Timeline()
    unsubscribe = timeline.attach(service)
    service.publish(invoke("a", 0, 1, "r1"))
    assert timeline.summary().invocations == 1
    unsubscribe()
    assert service.subscribers == []
    service.publish(invoke("a", 2, 3, "r2"))
    assert timeline.summary().invocations == 1


def test_clear_forgets_everything() -> None:
    timeline = Timeline(clock=clock_at(10))
    feed(timeline, created("a", 0), invoke("a", 1, 2, "r1"), invoke_start("a", 3, "r2"), throttle(4, "t"))
    timeline.clear()
    snapshot = timeline.snapshot()
    assert snapshot.summary.invocations == 0 and snapshot.summary.throttles == 0
    assert (snapshot.environments, snapshot.invocations, snapshot.throttles) == ((), (), ())
    # The invocation that was running when cleared ends without ever counting as in flight.
    feed(timeline, invoke_end("a", 5, "r2", duration_ms=2000))
    assert all(n >= 0 for _, n in timeline.concurrency(T0, T0 + 10, 1.0))
    assert timeline.summary().invocations == 1


def test_constructor_rejects_non_positive_bounds() -> None:
    with pytest.raises(ValueError, match="max_invocations must be positive"):
        Timeline(max_invocations=0)
    with pytest.raises(ValueError, match="bucket_s must be positive"):
        Timeline(bucket_s=0.0)


def test_snapshots_are_frozen_copies() -> None:
    timeline = Timeline(clock=clock_at(5))
    feed(timeline, created("a", 0), invoke("a", 1, 2, "r1", status="error", error_type="Boom"))
    snapshot = timeline.snapshot()
    with pytest.raises(AttributeError):
        snapshot.invocations[0].outcome = "success"  # type: ignore[misc]
    snapshot.summary.error_types["Boom"] = 99
    assert timeline.summary().error_types == {"Boom": 1}
    feed(timeline, invoke("a", 3, 4, "r2"))
    assert len(snapshot.invocations) == 1 and len(snapshot.environments[0].invocations) == 1


def test_the_timeline_never_imports_textual_or_rich() -> None:
    code = (
        "import sys, lambench.core.timeline, lambench.core.timeline.text, lambench.core.timeline.export\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


# -- export -----------------------------------------------------------------------------------------


def sample_snapshot() -> Snapshot:
    timeline = Timeline(clock=clock_at(12))
    feed(
        timeline,
        created("a", 0),
        init("a", 0, 1),
        invoke("a", 1, 2, "r1", cold=True),
        invoke("a", 3, 4, "r2", status="error", error_type="Boom"),
        created("b", 3, init_type="provisioned-concurrency", architecture="arm64"),
        init("b", 3, 3.5),
        invoke_start("b", 5, "r3"),
        retired("a", 9),
        throttle(6, "t1"),
    )
    return timeline.snapshot()


def test_json_export_round_trips() -> None:
    snapshot = sample_snapshot()
    data = to_json(snapshot)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["summary"]["invocations"] == 2
    assert data["summary"]["cost"]["requests"] == 2
    assert [inv["request_id"] for inv in data["invocations"]] == ["r1", "r2", "r3"]
    assert data["invocations"][2]["end"] is None
    assert [env["environment_id"] for env in data["environments"]] == ["a", "b"]
    assert [span["outcome"] for span in data["environments"][0]["invocations"]] == ["success", "error"]
    assert data["throttles"][0]["reason"] == THROTTLE_REASON
    assert len(data["concurrency"]) == 12
    assert max(point["in_flight"] for point in data["concurrency"]) == 1


@pytest.mark.parametrize("table", CSV_TABLES)
def test_csv_has_a_header_and_one_row_per_record(table: CsvTable) -> None:
    snapshot = sample_snapshot()
    out = io.StringIO(newline="")
    count = write_csv(snapshot, out, what=table)
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    expected = {
        "invocations": len(snapshot.invocations),
        "environments": len(snapshot.environments),
        "throttles": len(snapshot.throttles),
        "concurrency": len(snapshot.concurrency),
    }[table]
    assert count == expected > 0
    assert len(rows) == expected + 1
    header = rows[0]
    assert all(len(row) == len(header) for row in rows)
    if table == "invocations":
        assert header[:3] == ["request_id", "function", "version"]
        running = rows[-1][header.index("end")]
        assert running == ""
    if table == "environments":
        assert "invocations" not in header and "retire_reason" in header


def test_csv_rejects_an_unknown_table() -> None:
    with pytest.raises(ValueError, match="unknown table 'spans'"):
        write_csv(sample_snapshot(), io.StringIO(), what="spans")  # type: ignore[arg-type]


# -- text -------------------------------------------------------------------------------------------


def test_text_rendering_of_environments() -> None:
    lines = render_environments(sample_snapshot())
    assert all(len(line) <= 80 for line in lines)
    header, first, second, throttled, legend = lines
    assert header.startswith("time") and header.endswith("+12.0s")
    assert first.startswith("e1 cold ")
    assert second.startswith("p2 prov ")
    for char in "░█·x":
        assert char in first, char
    assert "x" not in second and "░" in second and "█" in second
    # Environment a is not alive after it retired at 9 s.
    assert first.endswith(" ")
    assert throttled.startswith("throttled") and throttled.count("!") == 1
    assert "░ init" in legend and "! throttled" in legend


def test_text_rendering_in_ascii() -> None:
    lines = render_environments(sample_snapshot(), width=60, ascii_only=True)
    assert all(line.isascii() and len(line) <= 60 for line in lines)
    body = lines[1]
    for char in "i#.x":
        assert char in body, char
    assert "!" in lines[3]


def test_text_cell_priority() -> None:
    timeline = Timeline()
    feed(timeline, created("a", 0), invoke("a", 0, 10, "r1"), invoke("a", 10, 10, "r2", status="error"))
    lines = render_environments(timeline.snapshot(T0, T0 + 10), width=30)
    row = lines[1][10:]
    # Invoking covers the whole window, so neither idle nor the init of nothing shows; the
    # failed empty invocation at the end marks the last cell.
    assert row == "█" * 19 + "x"


def test_text_rendering_says_how_many_environments_are_left_out() -> None:
    timeline = Timeline(clock=clock_at(30))
    feed(timeline, [created(f"e{i}", i) for i in range(25)])
    lines = render_environments(timeline.snapshot(), width=80, max_rows=20)
    assert lines[-3] == "... and 6 more environments"
    assert len(lines) == 1 + 19 + 1 + 2
    assert lines[19].startswith("e19 cold")
    assert all(len(line) <= 80 for line in lines)
    assert len(render_environments(timeline.snapshot(), max_rows=25)) == 1 + 25 + 2


def test_text_rendering_rejects_a_tiny_width() -> None:
    with pytest.raises(ValueError, match="width must be at least"):
        render_environments(sample_snapshot(), width=10)
