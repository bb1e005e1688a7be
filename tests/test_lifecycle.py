"""The execution model: timeouts, resets, out-of-memory kills, crashes, limits and concurrency."""

from __future__ import annotations

import itertools
import json
import re
import threading
from pathlib import Path

import pytest

from lambench.core.runtime import environment, errors
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, LogRecord, Record
from lambench.core.runtime.service import LocalLambda
from tests.helpers import pid_alive, python_function, wait_for

STATEFUL = """
    import os, time
    counter = 0

    def handler(event, context):
        global counter
        counter += 1
        path = os.path.join(os.environ["TMPDIR"], "marker")
        if event.get("write"):
            with open(path, "w") as f:
                f.write("kept")
        seen = open(path).read() if os.path.exists(path) else None
        if event.get("sleep"):
            time.sleep(event["sleep"])
        return {"counter": counter, "marker": seen, "pid": os.getpid()}
"""


# Allocates event["mb"] megabytes and touches every page, so they are resident; freed on return.
ALLOCATE = """
    def handler(event, context):
        block = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        return len(block)
"""


def test_timeout_resets_environment_keeping_tmp(tmp_path: Path) -> None:
    config = python_function(tmp_path, STATEFUL, timeout_s=1)
    with LocalLambda([config]) as service:
        first = service.invoke("fn", b'{"write": true}').payload_json()
        assert first["counter"] == 1 and first["marker"] == "kept"
        timed_out = service.invoke("fn", b'{"sleep": 5}')
        assert timed_out.function_error == "Unhandled"
        assert json.loads(timed_out.payload) == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds",
        }
        lines = timed_out.logs.splitlines()
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
            + timed_out.request_id
            + r" Task timed out after 1\.00 seconds",
            lines[-3],
        )
        assert lines[-2] == f"END RequestId: {timed_out.request_id}"
        assert re.fullmatch(
            rf"REPORT RequestId: {timed_out.request_id}\tDuration: 1000\.00 ms\tBilled Duration: 1000 ms\t"
            r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tStatus: timeout\t",
            lines[-1],
        )
        assert not pid_alive(first["pid"])
        after = service.invoke("fn", b"{}")
        state = after.payload_json()
        # Same environment, new runtime: globals are gone, /tmp is not.
        assert after.figures.cold is True and after.environment_id == timed_out.environment_id
        assert state["counter"] == 1 and state["marker"] == "kept"
        assert after.logs.startswith(f"START RequestId: {after.request_id} Version: $LATEST\n")
        assert "INIT_START" not in after.logs
        assert after.figures.init_duration_ms is None
        warm = service.invoke("fn", b"{}")
        assert warm.figures.cold is False and warm.payload_json()["counter"] == 2


def test_out_of_memory_while_growing_is_killed_at_the_limit(tmp_path: Path) -> None:
    code = """
        import time
        hoard = []

        def handler(event, context):
            for _ in range(60):
                hoard.append(bytearray(10 * 1024 * 1024))
                time.sleep(0.01)
            time.sleep(2)
            return "survived"
    """
    config = python_function(tmp_path, code, memory_mb=128, timeout_s=10)
    with LocalLambda([config]) as service:
        result = service.invoke("fn", b"{}")
        assert result.function_error == "Unhandled"
        assert json.loads(result.payload) == {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {result.request_id} Error: "
            "Runtime exited with error: signal: killed",
        }
        assert re.fullmatch(
            rf"REPORT RequestId: {result.request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
            r"Memory Size: 128 MB\tMax Memory Used: 128 MB\tInit Duration: \d+\.\d\d ms\t"
            r"Status: error\tError Type: Runtime.OutOfMemory\t",
            result.logs.splitlines()[-1],
        )
        # Killed while growing, long before the handler's final sleep would have ended.
        assert result.figures.duration_ms < 2000
        assert result.figures.max_memory_used_mb == 128
        assert service.invoke("fn", b"{}").figures.cold is True


def test_out_of_memory_spike_between_checks_is_still_caught(tmp_path: Path) -> None:
    config = python_function(tmp_path, ALLOCATE, memory_mb=128)
    with LocalLambda([config]) as service:
        small = service.invoke("fn", b'{"mb": 40}')
        assert small.function_error is None
        small_mb = small.figures.max_memory_used_mb
        assert small_mb is not None and 40 <= small_mb < 128
        spike = service.invoke("fn", b'{"mb": 200}')
        assert spike.figures.error_type == "Runtime.OutOfMemory"


def test_max_memory_is_the_peak_of_this_invocation(tmp_path: Path) -> None:
    config = python_function(tmp_path, ALLOCATE, memory_mb=512)
    with LocalLambda([config]) as service:
        big = service.invoke("fn", b'{"mb": 150}')
        small = service.invoke("fn", b'{"mb": 1}')
    big_mb, small_mb = big.figures.max_memory_used_mb, small.figures.max_memory_used_mb
    assert big_mb is not None and big_mb >= 150
    # The peak resets per invocation: the earlier 150 MB does not carry over.
    assert small_mb is not None and small_mb < 100
    assert f"Max Memory Used: {big.figures.max_memory_used_mb} MB\t" in big.logs


