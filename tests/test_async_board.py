"""The async queue board: each accepted event's state as the engine moves it, and the panel's text.

The engine tests run real runtime processes at `time_scale=0.01` (AWS's one-minute retry delay
takes 0.6 s); the text tests build entries by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambench.core.runtime.async_board import AsyncBoard, AsyncEntry, AsyncQueueSnapshot
from lambench.core.runtime.async_config import AsyncConfig
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, Record
from lambench.core.runtime.service import LocalLambda
from lambench.core.timeline.store import Timeline
from lambench.tui.visualizer.async_queue import entry_line, queue_title
from tests.helpers import python_function, wait_for

SCALE = 0.01
FAILS_OR_ANSWERS = """
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("asked to fail")
        return {"ok": True}
"""
RECORDER = """
    def handler(event, context):
        return None
"""
RECORDER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:recorder"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LocalLambda]:
    built = LocalLambda(
        [
            python_function(tmp_path, FAILS_OR_ANSWERS, name="worker"),
            python_function(tmp_path, RECORDER, name="recorder"),
        ],
        time_scale=SCALE,
    )
    yield built
    built.close()


def entry(service: LocalLambda, request_id: str) -> AsyncEntry | None:
    return next((e for e in service.async_queue("worker").entries if e.request_id == request_id), None)


def test_a_failing_event_goes_queued_retrying_failed_and_its_attempts_are_numbered(
    service: LocalLambda,
) -> None:
    starts: list[LifecycleRecord] = []

    def keep(record: Record) -> None:
        if isinstance(record, LifecycleRecord) and record.kind is Lifecycle.INVOKE_START:
            starts.append(record)

    service.subscribe(keep)
    timeline = Timeline()
    timeline.attach(service)
    request_id = service.invoke("worker", json.dumps({"fail": True}), invocation_type="Event").request_id
    assert wait_for(lambda: (e := entry(service, request_id)) is not None and e.state == "retrying")
    retrying = entry(service, request_id)
    assert retrying is not None
    assert retrying.attempts == 1 and retrying.delay_s == 60.0 and retrying.error_type == "ValueError"
    assert retrying.next_at is not None and retrying.next_at > retrying.changed
    assert wait_for(lambda: service.pending_events() == 0, timeout=20)
    failed = entry(service, request_id)
    assert failed is not None and failed.state == "failed"
    assert (failed.attempts, failed.condition, failed.next_at) == (3, "RetriesExhausted", None)
    assert service.async_queue("worker").counts == {"failed": 1}
    assert service.async_queue("recorder").entries == ()
    # The same request id every time, numbered on the lifecycle record and on the timeline's spans.
    assert [(r.request_id, r.attempt) for r in starts] == [(request_id, n) for n in (1, 2, 3)]
    spans = timeline.invocations(function="worker")
    assert sorted(span.attempt or 0 for span in spans) == [1, 2, 3]
    sync = service.invoke("worker", "{}")
    assert sync.status_code == 200
    assert wait_for(lambda: len(timeline.invocations(function="worker")) == 4)
    assert [
        s.attempt for s in timeline.invocations(function="worker") if s.request_id == sync.request_id
    ] == [None]


def test_destinations_mark_delivered_and_dead_lettered(service: LocalLambda) -> None:
    service.put_event_invoke_config(
        "worker", AsyncConfig(maximum_retry_attempts=0, on_success=RECORDER_ARN, on_failure=RECORDER_ARN)
    )
    ok = service.invoke("worker", "{}", invocation_type="Event").request_id
    bad = service.invoke("worker", json.dumps({"fail": True}), invocation_type="Event").request_id

    def both_delivered() -> bool:
        first, second = entry(service, ok), entry(service, bad)
        return first is not None and second is not None and bool(first.destinations and second.destinations)

    assert wait_for(both_delivered, timeout=20)
    delivered, dead = entry(service, ok), entry(service, bad)
    assert delivered is not None and dead is not None
    assert (delivered.state, delivered.destinations) == ("delivered", (RECORDER_ARN,))
    assert (dead.state, dead.attempts, dead.condition) == ("dead-lettered", 1, "RetriesExhausted")
    assert service.async_queue("worker").counts == {"delivered": 1, "dead-lettered": 1}
    # The destination's own invocation is an async event of the recorder.
    assert wait_for(lambda: service.async_queue("recorder").counts.get("succeeded") == 2, timeout=20)


def test_a_throttle_does_not_count_as_an_attempt_and_unknown_ids_are_ignored() -> None:
    board = AsyncBoard(max_finished=2)
    board.queued("r1", "fn", 100.0, due=100.0, now=100.0)
    board.started("r1", 101.0)
    board.throttled(
        "r1", 101.5, due=102.5, delay_s=1.0, reason="ReservedFunctionConcurrentInvocationLimitExceeded"
    )
    (throttled,) = board.snapshot().entries
    assert (throttled.state, throttled.attempts, throttled.next_at) == ("throttled", 0, 102.5)
    board.started("nobody", 103.0)
    board.delivered("nobody", 103.0, RECORDER_ARN, dead_letter=False, problem=None)
    for n in range(3):
        board.queued(f"f{n}", "fn", 100.0, due=100.0, now=100.0)
        board.finished(f"f{n}", 104.0 + n, "succeeded", condition="Success")
    snapshot = board.snapshot()
    # Live first; of the finished only the newest two are kept, yet every one is counted.
    assert [e.request_id for e in snapshot.entries] == ["r1", "f2", "f1"]
    assert snapshot.counts == {"throttled": 1, "succeeded": 3}
    assert snapshot.live == 1


def test_the_panel_says_what_comes_next_in_real_lambda_seconds() -> None:
    at = 1_700_000_000.0
    retrying = AsyncEntry(
        "1f2e3d4c-aaaa", "fn", "retrying", at, 1, next_at=at + 0.6, delay_s=60.0, error_type="ValueError"
    )
    line = entry_line(retrying, at)
    assert line.startswith("retrying      1f2e3d4c  attempt 1 failed (ValueError) · retry after 60 s at ")
    dead = AsyncEntry(
        "0a0b0c0d-bbbb",
        "fn",
        "dead-lettered",
        at,
        3,
        condition="RetriesExhausted",
        error_type="ValueError",
        destinations=("arn:aws:sqs:us-east-1:123456789012:dlq",),
    )
    assert entry_line(dead, at) == "dead-lettered 0a0b0c0d  3 attempts · RetriesExhausted (ValueError) → dlq"
    running = AsyncEntry("99887766-cccc", "fn", "in flight", at, 2)
    assert entry_line(running, at) == "in flight     99887766  attempt 2 (retry)"
    snapshot = AsyncQueueSnapshot(counts={"in flight": 1, "dead-lettered": 1, "retrying": 1}, entries=())
    assert queue_title(snapshot) == "Async queue · 1 in flight · 1 retrying · 1 dead-lettered"
    assert queue_title(AsyncQueueSnapshot(counts={}, entries=())) == "Async queue · empty"
