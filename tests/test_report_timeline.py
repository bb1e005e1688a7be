"""The timeline rebuilt from log lines matches the one the engine's records build."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

from lambench.core.logs.model import LogLine
from lambench.core.logs.parse import make_line
from lambench.core.logs.report_timeline import ReportTimeline, parse_stream
from lambench.core.runtime.records import LogRecord, Record
from lambench.core.runtime.service import LocalLambda
from lambench.core.timeline import InvocationSpan, Timeline
from tests.helpers import MIXED_HANDLER, python_function

ENV = "3893a7b7fac4485b47bb75b671a283c0"
STREAM = f"2026/11/22/[$LATEST]{ENV}"
RID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
RID2 = "9e8a2b3c-1111-4222-8333-444455556666"
T0 = 1_700_000_000.0


def fed(*lines: tuple[float, str], stream: str = STREAM, function: str = "fn") -> Timeline:
    timeline = Timeline()
    report = ReportTimeline(timeline)
    for time, text in lines:
        report.feed(make_line(function, stream, time, text))
    return timeline


def report_line(request_id: str, duration: float, *extra: str) -> str:
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration:.2f} ms",
        f"Billed Duration: {int(duration) + 1} ms",
        "Memory Size: 128 MB",
        "Max Memory Used: 40 MB",
        *extra,
    ]
    return "\t".join(fields) + "\t"


def test_engine_and_log_timelines_agree(tmp_path: Path) -> None:
    config = python_function(tmp_path, MIXED_HANDLER, timeout_s=1)
    engine_timeline = Timeline()
    lines: list[LogLine] = []
    lock = threading.Lock()

    def capture(record: Record) -> None:
        if isinstance(record, LogRecord):
            line = make_line(record.function, record.log_stream, record.time, record.message)
            with lock:
                lines.append(line)

    with LocalLambda([config]) as service:
        engine_timeline.attach(service)
        service.subscribe(capture)
        for wave in range(2):
            threads = [
                threading.Thread(
                    target=service.invoke, args=("fn", json.dumps({"sleep": 0.2 + i / 20}).encode())
                )
                for i in range(3)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            del wave
        assert service.invoke("fn", b'{"fail": true}').function_error == "Unhandled"
        assert service.invoke("fn", b"{}").function_error is None
        assert service.invoke("fn", b'{"hang": true}').figures.error_type == "Sandbox.Timedout"

    log_timeline = Timeline()
    report = ReportTimeline(log_timeline)
    for line in lines:
        report.feed(line)

    engine = {span.request_id: span for span in engine_timeline.invocations()}
    rebuilt = {span.request_id: span for span in log_timeline.invocations()}
    assert len(engine) == len(rebuilt) == 9
    assert set(engine) == set(rebuilt)
    for request_id, want in engine.items():
        got = rebuilt[request_id]
        assert got.environment_id == want.environment_id and got.version == want.version == "$LATEST"
        assert got.cold == want.cold
        assert want.duration_ms is not None and got.duration_ms is not None
        assert abs(got.duration_ms - want.duration_ms) <= 0.006
        assert got.billed_duration_ms == want.billed_duration_ms
        assert got.max_memory_mb == want.max_memory_mb and got.memory_size_mb == want.memory_size_mb == 128
        assert got.outcome == want.outcome and got.error_type == want.error_type
        assert (
            want.init_duration_ms is None or abs((got.init_duration_ms or 0) - want.init_duration_ms) <= 0.006
        )
        assert want.end is not None and got.end is not None
        assert abs(got.start - want.start) < 0.005 and abs(got.end - want.end) < 0.005
    outcomes = Counter(span.outcome for span in rebuilt.values())
    assert outcomes == {"success": 7, "error": 1, "timeout": 1}

    engine_summary, log_summary = engine_timeline.summary(), log_timeline.summary()
    assert log_summary.invocations == engine_summary.invocations == 9
    assert log_summary.cold_starts == engine_summary.cold_starts == 3
    assert log_summary.max_concurrency == engine_summary.max_concurrency == 3
    assert log_summary.environments_created == engine_summary.environments_created == 3
    assert log_summary.error_types == engine_summary.error_types
    assert abs(log_summary.gb_seconds - engine_summary.gb_seconds) < 1e-9

    engine_envs = {env.environment_id: env for env in engine_timeline.environments()}
    log_envs = {env.environment_id: env for env in log_timeline.environments()}
    assert set(engine_envs) == set(log_envs)
    for environment_id, want_env in engine_envs.items():
        got_env = log_envs[environment_id]
        assert got_env.invocation_count == want_env.invocation_count
        assert [span.cold for span in got_env.invocations] == [span.cold for span in want_env.invocations]
        assert want_env.init_duration_ms is not None and got_env.init_duration_ms is not None
        assert abs(got_env.init_duration_ms - want_env.init_duration_ms) <= 0.006
        assert got_env.init_status == "success"
        assert got_env.init_start is not None and want_env.init_start is not None
        assert abs(got_env.init_start - want_env.init_start) < 0.005
        assert abs(got_env.created_at - want_env.created_at) < 0.05


def only(timeline: Timeline) -> InvocationSpan:
    [span] = timeline.invocations()
    return span


def test_a_cold_invocation_from_its_text_lines() -> None:
    timeline = fed(
        (T0, "INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: arn:aws:lambda:x::runtime:ab"),
        (T0 + 0.120, f"START RequestId: {RID} Version: $LATEST"),
        (T0 + 0.121, "hello from the handler"),
        (T0 + 0.125, f"END RequestId: {RID}"),
        (T0 + 0.126, report_line(RID, 4.5, "Init Duration: 110.10 ms")),
    )
    span = only(timeline)
    assert span.cold and span.outcome == "success" and span.error_type is None
    assert span.start == T0 + 0.120 and span.end == T0 + 0.126
    assert span.duration_ms == 4.5 and span.billed_duration_ms == 5 and span.init_duration_ms == 110.10
    assert span.max_memory_mb == 40 and span.memory_size_mb == 128
    assert span.environment_id == ENV and span.version == "$LATEST" and span.function == "fn"
    [environment] = timeline.environments()
    assert environment.created_at == T0 and environment.init_start == T0
    assert environment.init_end == T0 + 0.120 and environment.init_duration_ms == 110.10
    assert environment.init_status == "success"


def test_a_report_alone_is_enough() -> None:
    timeline = fed((T0, report_line(RID, 250.0, "Init Duration: 100.00 ms")))
    span = only(timeline)
    assert span.cold and span.start == T0 - 0.25 and span.end == T0
    [environment] = timeline.environments()
    assert environment.created_at == T0 - 0.25
    assert environment.init_start == T0 - 0.35 and environment.init_end == T0 - 0.25


def test_warm_invocations_and_a_running_one() -> None:
    timeline = Timeline()
    report = ReportTimeline(timeline)
    report.feed(make_line("fn", STREAM, T0, report_line(RID, 10.0)))
    report.feed(make_line("fn", STREAM, T0 + 1, f"START RequestId: {RID2} Version: $LATEST"))
    first, running = timeline.invocations()
    assert not first.cold and first.outcome == "success"
    assert running.running and running.request_id == RID2 and running.start == T0 + 1
    assert timeline.summary().max_concurrency == 1


def test_timeout_and_error_reports() -> None:
    timeline = fed(
        (T0, report_line(RID, 3000.0, "Status: timeout")),
        (T0 + 5, report_line(RID2, 12.0, "Status: error", "Error Type: Runtime.OutOfMemory")),
    )
    timed_out, killed = timeline.invocations()
    assert timed_out.outcome == "timeout" and timed_out.error_type == "Sandbox.Timedout"
    assert killed.outcome == "oom" and killed.error_type == "Runtime.OutOfMemory"
    summary = timeline.summary()
    assert summary.timeouts == 1 and summary.ooms == 1 and summary.errors == 2


def test_a_handlers_own_error_from_the_runtimes_error_line() -> None:
    node_error = (
        f"2024-05-20T16:29:45.009Z\t{RID2}\tERROR\tInvoke Error \t"
        '{"errorType":"TypeError","errorMessage":"x is undefined","stack":["TypeError: x"]}'
    )
    timeline = fed(
        (T0, f"START RequestId: {RID} Version: $LATEST"),
        (T0 + 0.01, f"[ERROR]\t2024-01-01T12:00:00.123Z\t{RID}\ta logged error is not a failure"),
        (T0 + 0.02, "[ERROR] KeyError: 'name'\nTraceback (most recent call last):\n\u00a0\u00a0File x"),
        (T0 + 0.03, report_line(RID, 30.0)),
        (T0 + 1, f"START RequestId: {RID2} Version: $LATEST"),
        (T0 + 1.01, node_error),
        (T0 + 1.03, report_line(RID2, 30.0)),
        (T0 + 2, f"START RequestId: {RID} Version: $LATEST"),
        (T0 + 2.01, '{"level": "ERROR", "logger": "root", "errorType": "Handled", "stackTrace": []}'),
        (T0 + 2.02, report_line(RID, 20.0)),
        (T0 + 3, f"START RequestId: {RID2} Version: $LATEST"),
        (
            T0 + 3.01,
            '{"timestamp": "2026-11-22T04:22:52Z", "log_level": "ERROR", "errorMessage": "bad", '
            '"errorType": "RuntimeError", "requestId": "x", "stackTrace": []}',
        ),
        (T0 + 3.02, report_line(RID2, 20.0)),
    )
    outcomes = [(span.outcome, span.error_type) for span in timeline.invocations()]
    assert outcomes == [
        ("error", "KeyError"),
        ("error", "TypeError"),
        ("success", None),
        ("error", "RuntimeError"),
    ]


def test_a_report_with_an_xray_line_and_a_published_version() -> None:
    stream = f"2026/11/22/[7]{ENV}"
    text = (
        report_line(RID, 8.0)
        + "\nXRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5\tSampled: true"
    )
    span = only(fed((T0, text), stream=stream))
    assert span.version == "7" and span.environment_id == ENV and span.duration_ms == 8.0


def test_stream_names() -> None:
    assert parse_stream(STREAM) == ("$LATEST", ENV)
    assert parse_stream(f"2026/01/02/[12]{ENV}") == ("12", ENV)
    assert parse_stream("some-other-stream") == ("$LATEST", "some-other-stream")


def test_failed_init_from_init_report_lines() -> None:
    timeline = fed(
        (T0, "INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: arn"),
        (
            T0 + 0.2,
            "INIT_REPORT Init Duration: 150.79 ms\tPhase: init\tStatus: error\tError Type: Runtime.Unknown",
        ),
        (T0 + 0.3, f"START RequestId: {RID} Version: $LATEST"),
        (
            T0 + 0.5,
            "INIT_REPORT Init Duration: 180.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown",
        ),
        (T0 + 0.6, f"END RequestId: {RID}"),
        (T0 + 0.6, report_line(RID, 290.0, "Status: error", "Error Type: Runtime.Unknown")),
    )
    [environment] = timeline.environments()
    assert environment.init_status == "error" and environment.init_error_type == "Runtime.Unknown"
    assert environment.init_duration_ms == 150.79 and environment.init_end == T0 + 0.2
    assert environment.resets == 1
    span = only(timeline)
    assert span.cold and span.outcome == "error" and span.error_type == "Runtime.Unknown"


def json_platform(time: str, kind: str, record: dict[str, object]) -> str:
    return json.dumps({"time": time, "type": kind, "record": record}, separators=(",", ":"))


def test_json_platform_records() -> None:
    metrics = {"durationMs": 11.642, "billedDurationMs": 12, "memorySizeMB": 128, "maxMemoryUsedMB": 67}
    timeline = fed(
        (
            T0,
            json_platform(
                "2024-05-20T16:29:44.833Z",
                "platform.initStart",
                {"initializationType": "on-demand", "phase": "init", "functionName": "fn"},
            ),
        ),
        (
            T0 + 0.17,
            json_platform(
                "t",
                "platform.initReport",
                {"phase": "init", "status": "success", "metrics": {"durationMs": 173.778}},
            ),
        ),
        (T0 + 0.18, json_platform("t", "platform.start", {"requestId": RID, "version": "$LATEST"})),
        (
            T0 + 0.185,
            '{"timestamp":"2024-05-20T16:29:45.009Z","level":"INFO","requestId":"x","message":"hi"}',
        ),
        (
            T0 + 0.19,
            json_platform(
                "t",
                "platform.report",
                {"requestId": RID, "status": "success", "metrics": {**metrics, "initDurationMs": 174.055}},
            ),
        ),
        (T0 + 1.0, json_platform("t", "platform.start", {"requestId": RID2, "version": "$LATEST"})),
        (
            T0 + 4.0,
            json_platform(
                "t",
                "platform.report",
                {"requestId": RID2, "status": "timeout", "metrics": {"durationMs": 3000.0}},
            ),
        ),
    )
    cold, timed_out = timeline.invocations()
    assert (
        cold.cold and cold.start == T0 + 0.18 and cold.duration_ms == 11.642 and cold.billed_duration_ms == 12
    )
    assert cold.init_duration_ms == 174.055 and cold.max_memory_mb == 67 and cold.outcome == "success"
    assert cold.init_type == "on-demand"
    assert not timed_out.cold and timed_out.outcome == "timeout" and timed_out.billed_duration_ms is None
    [environment] = timeline.environments()
    assert environment.init_type == "on-demand" and environment.init_duration_ms == 173.778
    assert environment.init_end == T0 + 0.17


def test_a_provisioned_environment_starts_warm() -> None:
    metrics = {"durationMs": 2.0, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 50}
    timeline = fed(
        (T0, json_platform("t", "platform.initStart", {"initializationType": "provisioned-concurrency"})),
        (T0 + 60, json_platform("t", "platform.start", {"requestId": RID})),
        (
            T0 + 60.01,
            json_platform(
                "t",
                "platform.report",
                {
                    "requestId": RID,
                    "status": "error",
                    "errorType": "Boom",
                    "metrics": {**metrics, "initDurationMs": 90},
                },
            ),
        ),
    )
    span = only(timeline)
    assert not span.cold and span.init_type == "provisioned-concurrency"
    assert span.outcome == "error" and span.error_type == "Boom"


def test_streams_interleave_and_state_stays_bounded() -> None:
    timeline = Timeline()
    report = ReportTimeline(timeline, max_streams=5)
    for n in range(20):
        stream = f"2026/11/22/[$LATEST]{n:032x}"
        report.feed(make_line("fn", stream, T0 + n, f"START RequestId: {RID} Version: $LATEST"))
        report.feed(make_line("other", stream, T0 + n, report_line(RID2, 1.0)))
    assert len(report._streams) == 5
    assert timeline.summary(function="other").invocations == 20
    assert len(timeline.environments(function="fn")) == 20


def test_lines_that_say_nothing_only_create_the_environment() -> None:
    timeline = fed(
        (T0, "just a print"),
        (T0 + 1, "REPORT RequestId: not really a report"),
        (T0 + 2, '{"type": "platform.report", "record": "not a dict"}'),
        (T0 + 3, "{not json platform.start"),
    )
    assert timeline.invocations() == []
    [environment] = timeline.environments()
    assert environment.created_at == T0 and environment.init_start is None