def test_max_memory_counts_the_handlers_child_processes(tmp_path: Path) -> None:
    code = """
        import subprocess, sys

        HOLD = (
            "import time\\nb = bytearray(80 * 1024 * 1024)\\n"
            "for i in range(0, len(b), 4096): b[i] = 1\\n"
            "print('ready', flush=True)\\ntime.sleep(30)"
        )

        def handler(event, context):
            child = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
            child.stdout.readline()
            return child.pid
    """
    config = python_function(tmp_path, code, memory_mb=512, timeout_s=10)
    with LocalLambda([config]) as service:
        result = service.invoke("fn", b"{}")
        child = int(result.payload)
        assert pid_alive(child)
        # The runtime itself stays small; the child's 80 MB are part of the environment's peak.
        peak = result.figures.max_memory_used_mb
        assert peak is not None and peak >= 80, result.logs
    assert wait_for(lambda: not pid_alive(child), timeout=5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import sys; sys.exit(0)", "Runtime exited without providing a reason"),
        ("import sys; sys.exit(2)", "Runtime exited with error: exit status 2"),
        ("import os; os._exit(3)", "Runtime exited with error: exit status 3"),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
            "Runtime exited with error: signal: segmentation fault",
        ),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
            "Runtime exited with error: signal: killed",
        ),
    ],
)
def test_process_exits_and_crashes_are_exit_errors(tmp_path: Path, body: str, message: str) -> None:
    code = f"""
        def handler(event, context):
            print("about to go")
            {body}
    """
    config = python_function(tmp_path, code)
    with LocalLambda([config]) as service:
        result = service.invoke("fn", b"{}")
        assert result.function_error == "Unhandled"
        assert json.loads(result.payload) == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {result.request_id} Error: {message}",
        }
        assert "about to go\n" in result.logs
        assert result.logs.splitlines()[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError\t")
        replaced = service.invoke("fn", b'{"x": 1}')
        assert replaced.figures.cold is True


def test_request_payload_limits(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(event, context):\n    return len(event)\n")
    with LocalLambda([config]) as service:
        fits = b'"' + b"a" * (errors.MAX_SYNC_REQUEST_BYTES - 2) + b'"'
        assert service.invoke("fn", fits).payload == str(errors.MAX_SYNC_REQUEST_BYTES - 2).encode()
        with pytest.raises(errors.RequestTooLargeError) as caught:
            service.invoke("fn", fits + b" ")
        assert (
            caught.value.message
            == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
        )
        assert caught.value.status_code == 413 and caught.value.error_code == "RequestEntityTooLargeException"
        with pytest.raises(errors.RequestTooLargeError, match=r"smaller than 1048576 bytes"):
            service.invoke("fn", b'"' + b"a" * errors.MAX_ASYNC_REQUEST_BYTES + b'"', invocation_type="Event")


def test_response_over_the_limit_from_python(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(event, context):\n    return 'x' * event['n']\n")
    with LocalLambda([config]) as service:
        ok = service.invoke("fn", b'{"n": 6291554}')
        assert ok.function_error is None and len(ok.payload) == 6_291_556
        too_big = service.invoke("fn", b'{"n": 6291555}')
    assert too_big.figures.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(too_big.payload) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    }


def test_concurrent_invokes_use_separate_environments(tmp_path: Path) -> None:
    config = python_function(tmp_path, STATEFUL, timeout_s=10)
    with LocalLambda([config]) as service:
        barrier = threading.Barrier(4)
        results: list[tuple[str, bool, int]] = []
        lock = threading.Lock()

        def call() -> None:
            barrier.wait()
            result = service.invoke("fn", b'{"sleep": 0.5}')
            assert result.environment_id is not None
            with lock:
                results.append((result.environment_id, result.figures.cold, result.payload_json()["pid"]))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({env for env, _, _ in results}) == 4
        assert len({pid for _, _, pid in results}) == 4
        assert all(cold for _, cold, _ in results)
        assert len(service.environments("fn")) == 4
        again = service.invoke("fn", b"{}")
        assert again.figures.cold is False and again.environment_id in {env for env, _, _ in results}


def test_init_timeout_then_suppressed_init_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "INIT_LIMIT_S", 0.3)
    code = """
        import time
        time.sleep(1.0)

        def handler(event, context):
            return "ready"
    """
    config = python_function(tmp_path, code, timeout_s=5)
    with LocalLambda([config]) as service:
        result = service.invoke("fn", b"{}")
    assert result.payload == b'"ready"' and result.figures.cold
    lines = result.logs.splitlines()
    assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: timeout", lines[1])
    assert lines[0].startswith("INIT_START Runtime Version: python:3.12.v")
    assert lines[2] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert sum(line.startswith("INIT_START") for line in lines) == 1
    assert "Init Duration" not in lines[-1]
    # The suppressed init ran inside the invoke phase, so it is part of the billed duration.
    assert result.figures.duration_ms >= 1000 and result.figures.init_duration_ms is None


def test_init_timeout_then_invoke_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "INIT_LIMIT_S", 0.3)
    code = "import time\ntime.sleep(30)\n\ndef handler(event, context):\n    return 1\n"
    config = python_function(tmp_path, code, timeout_s=1)
    with LocalLambda([config]) as service:
        result = service.invoke("fn", b"{}")
    assert result.figures.error_type == "Sandbox.Timedout"
    assert json.loads(result.payload)["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds"
    )
    reports = [line for line in result.logs.splitlines() if line.startswith("INIT_REPORT")]
    assert [r.split("\t", 1)[1] for r in reports] == [
        "Phase: init\tStatus: timeout",
        "Phase: invoke\tStatus: timeout",
    ]
    assert result.logs.splitlines()[-1].endswith("\tStatus: timeout\t")


