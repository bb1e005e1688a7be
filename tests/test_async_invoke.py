"""Asynchronous invocation on the engine: retries, delays, event age, Lambda destinations, the journal.

Every test runs real runtime processes with `time_scale=0.01`: AWS's one- and two-minute retry
delays take 0.6 s and 1.2 s, a 60 s maximum event age 0.6 s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambench.core.runtime import errors
from lambench.core.runtime.async_config import AsyncConfig
from lambench.core.runtime.async_journal import AsyncJournal, PendingEvent, read_pending
from lambench.core.runtime.records import AsyncRecord, AsyncStep
from lambench.core.runtime.service import LocalLambda
from lambench.core.time_scale import TimeScaleError, time_scale
from tests.helpers import python_function, wait_for

SCALE = 0.01
ACCOUNT = "123456789012"

#: Appends one line per attempt (request id and time) to the file the event names, then fails,
#: sleeps past its timeout or answers, as the event asks.
ATTEMPTS = """
    import json, time

    def handler(event, context):
        with open(event["log"], "a") as out:
            out.write(json.dumps({"id": context.aws_request_id, "t": time.time()}) + "\\n")
        if event.get("fail"):
            raise ValueError("asked to fail")
        if event.get("hang"):
            time.sleep(30)
        return {"answer": 42}
"""

#: A destination function: keeps every record it receives.
RECORDER = """
    import json

    def handler(event, context):
        with open(__file__ + ".records", "a") as out:
            out.write(json.dumps(event) + "\\n")
