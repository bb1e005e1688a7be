"""`serve`, `env`, `--endpoint`, `logs`, `metrics`, `functions NAME` and the backend options, end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lambench.cli.logs_cmd import parse_since
from lambench.core.embedded import shared
from tests.helpers import copy_demo, lambench, pid_alive, wait_for

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path)


def start_serve(project: Path, *, merge_output: bool = False) -> subprocess.Popen[str]:
    """`lambench serve` on `project`, its output piped (stderr into stdout with `merge_output`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lambench", "serve", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def stop_serve(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops it; killed only if it does not stop in 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def served(project: Path) -> Iterator[subprocess.Popen[str]]:
    process = start_serve(project)
    try:
        assert wait_for(lambda: shared.find(project) is not None or process.poll() is not None, timeout=60)
        assert process.poll() is None, process.communicate()
        yield process
    finally:
        stop_serve(process)


def test_serve_env_and_a_one_shot_invoke_share_the_account(
    project: Path, served: subprocess.Popen[str]
) -> None:
    env = lambench("env", "--project", str(project))
    assert env.returncode == 0, env.stderr
    variables = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())
    assert variables["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert variables["AWS_DEFAULT_REGION"] == "us-east-1"
    assert lambench("--endpoint", cwd=project).stdout.strip() == variables["AWS_ENDPOINT_URL"]

    invoked = lambench("invoke", "orders", "--project", str(project), "--event-json", '{"item": "pen"}')
    assert invoked.returncode == 0, invoked.stderr
    order_id = json.loads(invoked.stdout)["orderId"]
    # The item outlives the one-shot command: it is in the served account.
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=variables["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"],
    )
    items = dynamodb.scan(TableName="OrdersTable")["Items"]
    assert items == [{"orderId": {"S": order_id}, "item": {"S": "pen"}}]
    # The one-shot command also wrote its metrics to the served account's CloudWatch.
    metrics = lambench("metrics", "orders", "--project", str(project), "--json")
    assert metrics.returncode == 0, metrics.stderr
    assert json.loads(metrics.stdout)["invocations"] == 1