def test_lifecycle_and_log_records_are_published(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(event, context):\n    print('hi there')\n    return 1\n")
    records: list[Record] = []
    service = LocalLambda([config])
    service.subscribe(records.append)
    first = service.invoke("fn", b"{}")
    service.invoke("fn", b"{}")
    service.close()
    kinds = [r.kind for r in records if isinstance(r, LifecycleRecord)]
    assert kinds == [
        Lifecycle.ENVIRONMENT_CREATED,
        Lifecycle.INIT_START,
        Lifecycle.INIT_END,
        Lifecycle.INVOKE_START,
        Lifecycle.INVOKE_END,
        Lifecycle.INVOKE_START,
        Lifecycle.INVOKE_END,
        Lifecycle.ENVIRONMENT_RETIRED,
    ]
    lifecycle = [r for r in records if isinstance(r, LifecycleRecord)]
    assert lifecycle[2].status == "success" and lifecycle[2].duration_ms is not None
    assert lifecycle[3].cold is True and lifecycle[5].cold is False
    end = lifecycle[4].figures
    assert lifecycle[4].request_id == first.request_id and end is not None and end.status == "success"
    assert lifecycle[-1].reason == "service closed"
    assert all(r.time <= s.time for r, s in itertools.pairwise(lifecycle))
    logs = [r for r in records if isinstance(r, LogRecord)]
    printed = [r for r in logs if r.message == "hi there"]
    assert len(printed) == 2 and printed[0].request_id == first.request_id
    assert logs[0].message.startswith("INIT_START") and logs[0].request_id is None


def test_stdout_flood_does_not_stall_or_grow_without_bound(tmp_path: Path) -> None:
    code = """
        import sys

        def handler(event, context):
            line = "x" * 99 + "\\n"
            for _ in range(200_000):
                sys.stdout.write(line)
            print("last line")
            return "flooded"
    """
    config = python_function(tmp_path, code, timeout_s=60)
    with LocalLambda([config]) as service:
        result = service.invoke("fn", b"{}")
    assert result.payload == b'"flooded"'
    assert len(result.logs) < environment.MAX_INVOCATION_LOG_BYTES + 4096
    assert (
        result.logs.startswith("[lambench] ")
        and "earlier log lines of this invocation were dropped" in result.logs
    )
    assert "last line\n" in result.logs and result.logs.splitlines()[-1].startswith("REPORT ")


def test_event_and_dry_run_invocations(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(event, context):\n    return event\n")
    ended: list[LifecycleRecord] = []

    def watch(record: Record) -> None:
        if isinstance(record, LifecycleRecord) and record.kind is Lifecycle.INVOKE_END:
            ended.append(record)

    with LocalLambda([config]) as service:
        service.subscribe(watch)
        dry = service.invoke("fn", b'{"a": 1}', invocation_type="DryRun")
        assert dry.status_code == 204 and dry.payload == b"" and service.environments() == []
        queued = service.invoke("fn", b'{"a": 1}', invocation_type="Event")
        assert queued.status_code == 202 and queued.payload == b"" and queued.executed_version is None
        assert wait_for(lambda: any(r.request_id == queued.request_id for r in ended), timeout=10)


def test_service_errors_for_bad_calls(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(event, context):\n    return 1\n")
    with LocalLambda([config]) as service:
        with pytest.raises(errors.ResourceNotFoundError) as missing:
            service.invoke("nope", b"{}")
        assert missing.value.message == (
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
        )
        with pytest.raises(errors.ResourceNotFoundError, match=r"function:fn:7$"):
            service.invoke("fn:7", b"{}")
        with pytest.raises(
            errors.InvalidRequestContentError, match=r"^Could not parse request body into json"
        ):
            service.invoke("fn", b"{not json")
        with pytest.raises(errors.InvalidParameterValueError, match="InvocationType"):
            service.invoke("fn", b"{}", invocation_type="Later")
        arn = service.invoke("arn:aws:lambda:us-east-1:123456789012:function:fn", b"{}")
        assert arn.payload == b"1"
        assert service.invoke("fn", b"").payload == b"1"