"""


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


class Engine:
    """A LocalLambda with a worker, a destination recorder and the async records it published."""

    def __init__(self, tmp_path: Path, **options: Any) -> None:
        self.log = tmp_path / "attempts.jsonl"
        self.log.touch()
        self.service = LocalLambda(
            [
                python_function(tmp_path, ATTEMPTS, name="worker", timeout_s=1),
                python_function(tmp_path, RECORDER, name="recorder"),
            ],
            time_scale=SCALE,
            **options,
        )
        self.recorder_file = tmp_path / "recorder" / "app.py.records"
        self.records: list[AsyncRecord] = []
        self.service.subscribe(lambda r: self.records.append(r) if isinstance(r, AsyncRecord) else None)

    def event(self, **fields: Any) -> str:
        """Invoke the worker asynchronously; its request id."""
        result = self.service.invoke(
            "worker", json.dumps({"log": str(self.log), **fields}), invocation_type="Event"
        )
        assert result.status_code == 202 and result.payload == b""
        return result.request_id

    def attempts(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def delivered(self) -> list[dict[str, Any]]:
        if not self.recorder_file.exists():
            return []
        return [json.loads(line) for line in self.recorder_file.read_text().splitlines()]

    def steps(self, request_id: str) -> list[AsyncStep]:
        return [r.kind for r in list(self.records) if r.request_id == request_id]

    def settled(self, timeout: float = 20) -> bool:
        return wait_for(lambda: self.service.pending_events() == 0, timeout=timeout)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = Engine(tmp_path)
    yield built
    built.service.close()


def test_a_failing_event_is_tried_three_times_with_aws_delays_and_the_same_request_id(engine: Engine) -> None:
    request_id = engine.event(fail=True)
    assert engine.settled()
    attempts = engine.attempts()
    assert [a["id"] for a in attempts] == [request_id] * 3
    first_gap = attempts[1]["t"] - attempts[0]["t"]
    second_gap = attempts[2]["t"] - attempts[1]["t"]
    assert 60 * SCALE <= first_gap < 60 * SCALE + 0.5
    assert 120 * SCALE <= second_gap < 120 * SCALE + 0.5
    assert engine.steps(request_id) == [
        AsyncStep.ACCEPTED,
        AsyncStep.RETRY_SCHEDULED,
        AsyncStep.RETRY_SCHEDULED,
        AsyncStep.FAILED,
    ]
    retries = [r for r in engine.records if r.kind is AsyncStep.RETRY_SCHEDULED]
    # Figures stay in real Lambda seconds whatever the time scale.
    assert [(r.attempt, r.delay_s, r.error_type) for r in retries] == [
        (1, 60.0, "ValueError"),
        (2, 120.0, "ValueError"),
    ]
    failed = engine.records[-1]
    assert (failed.condition, failed.attempt) == ("RetriesExhausted", 3)
    assert (
        failed.summary()
        == f"async {request_id[:8]} worker: failed after 3 attempt(s): RetriesExhausted (ValueError)"
    )


def test_maximum_retry_attempts_zero_runs_once_and_reports_to_on_failure(engine: Engine) -> None:
    engine.service.put_event_invoke_config(
        "worker", AsyncConfig(maximum_retry_attempts=0, on_failure=lambda_arn("recorder"))
    )
    request_id = engine.event(fail=True)
    assert wait_for(lambda: len(engine.delivered()) == 1, timeout=15)
    assert len(engine.attempts()) == 1
    (record,) = engine.delivered()
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == len("2019-11-14T18:16:05.568Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": lambda_arn("worker") + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"log": str(engine.log), "fail": True}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "asked to fail"


def test_a_success_goes_to_on_success_without_function_error(engine: Engine) -> None:
    engine.service.put_event_invoke_config("worker", AsyncConfig(on_success=lambda_arn("recorder")))
    request_id = engine.event()
    assert wait_for(lambda: len(engine.delivered()) == 1, timeout=15)
    (record,) = engine.delivered()
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"answer": 42}
    assert AsyncStep.DELIVERED in engine.steps(request_id)


def test_a_timeout_is_a_function_error_and_is_retried(engine: Engine) -> None:
    engine.service.put_event_invoke_config("worker", AsyncConfig(maximum_retry_attempts=1))
    request_id = engine.event(hang=True)
    assert engine.settled(timeout=20)
    assert len(engine.attempts()) == 2
    retry = next(r for r in engine.records if r.kind is AsyncStep.RETRY_SCHEDULED)
    assert retry.error_type == "Sandbox.Timedout"
    assert engine.steps(request_id)[-1] is AsyncStep.FAILED


def test_a_throttled_event_is_retried_until_its_maximum_age(engine: Engine) -> None:
    engine.service.put_function_concurrency("worker", 1)
    engine.service.put_event_invoke_config(
        "worker", AsyncConfig(maximum_event_age_s=60, on_failure=lambda_arn("recorder"))
    )
    blocker = threading.Thread(
        target=engine.service.invoke, args=("worker", json.dumps({"log": str(engine.log), "hang": True}))
    )
    blocker.start()
    try:
        assert wait_for(lambda: len(engine.attempts()) == 1)
        request_id = engine.event()
        assert wait_for(lambda: len(engine.delivered()) == 1, timeout=15)
    finally:
        blocker.join(15)
    throttles = [r for r in engine.records if r.request_id == request_id and r.kind is AsyncStep.THROTTLED]
    assert len(throttles) >= 3
    assert [r.delay_s for r in throttles[:3]] == [1.0, 2.0, 4.0]  # doubling, in real seconds
    assert throttles[0].message == "ReservedFunctionConcurrentInvocationLimitExceeded"
    (record,) = engine.delivered()
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in record
    assert [a["id"] for a in engine.attempts()].count(request_id) == 0


def test_a_deleted_function_drops_its_queued_retry(engine: Engine) -> None:
    request_id = engine.event(fail=True)
    assert wait_for(lambda: AsyncStep.RETRY_SCHEDULED in engine.steps(request_id))
    engine.service.remove_function("worker")
    assert engine.settled()
    assert engine.steps(request_id)[-1] is AsyncStep.DROPPED


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        (
            {"maximum_retry_attempts": 3},
            errors.ValidationError,
            "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
            "Member must have value less than or equal to 2",
        ),
        (
            {"maximum_event_age_s": 59},
            errors.ValidationError,
            "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy "
            "constraint: Member must have value greater than or equal to 60",
        ),
        (
            {"on_success": "arn:aws:s3:::bucket"},
            errors.InvalidParameterValueError,
            "The destination ARN arn:aws:s3:::bucket is invalid: use an SQS queue, SNS topic, Lambda "
            "function or EventBridge event bus ARN",
        ),
        (
            {"dead_letter_arn": lambda_arn("recorder")},
            errors.InvalidParameterValueError,
            f"The provided target ARN {lambda_arn('recorder')} is invalid: a dead-letter queue is an SQS "
            "queue or an SNS topic",
        ),
    ],
)
def test_async_settings_are_validated_as_aws_words_it(
    settings: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error) as caught:
        AsyncConfig(**settings)
    assert caught.value.message == message  # type: ignore[attr-defined]


def test_the_time_scale_comes_from_the_environment_and_refuses_nonsense() -> None:
    assert time_scale({}) == 1.0
    assert time_scale({"LAMBENCH_TIME_SCALE": "0.01"}) == 0.01
    for bad in ("0", "-1", "fast", "nan", "inf"):
        with pytest.raises(
            TimeScaleError, match=r"LAMBENCH_TIME_SCALE=.* is not valid; use a positive number"
        ):
            time_scale({"LAMBENCH_TIME_SCALE": bad})


def test_a_durable_engine_leaves_unfinished_events_for_the_next_one(tmp_path: Path) -> None:
    queue = tmp_path / "async"
    first = Engine(tmp_path, async_dir=queue)
    try:
        done = first.event()
        waiting = first.event(fail=True)
        assert wait_for(lambda: AsyncStep.RETRY_SCHEDULED in first.steps(waiting))
        assert wait_for(lambda: AsyncStep.SUCCEEDED in first.steps(done))
    finally:
        first.service.close()
    (journal,) = queue.glob("*.jsonl")
    assert [e.request_id for e in read_pending([journal])] == [waiting]
    second = Engine(tmp_path, async_dir=queue)
    try:
        assert second.service.resume_pending_events() == 1
        assert second.settled()
        assert second.steps(waiting)[0] is AsyncStep.RESUMED
        assert second.steps(waiting)[-1] is AsyncStep.FAILED
        ids = [a["id"] for a in second.attempts()]
        assert ids.count(waiting) == 3 and ids.count(done) == 1  # two before the restart, one after
    finally:
        second.service.close()
    assert list(queue.glob("*.jsonl")) == []  # nothing pending: the journal is removed


def test_a_journal_held_by_a_live_owner_is_not_adopted(tmp_path: Path) -> None:
    owner = AsyncJournal(tmp_path)
    event = PendingEvent("id-1", "fn", None, lambda_arn("fn"), "Root=1", time.time(), b"{}")
    owner.accepted(event)
    other = AsyncJournal(tmp_path)
    try:
        assert other.adopt_orphans() == []
        owner.close()
        adopted = other.adopt_orphans()
        assert [e.request_id for e in adopted] == ["id-1"]
        assert [p.name for p in tmp_path.glob("*.jsonl")] == [other.path.name]
    finally:
        other.close()
    assert [e.request_id for e in read_pending(list(tmp_path.glob("*.jsonl")))] == ["id-1"]


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    journal = AsyncJournal(tmp_path)
    journal.accepted(PendingEvent("kept", "fn", None, lambda_arn("fn"), "Root=1", time.time(), b'{"a": 1}'))
    path = journal.path
    journal.close()
    with path.open("a") as out:
        out.write('{"op":"accept","id":"torn","fn":"fn"')  # a kill in the middle of a write
    (event,) = read_pending([path])
    assert (event.request_id, event.payload) == ("kept", b'{"a": 1}')


#: A lambench process accepting a burst of events (printing each request id once its 202 is
#: back), or, with "resume", the next process on the project finishing what the first left.
_BURST = """
import json, sys, time
from lambench.core.config import FunctionConfig
from lambench.core.runtime.service import LocalLambda