def test_the_aws_backend_reads_a_served_account(
    project: Path, served: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = shared.find(project)
    assert record is not None
    for key, value in {
        "AWS_ACCESS_KEY_ID": "u",
        "AWS_SECRET_ACCESS_KEY": "u",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    remote = ("--backend", "aws", "--endpoint-url", record.endpoint)
    listed = lambench("functions", *remote)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == [
        "NAME",
        "RUNTIME",
        "HANDLER",
        "MEMORY",
        "TIMEOUT",
        "ARCH",
        "LAST",
        "MODIFIED",
    ]
    assert "orders" in listed.stdout
    refused = lambench("invoke", "hello", *remote)
    assert refused.returncode == 3
    assert "--allow-invoke" in refused.stderr
    invoked = lambench("invoke", "hello", *remote, "--allow-invoke")
    assert invoked.returncode == 0, invoked.stderr
    assert "REPORT RequestId: " in invoked.stderr
    request_id = next(line.split()[2] for line in invoked.stderr.splitlines() if line.startswith("START"))

    def logged() -> bool:
        logs = lambench("logs", "hello", *remote, "--request-id", request_id, "--since", "10m")
        return logs.returncode == 0 and f"END RequestId: {request_id}" in logs.stdout

    assert wait_for(logged, timeout=20)


def test_serve_stops_on_sigint_and_withdraws_its_record(project: Path, served: subprocess.Popen[str]) -> None:
    record = shared.find(project)
    assert record is not None and record.pid == served.pid
    served.send_signal(signal.SIGINT)
    assert served.wait(timeout=30) == 0
    assert not shared.state_path(project).exists()
    assert not pid_alive(served.pid)
    out = served.stdout.read() if served.stdout else ""
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in out


def test_env_without_a_running_account_says_how_to_start_one(project: Path) -> None:
    result = lambench("env", "--project", str(project))
    assert result.returncode == 2
    assert "no embedded account is running for" in result.stderr
    assert "lambench serve --project" in result.stderr


def test_logs_shows_what_another_command_ran(project: Path) -> None:
    invoked = lambench("invoke", "logger", "--project", str(project))
    assert invoked.returncode == 0, invoked.stderr
    logs = lambench("logs", "logger", "--project", str(project))
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert any("START RequestId: " in line for line in lines)
    assert any("REPORT RequestId: " in line for line in lines)
    assert all("\x1b[" not in line for line in lines)  # plain when piped
    errors_only = lambench("logs", "logger", "--project", str(project), "--level", "error")
    assert errors_only.returncode == 0
    assert errors_only.stdout.strip(), "the logger demo logs an ERROR record"
    assert all("START" not in line for line in errors_only.stdout.splitlines())


def test_logs_follow_prints_lines_as_they_are_written(project: Path) -> None:
    follower = subprocess.Popen(
        # --since: the follower may start after the invoke has written its lines.
        [
            sys.executable,
            "-m",
            "lambench",
            "logs",
            "hello",
            "--follow",
            "--since",
            "5m",
            "--project",
            str(project),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        invoked = lambench("invoke", "hello", "--project", str(project))
        assert invoked.returncode == 0
        request_id = next(
            line.split()[2] for line in invoked.stderr.splitlines() if line.startswith("START RequestId:")
        )
        assert follower.stdout is not None
        stdout = follower.stdout
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(stdout), daemon=True)
        reader.start()

        def reported() -> bool:
            return any(f"REPORT RequestId: {request_id}" in line for line in list(seen))

        assert wait_for(reported, timeout=30), seen
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=20) == 0


def test_functions_name_shows_detail_with_secrets_masked(project: Path) -> None:
    template = project / "template.yaml"
    template.write_text(
        template.read_text().replace("STAGE: !Ref Stage", "STAGE: !Ref Stage\n        DB_PASSWORD: hunter2")
    )
    shown = lambench("functions", "hello", "--project", str(project))
    assert shown.returncode == 0, shown.stderr
    assert "DB_PASSWORD=********" in shown.stdout
    assert "hunter2" not in shown.stdout
    revealed = lambench("functions", "hello", "--project", str(project), "--show-secrets")
    assert "DB_PASSWORD=hunter2" in revealed.stdout
    missing = lambench("functions", "nope", "--project", str(project))
    assert missing.returncode == 2 and "nope" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("functions", "--profile", "p"), "--profile needs --backend aws"),
        (("logs", "hello", "--since", "yesterday"), "--since 'yesterday': give a duration"),
        (("logs", "--backend", "aws"), "name the function whose log to read"),
        (
            ("invoke", "hello", "--backend", "aws", "--handler", "app.h"),
            "--handler describes a local function",
        ),
    ],
)
def test_option_mistakes_are_one_line_errors(project: Path, args: tuple[str, ...], message: str) -> None:
    result = lambench(*args, "--project", str(project))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_parse_since_accepts_durations_and_iso_times() -> None:
    assert parse_since("10m", now=1_000.0) == 400.0
    assert parse_since("2h", now=10_000.0) == 2_800.0
    assert parse_since("2026-11-22T00:00:00Z") == 1_795_305_600.0


def test_log_lines_are_colored_by_level_and_platform_lines_stand_apart() -> None:
    from lambench.cli.logs_cmd import format_line
    from lambench.core.logs.parse import make_line

    stream = "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef"
    error = make_line("fn", stream, 0.0, "[ERROR]\t2026-11-22T00:00:00.000Z\tr-1\tboom")
    report = make_line(
        "fn", stream, 0.0, "REPORT RequestId: 8f5e2a2c-1b7e-4b8f-9a59-3b1f2f1c1e11\tDuration: 1.00 ms\t"
    )
    plain = make_line("fn", stream, 0.0, "just a print")
    assert "\x1b[31m[ERROR]" in format_line(error, color=True, show_function=False)
    assert "\x1b[36mREPORT RequestId" in format_line(report, color=True, show_function=False)
    assert format_line(plain, color=True, show_function=False).endswith("  just a print")
    shown = format_line(error, color=False, show_function=True)
    assert "\x1b" not in shown and " [$LATEST]012345 fn  [ERROR]" in shown


