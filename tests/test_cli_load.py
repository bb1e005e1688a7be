"""`lambench load`, `lambench versions`, `lambench aliases` and qualified invokes, run as a user runs them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, descendants, lambench, wait_for


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A private copy of the demo project: commands write `.lambench/` into it."""
    target = tmp_path / "demo"
    shutil.copytree(
        REPO / "demo_functions", target, ignore=shutil.ignore_patterns("__pycache__", ".lambench")
    )
    return target


def test_burst_against_reserved_concurrency_throttles_the_rest(demo: Path) -> None:
    done = lambench(
        "load",
        "slow",
        "--burst",
        "10",
        "--reserved",
        "2",
        "--event-json",
        '{"sleep_ms": 1500}',
        "--json",
        cwd=demo,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["client"]["sent"] == 10
    assert (report["client"]["succeeded"], report["client"]["throttled"]) == (2, 8)
    summary = report["timeline"]["summary"]
    assert (summary["invocations"], summary["throttles"], summary["environments_created"]) == (2, 8, 2)
    assert summary["throttle_reasons"] == {"ReservedFunctionConcurrentInvocationLimitExceeded": 8}
    assert summary["cold_starts"] == 2 and summary["max_concurrency"] == 2
    assert len(report["timeline"]["environments"]) == 2


def test_text_summary_and_timeline_fit_eighty_columns(demo: Path) -> None:
    done = lambench("load", "hello", "--requests", "40", "--concurrency", "4", cwd=demo)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    text = done.stdout
    assert "invocations   40 (success 40" in text
    assert "cold starts" in text and "p50" in text and "cost" in text
    rows = [line for line in lines if line.startswith("e") and "cold" in line]
    assert 1 <= len(rows) <= 4  # one row per environment, at most one per client
    assert "█" in text and "░" in text
    legend = lines[-1]
    assert "init" in legend and "invoking" in legend and "idle" in legend and "throttled" in legend


def test_ascii_timeline(demo: Path) -> None:
    done = lambench("load", "hello", "--burst", "3", "--ascii", cwd=demo)
    assert done.returncode == 0, done.stderr
    assert "#" in done.stdout and "█" not in done.stdout


def test_provisioned_alias_from_the_template_serves_without_cold_starts(demo: Path) -> None:
    done = lambench("load", "heavy-init:live", "--burst", "2", "--json", cwd=demo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    summary = report["timeline"]["summary"]
    assert summary["invocations"] == 2 and summary["cold_starts"] == 0
    kinds = {e["init_type"] for e in report["timeline"]["environments"]}
    assert kinds == {"provisioned-concurrency"}


def test_load_option_mistakes_are_one_line_errors(demo: Path) -> None:
    cases = [
        (["load", "hello"], "choose one way to send"),
        (["load", "hello", "--burst", "2", "--requests", "3"], "--requests and --burst"),
        (["load", "hello", "--rate", "5"], "--rate and --duration go together"),
        (["load", "hello", "--concurrency", "3", "--burst", "2"], "--concurrency goes with --requests"),
        (["load", "hello", "--burst", "0"], "--burst must be at least 1"),
        (["load", "nope", "--burst", "1"], "no function named 'nope'"),
        (["load", "hello", "--burst", "1", "--provisioned", "2"], "--provisioned needs a version or alias"),
        (["load", "hello:9", "--burst", "1"], "Function not found"),
    ]
    for args, message in cases:
        done = lambench(*args, cwd=demo)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_ctrl_c_stops_the_run_prints_the_partial_summary_and_leaves_no_process(demo: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lambench",
            "load",
            "slow",
            "--requests",
            "500",
            "--concurrency",
            "3",
            "--event-json",
            '{"sleep_ms": 300}',
        ],
        cwd=demo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Runtimes started means invokes are in flight.
        assert wait_for(lambda: len(descendants(proc.pid)) >= 3, timeout=30)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "stopping; waiting for" in err
    assert "(stopped early)" in out and "invocations" in out
    assert not descendants(proc.pid)


def test_versions_and_aliases_commands(demo: Path) -> None:
    first = lambench("versions", "publish", "hello", "--description", "first", cwd=demo)
    assert first.returncode == 0 and "published version 1" in first.stdout
    again = lambench("versions", "publish", "hello", cwd=demo)
    assert "nothing changed since version 1" in again.stdout
    app = demo / "hello" / "app.py"
    app.write_text(app.read_text() + "\nEDITED = True\n")
    second = lambench("versions", "publish", "hello", "--json", cwd=demo)
    assert json.loads(second.stdout)["Version"] == "2"
    listed = json.loads(lambench("versions", "list", "hello", "--json", cwd=demo).stdout)
    assert [v["Version"] for v in listed] == ["1", "2"] and listed[0]["Description"] == "first"
    created = lambench("aliases", "create", "hello", "live", "--version", "1", "--weight", "2=0.5", cwd=demo)
    assert created.returncode == 0 and "version 1 (50%), version 2 (50%)" in created.stdout
    seen = set()
    for _ in range(12):
        result = json.loads(lambench("invoke", "hello:live", "--json", cwd=demo).stdout)
        seen.add(result["executedVersion"])
        if seen == {"1", "2"}:
            break
    assert seen == {"1", "2"}
    updated = lambench(
        "aliases", "update", "hello", "live", "--version", "2", "--no-weight", "--json", cwd=demo
    )
    assert json.loads(updated.stdout)["FunctionVersion"] == "2"
    assert "RoutingConfig" not in json.loads(updated.stdout)
    bad = lambench("aliases", "create", "hello", "live", "--version", "1", cwd=demo)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "lambench: error: ResourceConflictException: Alias already exists: "
        "arn:aws:lambda:us-east-1:123456789012:function:hello:live"
    )
    weight = lambench("aliases", "create", "hello", "x", "--version", "1", "--weight", "2=half", cwd=demo)
    assert weight.returncode == 2 and "is not a number" in weight.stderr
    deleted = lambench("aliases", "delete", "hello", "live", cwd=demo)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    assert lambench("invoke", "hello:live", cwd=demo).returncode == 2


def test_invoking_the_provisioned_alias_is_warm(demo: Path) -> None:
    done = lambench("invoke", "heavy-init:live", "--json", cwd=demo)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["cold"] is False and result["executedVersion"] == "1"
    assert result["payload"]["init_ms"] >= 700  # the init ran, but before the request
    assert result["durationMs"] < 700


def test_the_node_demo_function_takes_a_saved_template_event_and_a_load(demo: Path) -> None:
    """greeter (Node.js): an HTTP API event from the catalog, saved for it, then invoked and loaded."""
    saved = lambench("events", "save", "greeter", "visit", "--from", "apigateway/http-api-proxy", cwd=demo)
    assert saved.returncode == 0, saved.stderr
    invoked = lambench("invoke", "greeter", "--saved-event", "visit", cwd=demo)
    assert invoked.returncode == 0, invoked.stderr
    answer = json.loads(invoked.stdout)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["runtime"] == "AWS_Lambda_nodejs20.x"
    loaded = lambench("load", "greeter", "--burst", "4", "--saved-event", "visit", "--json", cwd=demo)
    assert loaded.returncode == 0, loaded.stderr
    report = json.loads(loaded.stdout)
    assert report["client"]["succeeded"] == 4 and report["client"]["failed"] == 0
    assert report["timeline"]["summary"]["invocations"] == 4
