"""The TUI on a real account's code path: an AwsBackend over HTTP to lambench's embedded account.

The functions really run (lambench's engine sits behind the embedded moto's Lambda API) and their
logs and metrics land in its CloudWatch, so the app lists, invokes, tails and visualizes exactly
as it would against AWS. No test contacts AWS: every client has the loopback endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from textual.widgets import DataTable

from lambench.core.backends.aws import AwsBackend
from lambench.core.backends.base import Backend
from lambench.core.backends.local import LocalBackend
from lambench.tui.app import LambenchApp
from lambench.tui.visualizer import VisualizerScreen
from lambench.tui.visualizer.metrics import MetricsPanel
from lambench.tui.visualizer.widgets import TimelineChart
from lambench.tui.widgets import FunctionsPanel, LogsPanel, ResultView
from tests.helpers import python_function, simultaneously
from tests.moto_fixtures import REGION, isolate_aws_environment
from tests.tui_helpers import wait_until

ALPHA = """
import time

def handler(event, context):
    time.sleep(event.get("sleep_ms", 0) / 1000)
    print("alpha working")
    return {"ok": True}
"""
ALLOW_INVOKE = "--allow-invoke"


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalBackend]:
    """Two functions in lambench's engine behind a started embedded account."""
    isolate_aws_environment(monkeypatch)
    alpha = python_function(tmp_path, ALPHA, name="alpha")
    beta = python_function(tmp_path, "def handler(event, context):\n    return 'beta'\n", name="beta")
    with LocalBackend([alpha, beta], project_dir=tmp_path, share=False, log_store=False) as local:
        local.account.start()
        yield local


def remote(local: LocalBackend, *, allow_invoke: bool) -> Callable[[], Backend]:
    """Opens the real-account backend on the embedded account (the app calls it in its worker)."""

    def open_backend() -> Backend:
        return AwsBackend(
            region=REGION,
            endpoint_url=local.account.endpoint,
            allow_invoke=allow_invoke,
            tail_poll_interval_s=0.2,
            # moto answers 500 to Duration percentiles: fall back at once, not after retries.
            client_config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )

    return open_backend


