"""The Runtime API as a custom runtime sees it: routes, headers, status codes and error bodies."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambench.core.config import FunctionConfig
from lambench.core.runtime.service import LocalLambda
from tests.helpers import FIXTURES


def _custom(
    name: str, fixture: str, tmp_path: Path, environment: dict[str, str] | None = None
) -> FunctionConfig:
    code = tmp_path / name
    shutil.copytree(FIXTURES / fixture, code)
    return FunctionConfig.create(
        name=name, handler="probe", code_dir=code, runtime="provided.al2023", environment=environment
    )


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[LocalLambda]:
    with LocalLambda([_custom("probe", "protocol_runtime", tmp_path)]) as service:
        yield service


def _act(service: LocalLambda, action: str, **extra: object) -> object:
    result = service.invoke("probe", json.dumps({"action": action, **extra}))
    assert result.function_error is None, result.payload
    return result.payload_json()


def test_next_carries_every_header(probe: LocalLambda) -> None:
    headers = _act(probe, "headers")
    assert isinstance(headers, dict)
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["Lambda-Runtime-Aws-Request-Id"])
    assert (
        headers["Lambda-Runtime-Invoked-Function-Arn"]
        == "arn:aws:lambda:us-east-1:123456789012:function:probe"
    )
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", headers["Lambda-Runtime-Trace-Id"]
    )
    assert headers["Content-Type"] == "application/json"
    assert "Lambda-Runtime-Client-Context" not in headers and "Lambda-Runtime-Cognito-Identity" not in headers


def test_deadline_header_is_epoch_milliseconds(probe: LocalLambda) -> None:
    import time

    before = int(time.time() * 1000)
    headers = _act(probe, "headers")
    assert isinstance(headers, dict)
    deadline = int(headers["Lambda-Runtime-Deadline-Ms"])
    assert before + 2900 <= deadline <= int(time.time() * 1000) + 3000


def test_client_context_header_is_decoded_json(probe: LocalLambda) -> None:
    result = probe.invoke("probe", b'{"action": "headers"}', client_context={"custom": {"k": "v"}})
    headers = result.payload_json()
    assert json.loads(headers["Lambda-Runtime-Client-Context"]) == {"custom": {"k": "v"}}


def test_qualified_latest_arn(probe: LocalLambda) -> None:
    headers = probe.invoke("probe:$LATEST", b'{"action": "headers"}').payload_json()
    assert headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:probe:$LATEST")


def test_wrong_request_id_is_400(probe: LocalLambda) -> None:
    assert _act(probe, "wrong_id") == {
        "status": 400,
        "body": '{"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}',
    }


def test_init_error_during_invoke_is_403(probe: LocalLambda) -> None:
    answer = _act(probe, "init_error_late")
    assert isinstance(answer, dict) and answer["status"] == 403
    assert json.loads(answer["body"])["errorType"] == "InvalidStateTransition"


def test_unknown_route_is_404(probe: LocalLambda) -> None:
    answer = _act(probe, "unknown_path")
    assert isinstance(answer, dict) and answer["status"] == 404


def test_chunked_response_body(probe: LocalLambda) -> None:
    assert _act(probe, "chunked") == {"chunked": True}


def test_response_over_limit_is_413_and_function_error(probe: LocalLambda) -> None:
    result = probe.invoke("probe", b'{"action": "too_large"}')
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    }
    assert "Status: error\tError Type: Function.ResponseSizeTooLarge\t" in result.logs
    # The environment survives: the runtime carries on with the next event (and its note about the
    # 413 it got, printed after the invoke ended, shows up there).
    later = probe.invoke("probe", b'{"action": "echo"}')
    assert later.figures.cold is False
    expected = (
        'too large answered 413 {"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", '
    )
    assert expected in result.logs + later.logs


def test_response_exactly_at_limit_is_delivered(probe: LocalLambda) -> None:
    result = probe.invoke("probe", b'{"action": "just_fits"}')
    assert result.function_error is None
    assert len(result.payload) == 6_291_556


def test_second_answer_for_one_invocation_is_rejected(probe: LocalLambda) -> None:
    first = probe.invoke("probe", b'{"action": "double"}')
    assert first.payload == b'"first"'
    later = probe.invoke("probe", b'{"action": "echo"}')
    assert (
        'second answer got 400 {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}'
        in (first.logs + later.logs)
    )


def test_invalid_response_mode_header(probe: LocalLambda) -> None:
    result = probe.invoke("probe", b'{"action": "bad_mode"}')
    assert result.figures.error_type == "Runtime.InvalidResponseModeHeader"
    assert result.function_error == "Unhandled"


def test_runtime_exit_during_invoke_is_exit_error(probe: LocalLambda) -> None:
    result = probe.invoke("probe", b'{"action": "exit", "code": 3}')
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3",
    }
    assert "exiting on request" in result.logs
    assert "Status: error\tError Type: Runtime.ExitError\t" in result.logs
    clean = probe.invoke("probe", b'{"action": "exit", "code": 0}')
    assert json.loads(clean.payload)["errorMessage"] == (
        f"RequestId: {clean.request_id} Error: Runtime exited without providing a reason"
    )
    # The environment is replaced: the next invoke starts a runtime again.
    after = probe.invoke("probe", b'{"action": "echo"}')
    assert after.function_error is None and after.figures.cold is True


def test_custom_init_error_is_returned_with_its_type(tmp_path: Path) -> None:
    config = _custom("initfail", "protocol_runtime", tmp_path, environment={"PROBE_INIT": "fail"})
    with LocalLambda([config]) as service:
        result = service.invoke("initfail", b"{}")
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {"errorMessage": "no config", "errorType": "ConfigMissing"}
    assert result.figures.error_type == "Runtime.ConfigInvalid"
    lines = result.logs.splitlines()
    reports = [line for line in lines if line.startswith("INIT_REPORT")]
    assert len(reports) == 2
    assert re.fullmatch(
        r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\t"
        r"Error Type: Runtime.ConfigInvalid",
        reports[0],
    )
    assert "\tPhase: invoke\tStatus: error\tError Type: Runtime.ConfigInvalid" in reports[1]
    assert lines.index(reports[0]) < lines.index(f"START RequestId: {result.request_id} Version: $LATEST")
    assert lines[-1].endswith("\tStatus: error\tError Type: Runtime.ConfigInvalid\t")
    assert "Init Duration" not in lines[-1]


def test_custom_runtime_exiting_during_init(tmp_path: Path) -> None:
    config = _custom("initexit", "protocol_runtime", tmp_path, environment={"PROBE_INIT": "exit"})
    with LocalLambda([config]) as service:
        result = service.invoke("initexit", b"{}")
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 4",
    }


def test_missing_bootstrap_is_exit_status_127(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    config = FunctionConfig.create(
        name="nobootstrap", handler="x", code_dir=tmp_path / "empty", runtime="provided.al2"
    )
    with LocalLambda([config]) as service:
        result = service.invoke("nobootstrap", b"{}")
    assert json.loads(result.payload)["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 127"
    )
    assert result.figures.error_type == "Runtime.ExitError"


def test_shell_bootstrap_runs_unchanged(tmp_path: Path) -> None:
    config = _custom("shell", "custom_runtime", tmp_path)
    with LocalLambda([config]) as service:
        first = service.invoke("shell", b'{"n": 1}')
        second = service.invoke("shell", b'{"fail": true}')
    assert first.payload_json() == {"echo": {"n": 1}, "runtime": "shell"}
    assert first.figures.cold and first.figures.init_duration_ms is not None
    assert "custom runtime starting (handler probe)" in first.logs
    assert first.logs.startswith("INIT_START Runtime Version: provided:al2023.v")
    assert second.function_error == "Unhandled" and second.figures.error_type == "Function.CustomFailure"
    assert second.payload_json() == {"errorMessage": "asked to fail", "errorType": "CustomFailure"}
    assert not second.figures.cold
