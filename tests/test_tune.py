"""Power tuning: the cost arithmetic, the strategies, bad input, and a real run with CPU scaled to memory."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from lambench.core.tune import SizeResult, TuneError, invocation_cost, parse_sizes, recommend
from tests.helpers import lambench

BURN = """import time


def handler(event, context):
    started = time.process_time()
    while time.process_time() - started < 0.02:
        pass
    return "ok"
"""
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Burn:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: burn, CodeUri: burn/, Handler: app.handler, Runtime: python3.12, Timeout: 30}
"""


def result(memory: int, p50: float, billed: float, errors: int = 0) -> SizeResult:
    return SizeResult(
        memory_mb=memory,
        cpu_vcpus=memory / 1769,
        cold_ms=None,
        cold_init_ms=None,
        warm=5,
        errors=errors,
        p50_ms=p50,
        p95_ms=p50,
        billed_ms=billed,
        cost_x86=invocation_cost(memory, billed, "x86_64"),
        cost_arm=invocation_cost(memory, billed, "arm64"),
    )


def test_the_cost_of_one_invocation_is_the_request_plus_its_gb_seconds() -> None:
    # 128 MB for 100 ms: 0.0125 GB-s at $0.0000166667 (x86) / $0.0000133334 (arm), plus $0.0000002.
    assert invocation_cost(128, 100, "x86_64") == pytest.approx(0.0000002 + 0.0125 * 0.0000166667, rel=1e-12)
    assert invocation_cost(128, 100, "arm64") == pytest.approx(0.0000002 + 0.0125 * 0.0000133334, rel=1e-12)
    assert result(1024, 10, 10).cost_x86_per_million == pytest.approx(
        0.2 + 10.0 * 0.0000166667 * 1e6 / 1000, rel=1e-9
    )


def test_each_strategy_recommends_its_size() -> None:
    results = (
        result(128, 400, 400),  # 0.05 GB-s: the cheapest, and 4x the fastest's time
        result(512, 120, 120),  # 0.06 GB-s: 1.16x the cheapest's cost, 1.2x the fastest's time
        result(1024, 100, 100),  # 0.1 GB-s: the fastest that succeeded, 1.81x the cheapest's cost
        result(3008, 50, 50, errors=1),  # fastest, but it failed once: never recommended
    )
    assert recommend(results, "cost") == 128
    assert recommend(results, "speed") == 1024
    assert recommend(results, "balanced") == 512
    with pytest.raises(TuneError, match="--strategy: 'cheap'; use cost, speed or balanced"):
        recommend(results, "cheap")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("64", "--memory: 64 MB is out of range; use 128-10240 MB"),
        ("128,20000", "--memory: 20000 MB is out of range; use 128-10240 MB"),
        ("128,abc", "--memory: 'abc' is not a number of MB"),
        (",", "--memory: give at least one size, such as 128,512,1024"),
    ],
)
def test_bad_memory_sizes_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TuneError) as caught:
        parse_sizes(text)
    assert str(caught.value) == message
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "burn").mkdir()
    (tmp_path / "burn" / "app.py").write_text(BURN)
    done = lambench("tune", "burn", "--project", str(tmp_path), "--memory", text)
    assert done.returncode != 0
    assert done.stderr.strip() == f"lambench: error: {message}"


def test_a_real_tune_finds_the_cpu_bound_handler_slow_at_128_mb(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "burn").mkdir()
    (tmp_path / "burn" / "app.py").write_text(BURN)
    done = lambench(
        "tune",
        "burn",
        "--project",
        str(tmp_path),
        "--memory",
        "1024,128",
        "--requests",
        "4",
        "--strategy",
        "speed",
        "--json",
        "--svg",
        str(tmp_path / "tune.svg"),
        "--html",
        str(tmp_path / "tune.html"),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    svg = ElementTree.parse(tmp_path / "tune.svg").getroot()
    texts = [element.text for element in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "128 MB" in texts and "1024 MB" in texts and "recommended" in texts
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}polyline"))) == 2  # duration and cost
    page = (tmp_path / "tune.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr><td>") == 2 and "<svg" in page
    assert set(report) == {"function", "strategy", "cpu_mechanism", "recommended_memory_mb", "sizes"}
    assert report["cpu_mechanism"] != "none"
    small, large = report["sizes"]
    assert (small["memory_mb"], large["memory_mb"]) == (128, 1024)
    assert set(small) == {
        "memory_mb",
        "vcpus",
        "cold_ms",
        "cold_init_ms",
        "warm_invocations",
        "errors",
        "p50_ms",
        "p95_ms",
        "billed_ms",
        "cost_per_invocation",
        "cost_per_million",
    }
    assert small["warm_invocations"] == 3 and small["errors"] == 0
    assert small["p50_ms"] >= 4 * large["p50_ms"]
    assert report["recommended_memory_mb"] == 1024
    assert small["cost_per_million"]["arm64"] < small["cost_per_million"]["x86_64"]
