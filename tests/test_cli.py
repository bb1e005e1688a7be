"""The `lambench` command as a user runs it: real processes, real exit codes, real output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import REPO, lambench

DEMO = str(REPO / "demo_functions")


def test_invoke_prints_payload_on_stdout_and_logs_on_stderr() -> None:
    done = lambench("invoke", "hello", "--project", DEMO, "--event-json", '{"name": "Ada"}')
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["statusCode"] == 200 and json.loads(payload["body"])["message"] == "hello Ada"
    lines = done.stderr.splitlines()
    assert lines[0].startswith("INIT_START Runtime Version: python:3.12.v")
    assert re.fullmatch(r"START RequestId: [0-9a-f-]{36} Version: \$LATEST", lines[1])
    assert lines[-1].startswith("REPORT RequestId: ") and "\tInit Duration: " in lines[-1]


def test_invoke_json_output_has_every_field() -> None:
    done = lambench("invoke", "hello", "--project", DEMO, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in (
        "requestId",
        "functionError",
        "payload",
        "logs",
        "durationMs",
        "billedDurationMs",
        "initDurationMs",
        "maxMemoryUsedMB",
        "memorySizeMB",
        "executedVersion",
        "cold",
    ):
        assert key in result
    assert result["functionError"] is None and result["cold"] is True
    assert result["executedVersion"] == "$LATEST" and result["memorySizeMB"] == 128
    assert isinstance(result["payload"], dict) and result["payload"]["statusCode"] == 200
    assert result["initDurationMs"] > 0 and result["billedDurationMs"] >= 1
    assert f"END RequestId: {result['requestId']}\n" in result["logs"]


def test_function_error_exits_1_with_error_payload() -> None:
    done = lambench("invoke", "flaky", "--project", DEMO, "--event-json", '{"fail": true}', "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["functionError"] == result["payload"]["errorType"]
    assert list(result["payload"]) == ["errorMessage", "errorType", "requestId", "stackTrace"]


def test_event_from_file_and_from_stdin(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"name": "file"}')
    from_file = lambench("invoke", "hello", "--project", DEMO, "--event", str(event))
    assert json.loads(json.loads(from_file.stdout)["body"])["message"] == "hello file"
    from_stdin = lambench("invoke", "hello", "--project", DEMO, stdin='{"name": "pipe"}')
    assert json.loads(json.loads(from_stdin.stdout)["body"])["message"] == "hello pipe"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("invoke", "nosuch", "--project", DEMO), "lambench: error: no function named 'nosuch' in "),
        (
            ("invoke", "hello", "--project", DEMO, "--event", "/no/such/file.json"),
            "lambench: error: cannot read event file /no/such/file.json: No such file or directory",
        ),
        (
            ("invoke", "hello", "--project", DEMO, "--event-json", "{oops"),
            "lambench: error: the event from --event-json is not valid JSON: ",
        ),
        (("invoke", "--project", DEMO), "lambench: error: name a function to invoke"),
        (
            ("functions", "--project", "/no/such/dir"),
            "lambench: error: project directory /no/such/dir does not exist",
        ),
        (
            ("invoke", "--handler", "app.handler", "--code-dir", DEMO + "/hello", "--memory", "64"),
            "lambench: error: MemorySize: 64 is out of range; use 128-10240 MB",
        ),
    ],
)
def test_user_mistakes_are_one_line_errors_with_status_2(args: tuple[str, ...], message: str) -> None:
    done = lambench(*args)
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_broken_template_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Handler: app.handler\n      Runtime: python3.12\n      Timeout: 9000\n"
    )
    done = lambench("functions", "--project", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "lambench: error: template.yaml:7: Resources.Fn.Properties.Timeout: "
        "9000 is out of range; use 1-900 seconds"
    )


def test_adhoc_function_without_template(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "import os\n\ndef run(event, context):\n"
        "    return {'greeting': os.environ['GREETING'], 'event': event}\n"
    )
    done = lambench(
        "invoke",
        "--handler",
        "main.run",
        "--code-dir",
        str(tmp_path),
        "--env",
        "GREETING=hey",
        "--event-json",
        "[1, 2]",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["payload"] == {"greeting": "hey", "event": [1, 2]}


def test_functions_lists_the_demo_project() -> None:
    table = lambench("functions", "--project", DEMO)
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "CODE", "TRIGGERS"]
    assert {row.split()[0]: row.split()[-1] for row in rows}["sqs-batch"] == "SQS"
    as_json = json.loads(lambench("functions", "--project", DEMO, "--json").stdout)
    names = [f["name"] for f in as_json]
    assert {f["name"]: f["triggers"] for f in as_json}["ticker"] == ["Schedule"]
    for expected in (
        "hello",
        "api",
        "s3-processor",
        "sqs-batch",
        "ticker",
        "heavy-init",
        "slow",
        "flaky",
        "timeout",
        "memory-hog",
        "logger",
        "orders",
    ):
        assert expected in names


def test_help_explains_every_command() -> None:
    top = lambench("--help")
    assert top.returncode == 0 and "invoke" in top.stdout and "functions" in top.stdout
    invoke_help = " ".join(lambench("invoke", "--help").stdout.split())
    assert (
        "--event-json" in invoke_help
        and "The exit status is 0 on success, 1 on a function error" in invoke_help
    )
    assert "--project" in lambench("functions", "--help").stdout


def test_demo_functions_behave_as_documented() -> None:
    timeout = lambench("invoke", "timeout", "--project", DEMO, "--json")
    assert json.loads(timeout.stdout)["functionError"] == "Sandbox.Timedout"
    hog = lambench("invoke", "memory-hog", "--project", DEMO, "--json")
    assert json.loads(hog.stdout)["functionError"] == "Runtime.OutOfMemory"
    logger = lambench("invoke", "logger", "--project", DEMO, "--json")
    logs = json.loads(logger.stdout)["logs"]
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert {r["level"] for r in records} >= {"DEBUG", "INFO", "WARNING", "ERROR"}