def _reader(process: subprocess.Popen[str]) -> list[str]:
    """Lines of the process's stdout, collected on a thread as they come."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
    return lines


def test_invoke_watch_runs_again_after_each_save(project: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lambench", "invoke", "hello", "--watch", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = _reader(process)
        assert wait_for(
            lambda: any(line.startswith("--- ") and "first run" in line for line in lines), timeout=30
        )
        app = project / "hello" / "app.py"
        app.write_text(app.read_text().replace('"hello world"', '"hello again"'))
        assert wait_for(lambda: any("hello again" in line for line in lines), timeout=30), lines
        header = next(line for line in lines if "hello/app.py changed" in line)
        assert header.startswith("--- ") and " cold " in header and header.rstrip().endswith(" ms")
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_watch_prints_reloads_and_template_errors(project: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lambench", "watch", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = _reader(process)
        assert process.stderr is not None
        assert "lambench: watching hello," in process.stderr.readline()
        (project / "flaky" / "app.py").write_text("def handler(event, context):\n    return 1\n")
        assert wait_for(
            lambda: any("reloaded flaky (flaky/app.py changed" in line for line in lines), timeout=30
        )

        def in_the_log() -> bool:
            logs = lambench("logs", "flaky", "--project", str(project))
            return "lambench: reloaded flaky (flaky/app.py changed; 0 environments retired)" in logs.stdout

        # The reload is a line of the function's log too.
        assert wait_for(in_the_log, timeout=30)
        template = project / "template.yaml"
        template.write_text(template.read_text().replace("Timeout: 2\n", "Timeout: 2000\n"))
        assert wait_for(lambda: any("not reloaded: template.yaml:" in line for line in lines), timeout=30), (
            lines
        )
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_sources_shows_the_counters_of_the_mappings_serve_runs(
    project: Path, served: subprocess.Popen[str]
) -> None:
    before = json.loads(lambench("sources", "--project", str(project), "--json").stdout)
    states = {s["function"]: s["state"] for s in before["sources"]}
    assert states == {"s3-processor": "Enabled", "sqs-batch": "Enabled", "ticker": "Enabled"}
    endpoint = lambench("--endpoint", cwd=project).stdout.strip()
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    url = sqs.get_queue_url(QueueName="JobsQueue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job": "ok"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job": "bad", "fail": True}))

    def counters() -> dict[str, int]:
        listing = json.loads(lambench("sources", "sqs-batch", "--project", str(project), "--json").stdout)
        (status,) = listing["sources"]
        return {key: status[key] for key in ("polled", "delivered", "failed")}

    assert wait_for(lambda: counters()["polled"] >= 2 and counters()["failed"] >= 1, timeout=30), counters()
    assert counters()["delivered"] >= 1
    table = lambench("sources", "--project", str(project))
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split()[:4] == ["FUNCTION", "EVENT", "TYPE", "SOURCE"]
    assert "sqs-batch/Jobs: batch 10, ReportBatchItemFailures" in table.stdout


def test_sources_without_serve_says_what_would_run_them(project: Path) -> None:
    listing = json.loads(lambench("sources", "--project", str(project), "--json").stdout)
    assert {s["state"] for s in listing["sources"]} == {"Enabled (needs 'lambench serve' or the TUI)"}
    assert listing["warnings"] == []  # the demo's Api events are routes of the front door now
    unknown = lambench("sources", "nope", "--project", str(project))
    assert unknown.returncode != 0 and "no function named 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_serve_answers_the_templates_routes_logs_each_request_and_reloads(project: Path) -> None:
    """The demo's `Api` events over HTTP: the banner lists them, curl-like requests get API
    Gateway's answers, each request is an access line, and a saved handler serves the next one."""
    import http.client
    import re

    process = start_serve(project, merge_output=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()

    def get(port: int, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    try:
        assert wait_for(lambda: any("HTTP APIs at" in line for line in lines), timeout=60), lines
        banner = "".join(lines)
        port = int(re.search(r"HTTP APIs at http://127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        assert re.search(
            r"GET\s+/hello\s+-> hello \(ServerlessRestApi, payload 1\.0, also at /Prod/hello\)", banner
        )
        assert re.search(r"ANY\s+/items/\{id\}\s+-> api", banner)
        status, body = get(port, "/hello")
        assert status == 200 and json.loads(body)["message"] == "hello world"
        status, body = get(port, "/Prod/items/7?q=1")
        assert status == 200 and json.loads(body)["pathParameters"] == {"id": "7"}
        status, body = get(port, "/nowhere")
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
        assert wait_for(lambda: any("GET /nowhere 403" in line for line in lines), timeout=10), lines
        assert any(
            re.search(r"127\.0\.0\.1 GET /hello 200 [\d.]+ ms hello \(api ServerlessRestApi", line)
            for line in lines
        )
        handler = project / "hello" / "app.py"
        handler.write_text(handler.read_text().replace('"hello world"', '"hello again"'))
        assert wait_for(lambda: b"hello again" in get(port, "/hello")[1], timeout=20)
        # A route added to the template is served once the template reloads.
        assert get(port, "/hi")[0] == 403
        template = project / "template.yaml"
        route = (
            "        Hi:\n          Type: Api\n          Properties:\n"
            "            Path: /hi\n            Method: get\n"
        )
        text = template.read_text()
        anchor = "            Path: /hello\n            Method: get\n"
        template.write_text(text.replace(anchor, anchor + route, 1))
        assert wait_for(lambda: get(port, "/hi")[0] == 200, timeout=20)
    finally:
        stop_serve(process)
        reader.join(5)
    assert process.returncode == 0, "".join(lines)