def lambda_client(local: LocalBackend) -> Any:
    """Another user's Lambda client on the same account."""
    return boto3.client(
        "lambda",
        endpoint_url=local.account.endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


def notified(app: LambenchApp, text: str, title: str | None = None) -> int:
    """How many notifications on show say `text` (under `title`, when given)."""
    return sum(
        1
        for notification in app._notifications
        if text in notification.message and (title is None or notification.title == title)
    )


def listed(app: LambenchApp) -> list[str]:
    table: DataTable[str] = app.query_one("#functions", DataTable)
    return [str(key.value) for key in table.rows]


def test_without_allow_invoke_the_functions_list_and_invoke_is_refused(account: LocalBackend) -> None:
    async def scenario() -> None:
        app = LambenchApp(remote(account, allow_invoke=False))
        async with app.run_test(size=(100, 30)) as pilot:
            panel = app.query_one(FunctionsPanel)
            await wait_until(pilot, lambda: panel.selected == "alpha")
            assert listed(app) == ["alpha", "beta"]
            assert app.sub_title.startswith(f"endpoint {account.account.endpoint}")
            await pilot.press("escape", "i")
            await wait_until(pilot, lambda: notified(app, ALLOW_INVOKE) == 1)
            status = app.query_one(ResultView).query_one("#result-status")
            assert "no invoke yet" in str(status.render())

            # The visualizer of a real account: no load panel, CloudWatch's figures instead.
            await pilot.press("v")
            await wait_until(pilot, lambda: isinstance(app.screen, VisualizerScreen))
            screen = app.screen
            assert isinstance(screen, VisualizerScreen) and screen.account
            assert not screen.query("#viz-load")
            metrics = screen.query_one(MetricsPanel)
            assert "invoking needs --allow-invoke" in metrics.text()
            keys = {binding.binding.id for binding in screen.active_bindings.values()}
            assert {"visualizer-invoke", "visualizer-metrics", "visualizer-pause"} <= keys
            assert not keys & {"visualizer-burst", "visualizer-steady", "visualizer-fixed", "visualizer-stop"}
            # The palette offers the same: this screen's actions for a real account, no loads.
            titles = {command.title for command in app.get_system_commands(screen)}
            assert {"Invoke", "Read the metrics", "Pause / resume", "Export the window"} <= titles
            assert not titles & {"Burst", "Steady rate", "Memory", "Invoke again", "Pick an event"}
            await pilot.press("i")
            await wait_until(pilot, lambda: notified(app, ALLOW_INVOKE) == 2)
            # Loads are off: b sends nothing.
            await pilot.press("b")
            assert screen.last_report is None
            await wait_until(pilot, lambda: screen.metrics_reads >= 1)
            assert screen.metrics is not None and screen.metrics.invocations is None
            assert "invocations -" in metrics.text()

    asyncio.run(scenario())


def test_invoke_logs_and_the_visualizer_on_a_real_account(account: LocalBackend) -> None:
    """Invoke from the main screen, see its CloudWatch log; then the visualizer rebuilt from the log."""

    async def scenario() -> None:
        app = LambenchApp(remote(account, allow_invoke=True))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "alpha")
            await pilot.press("escape", "i")
            status = app.query_one(ResultView).query_one("#result-status")
            await wait_until(pilot, lambda: "200" in str(status.render()))
            line = str(status.render())
            # Cold, duration and init come from the REPORT line of the invoke's log tail.
            assert line.startswith("alpha  200  cold  ") and " ms  billed " in line and "  init " in line
            request_id = line.split("req ")[1].split()[0]

            # The log panel follows the function's log group in CloudWatch.
            logs = app.query_one(LogsPanel)

            def logged() -> bool:
                texts = [entry.text for entry in logs.lines]
                return "alpha working" in texts and any(
                    text.startswith(f"REPORT RequestId: {request_id}") for text in texts
                )

            await wait_until(pilot, logged)
            assert all(entry.function == "alpha" for entry in logs.lines)

            await pilot.press("v")
            await wait_until(pilot, lambda: isinstance(app.screen, VisualizerScreen))
            screen = app.screen
            assert isinstance(screen, VisualizerScreen)
            # The tail's notices reach the screen: moto's live tail ends at once, polling follows.
            await wait_until(
                pilot, lambda: notified(app, "polling FilterLogEvents", title="visualizer log tail") > 0
            )
            # Half a minute wide: the first invoke stays in the window, and a cell (0.3 s) is
            # short enough that a 1 s invocation shows beside its environment's init.
            await pilot.press("minus", "minus")
            # Two at once: one finds the warm environment, the other starts a second one, cold.
            lam = lambda_client(account)
            answers = await asyncio.to_thread(
                simultaneously, 2, lambda: lam.invoke(FunctionName="alpha", Payload=b'{"sleep_ms": 1000}')
            )
            assert all(answer["StatusCode"] == 200 for answer in answers), answers
            await pilot.press("i")
            await wait_until(pilot, lambda: notified(app, "alpha  200  warm") == 1)

            def drawn() -> bool:
                snapshot = screen.snapshot
                return snapshot is not None and snapshot.summary.invocations == 4

            await wait_until(pilot, drawn)
            assert screen.snapshot is not None
            summary = screen.snapshot.summary
            assert (summary.cold_starts, summary.errors, len(screen.snapshot.environments)) == (2, 0, 2)
            assert summary.max_concurrency == 2
            rows = screen.query_one(TimelineChart).row_texts()
            environment_rows = [row for row in rows if row.startswith(("e1", "e2"))]
            assert len(environment_rows) == 2, rows
            assert all("░" in row and "█" in row for row in environment_rows), "\n".join(rows)
            stats = str(screen.query_one("#viz-stats").render())
            assert "cold starts  2" in stats and "environments 2 seen" in stats

            # CloudWatch's own count, read again on g until the last second's points are in.
            metrics = screen.query_one(MetricsPanel)

            async def read_again() -> bool:
                reads = screen.metrics_reads
                await pilot.press("g")
                await wait_until(pilot, lambda: screen.metrics_reads > reads)
                return screen.metrics is not None and screen.metrics.invocations == 4

            for _ in range(40):
                if await read_again():
                    break
            assert screen.metrics is not None and screen.metrics.invocations == 4, metrics.text()
            text = metrics.text()
            assert "invocations 4" in text and "errors 0" in text
            assert "peak concurrency 2" in text
            await pilot.press("escape")
            assert not isinstance(app.screen, VisualizerScreen)

    asyncio.run(scenario())