code_dir, queue, accepted, count, mode = sys.argv[1:6]
function = FunctionConfig.create(name="worker", handler="app.handler", code_dir=code_dir)
service = LocalLambda([function], async_dir=queue, time_scale=0.01)
if mode == "resume":
    print(service.resume_pending_events(), flush=True)
    deadline = time.monotonic() + 120
    while service.pending_events() and time.monotonic() < deadline:
        time.sleep(0.05)
    service.close()
    sys.exit(0)
with open(accepted, "a") as out:
    for n in range(int(count)):
        result = service.invoke("worker", json.dumps({"n": n}), invocation_type="Event")
        out.write(result.request_id + "\\n")
        out.flush()
time.sleep(120)  # killed long before
"""

#: Records each run (one write, O_APPEND) after a short piece of work.
_RUN_LOG = """
    import os, time

    def handler(event, context):
        time.sleep(0.01)
        path = os.path.join(os.path.dirname(__file__), "runs.log")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (context.aws_request_id + "\\n").encode())
        os.close(fd)
"""


def test_kill_9_mid_burst_loses_no_event_and_reruns_none_that_succeeded(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from lambench.core.runtime.async_journal import done_ids
    from tests.helpers import REPO, descendants, pid_alive

    config = python_function(tmp_path, _RUN_LOG, name="worker")
    runs, queue, accepted = config.code_dir / "runs.log", tmp_path / "async", tmp_path / "accepted.txt"
    argv = [sys.executable, "-c", _BURST, str(config.code_dir), str(queue), str(accepted), "1000"]
    first = subprocess.Popen([*argv, "burst"], cwd=REPO)
    runtimes: set[int] = set()
    try:
        # Kill it while it is still working through the burst.
        def mid_burst() -> bool:
            runtimes.update(descendants(first.pid))
            return runs.exists() and len(runs.read_text().splitlines()) >= 100

        assert wait_for(mid_burst, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    # Its runtime processes lose their Runtime API connection and exit on their own.
    assert wait_for(lambda: not any(pid_alive(pid) for pid in runtimes), timeout=15)
    for pid in runtimes:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    acknowledged = accepted.read_text().split()
    assert 100 <= len(acknowledged) <= 1000
    succeeded_before = set().union(*(done_ids(path) for path in queue.glob("*.jsonl")))
    ran_before = runs.read_text().split()
    assert succeeded_before and len(succeeded_before) < len(acknowledged)

    second = subprocess.run([*argv, "resume"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    # The kill may fall between an event's journal line and the caller writing its id down: that
    # one was accepted (202) but not acknowledged here, and runs too.
    resumed = int(second.stdout.split()[0])
    assert 0 <= resumed - (len(acknowledged) - len(succeeded_before)) <= 1
    ran = runs.read_text().split()
    assert set(acknowledged) <= set(ran)  # every accepted event ran
    assert len(set(ran) - set(acknowledged)) <= 1
    counts = {request_id: ran.count(request_id) for request_id in succeeded_before}
    assert set(counts.values()) == {1}  # none that had succeeded ran again
    # Only an event whose run was cut short by the kill may have run twice.
    assert len(ran) - len(set(ran)) <= len(set(ran_before) - succeeded_before)
    assert list(queue.glob("*.jsonl")) == []


def test_invoke_async_from_the_shell_leaves_its_retry_for_serve(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.helpers import REPO, copy_demo

    project = copy_demo(tmp_path)
    command = [sys.executable, "-m", "lambench", "invoke", "flaky", "--project", str(project), "--async"]
    done = subprocess.run(
        [*command, "--event-json", '{"fail": true}'],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "LAMBENCH_TIME_SCALE": "0.01"},
    )
    assert done.returncode == 0, done.stderr
    assert "lambench: accepted (202), request id " in done.stderr
    assert "FlakyError: simulated failure" in done.stderr
    assert "attempt 1 failed; retry in 60 s (FlakyError); the retry is kept in .lambench/async" in done.stderr
    (journal,) = (project / ".lambench" / "async").glob("*.jsonl")
    (waiting,) = read_pending([journal])
    assert (waiting.function, waiting.attempts) == ("flaky", 1)
    bad = subprocess.run(
        [*command, "--event-json", "{}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "LAMBENCH_TIME_SCALE": "fast"},
    )
    assert bad.returncode == 2
    assert bad.stderr == (
        "lambench: error: LAMBENCH_TIME_SCALE='fast' is not valid; use a positive number such as 1 or 0.01\n"
    )
