"""The visualizer screen driven by Textual's pilot: a real local backend, real runtimes, a real timeline.

The real-account mode against a reachable account is in test_tui_aws.py; here, one that is not.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.config import Config

from lambench.core.backends.aws import AwsBackend
from lambench.core.backends.base import Backend, MetricsSummary
from lambench.core.backends.local import LocalBackend
from lambench.core.logs.model import LogLine
from lambench.core.runtime.figures import InvocationFigures
from lambench.core.timeline.spans import EnvironmentSpan, InvocationSpan
from lambench.tui.app import LambenchApp
from lambench.tui.session import Session
from lambench.tui.visualizer import VisualizerScreen
from lambench.tui.visualizer.account import METRICS_WINDOW_S, TailCursor, metrics_window_s
from lambench.tui.visualizer.async_queue import AsyncQueuePanel
from lambench.tui.visualizer.metrics import MetricsPanel, metrics_rows
from lambench.tui.visualizer.view import Axis, TimeWindow, axis_labels, environment_cells
from lambench.tui.visualizer.widgets import TimelineChart
from tests.helpers import copy_demo
from tests.moto_fixtures import closed_port, isolate_aws_environment
from tests.tui_helpers import demo_opener, wait_until


@pytest.fixture
def opener(tmp_path: Path) -> Callable[[], Backend]:
    return demo_opener(copy_demo(tmp_path))


async def open_visualizer(
    app: LambenchApp,
    pilot: object,
    function: str,
    event: str = "{}",
    clock: Callable[[], float] = time.time,
) -> VisualizerScreen:
    """Wait for the backend, push the visualizer on `function`, wait for its first drawing."""
    await wait_until(pilot, lambda: app.session is not None)
    assert app.session is not None
    screen = VisualizerScreen(app.session, function, event, clock=clock)
    await app.push_screen(screen)
    await wait_until(pilot, lambda: screen.snapshot is not None)
    return screen


def local_service(app: LambenchApp) -> LocalBackend:
    assert app.session is not None
    backend = app.session.backend
    assert isinstance(backend, LocalBackend)
    return backend


def notified(app: LambenchApp, text: str) -> bool:
    return any(text in notification.message for notification in app._notifications)


def throttle_marks(row: str) -> int:
    """Throttled requests drawn on the throttle row: `!` is one, a digit its count."""
    marks = row[len("throttled") :].strip()
    return sum(1 if mark == "!" else int(mark) for mark in marks if mark != " ")


def test_a_burst_shows_environments_and_throttles_and_exports(opener: Callable[[], Backend]) -> None:
    """Reserved concurrency 2, a burst of 6 requests of 300 ms: two environments, four throttles."""

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_visualizer(app, pilot, "slow", '{"sleep_ms": 300}')
            service = local_service(app).service
            titles = {command.title for command in app.get_system_commands(screen)}
            assert {"Burst", "Reserved concurrency", "Zoom in", "Close the visualizer"} <= titles
            assert not titles & {"Read the metrics", "Invoke", "Invoke again", "Pick an event"}
            await pilot.press("r", "2", "enter")
            await wait_until(pilot, lambda: service.get_function_concurrency("slow") == 2)
            await pilot.press("n", "ctrl+u", "6", "enter", "b")
            await wait_until(pilot, lambda: screen.last_report is not None)
            assert screen.last_report is not None
            progress = screen.last_report.progress
            assert (progress.succeeded, progress.throttled, progress.failed) == (2, 4, 0)

            def drawn() -> bool:
                snapshot = screen.snapshot
                return snapshot is not None and snapshot.summary.invocations == 2

            await wait_until(pilot, drawn)
            assert screen.snapshot is not None
            summary = screen.snapshot.summary
            assert (summary.throttles, summary.cold_starts, summary.errors) == (4, 2, 0)
            assert len(screen.snapshot.environments) == 2
            rows = screen.query_one(TimelineChart).row_texts()
            environment_rows = [row for row in rows if row.startswith(("e1", "e2"))]
            assert len(environment_rows) == 2, rows
            assert all("█" in row and "░" in row for row in environment_rows), rows
            throttle_row = next(row for row in rows if row.startswith("throttled"))
            assert throttle_marks(throttle_row) == 4, rows
            stats = str(screen.query_one("#viz-stats").render())
            assert "throttles    4" in stats and "cold starts  2" in stats
            status = str(screen.query_one("#viz-load-status").render())
            assert "6/6 done · 2 ok · 4 throttled" in status

            await pilot.press("e")
            await wait_until(pilot, lambda: notified(app, ".json"))
            exports = local_service(app).project_dir / ".lambench" / "exports"
            (data_file,) = exports.glob("slow-*.json")
            data = json.loads(data_file.read_text())
            assert len(data["environments"]) == 2
            assert len(data["throttles"]) == 4
            assert data["summary"]["throttles"] == 4
            with (exports / f"{data_file.stem}-throttles.csv").open(newline="") as handle:
                assert len(list(csv.reader(handle))) == 1 + 4
            (svg,) = exports.glob("slow-*.svg")
            assert svg.read_text().lstrip().startswith("<svg")
            assert {path.suffix for path in exports.iterdir()} == {".json", ".csv", ".svg"}

    asyncio.run(scenario())


def test_environments_warm_before_the_screen_opened_are_rows(opener: Callable[[], Backend]) -> None:
    """Invoked on the main screen first: the visualizer opens with that environment already drawn."""

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)
            await wait_until(pilot, lambda: bool(app.query("#functions")))
            service = local_service(app).service
            service.invoke("hello", b"{}")
            (live,) = service.environments("hello")
            screen = await open_visualizer(app, pilot, "hello")
            assert screen.snapshot is not None
            assert [env.environment_id for env in screen.snapshot.environments] == [live.id]
            rows = screen.query_one(TimelineChart).row_texts()
            assert any(row.startswith("e1") for row in rows), rows
            assert not any("no environments here yet" in row for row in rows), rows

    asyncio.run(scenario())


def test_async_attempts_are_marked_and_the_queue_panel_follows_them(
    opener: Callable[[], Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event that always fails: its first attempt, two retries and the end in the queue panel."""
    monkeypatch.setenv("LAMBENCH_TIME_SCALE", "0.01")  # the 60 s and 120 s retry waits: 0.6 s, 1.2 s

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(110, 34)) as pilot:
            screen = await open_visualizer(app, pilot, "flaky")
            panel = screen.query_one(AsyncQueuePanel)
            assert not panel.display  # nothing asynchronous yet: the panel keeps out of the way
            service = local_service(app).service
            service.invoke("flaky", b'{"fail": true}', invocation_type="Event")
            await wait_until(pilot, lambda: panel.display and "retrying" in " ".join(panel.lines()))
            assert "attempt 1 failed (FlakyError) · retry after 60 s at " in panel.lines()[0]
            await wait_until(pilot, lambda: "1 failed" in str(panel.border_title))
            assert panel.lines()[0].startswith("failed ")
            assert "3 attempts · RetriesExhausted (FlakyError)" in panel.lines()[0]
            service.invoke("flaky", b'{"fail": false}', invocation_type="Event")
            await wait_until(pilot, lambda: "1 succeeded" in str(panel.border_title))
            await wait_until(pilot, lambda: "▓" in "".join(screen.query_one(TimelineChart).row_texts()))
            rows = screen.query_one(TimelineChart).row_texts()
            drawn = "".join(row for row in rows if row.startswith("e"))
            # The first attempt failed (✗), both retries are marked, the second event succeeded (▓).
            assert len(re.findall("↻+", drawn)) == 2 and "✗" in drawn, rows
            assert "▓async" in rows[-1] and "↻retry" in rows[-1], rows

    asyncio.run(scenario())


def test_zoom_pan_and_pause_change_the_window(opener: Callable[[], Backend]) -> None:
    now = [1_800_000_000.0]

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_visualizer(app, pilot, "hello", clock=lambda: now[0])

            def window() -> tuple[float, float]:
                assert screen.snapshot is not None
                return screen.snapshot.start, screen.snapshot.end

            chart = screen.query_one(TimelineChart)
            assert window() == (now[0] - 10, now[0])
            await pilot.press("plus")
            assert window() == (now[0] - 5, now[0])
            await pilot.press("minus", "minus")
            assert window() == (now[0] - 20, now[0])
            await pilot.press("left")
            assert window() == (now[0] - 25, now[0] - 5)
            assert "5 s ago" in str(chart.border_subtitle)
            await pilot.press("right")
            assert window() == (now[0] - 20, now[0])
            assert "live" in str(chart.border_subtitle)

            # The clock moves on; live, the window follows it.
            now[0] += 3
            await wait_until(pilot, lambda: window()[1] == now[0])
            await pilot.press("space")
            paused_at = now[0]
            frozen = screen.snapshot
            now[0] += 3
            await pilot.pause(0.3)
            assert screen.snapshot is frozen
            assert "paused" in str(chart.border_subtitle)
            # Paused, the window still pans over what was recorded.
            await pilot.press("left")
            assert window() == (paused_at - 25, paused_at - 5)
            await pilot.press("space")
            await wait_until(pilot, lambda: window() == (now[0] - 20, now[0]))

            # A field that cannot make a plan is refused with the reason.
            await pilot.press("n", "ctrl+u", "0", "enter", "b")
            await wait_until(pilot, lambda: notified(app, "N: 0 is out of range; use 1-1,000"))
            assert screen.last_report is None
            # The theme cycles here too: the screen is modal, so it binds t itself.
            theme = app.theme
            await pilot.press("t")
            assert app.theme != theme
            await pilot.press("escape")
            assert not isinstance(app.screen, VisualizerScreen)

    asyncio.run(scenario())


def test_memory_and_provisioned_concurrency_on_an_alias(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)
            service = local_service(app).service
            version = service.publish_version("hello")
            service.create_alias("hello", "live", version.number)
            screen = await open_visualizer(app, pilot, "hello", '{"name": "viz"}')

            await pilot.press("m", "ctrl+u", "2", "5", "6", "enter")
            await wait_until(pilot, lambda: service.get_function("hello").memory_mb == 256)

            await pilot.press("p", "1", "enter")
            await wait_until(pilot, lambda: screen.qualifier == "live")
            assert notified(app, "loads now go to hello:live")
            chart = screen.query_one(TimelineChart)
            await wait_until(pilot, lambda: any(row.startswith("p1 prov") for row in chart.row_texts()))
            # Once it is ready, an invoke of the alias runs warm on the provisioned environment.
            await wait_until(
                pilot, lambda: service.get_provisioned_concurrency("hello", "live").status == "READY"
            )
            await pilot.press("i")
            await wait_until(pilot, lambda: screen.last_report is not None)
            await wait_until(
                pilot, lambda: screen.snapshot is not None and screen.snapshot.summary.invocations == 1
            )
            assert screen.snapshot is not None
            assert screen.snapshot.summary.cold_starts == 0
            (environment,) = screen.snapshot.environments
            assert environment.init_type == "provisioned-concurrency"
            assert environment.invocation_count == 1

    asyncio.run(scenario())


def test_an_unknown_local_function_says_so(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)
            assert app.session is not None
            unknown = VisualizerScreen(app.session, "no-such-function", "{}")
            await app.push_screen(unknown)
            assert "no-such-function" in str(unknown.query_one("#viz-problem").render())
            await pilot.press("b", "e", "space", "g")
            assert unknown.snapshot is None and unknown.metrics_reads == 0
            await pilot.press("escape")
            assert app.screen is not unknown

    asyncio.run(scenario())


def test_an_unreachable_account_reconnects_with_notices(
    opener: Callable[[], Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real account that does not answer: the tail says it is reconnecting, the metrics why not."""
    isolate_aws_environment(monkeypatch)
    endpoint = f"http://127.0.0.1:{closed_port()}"
    remote = Session(
        AwsBackend(
            region="us-east-1",
            endpoint_url=endpoint,
            client_config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
    )

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)
            screen = VisualizerScreen(remote, "hello", "{}", metrics_every_s=0.2)
            await app.push_screen(screen)
            assert screen.account and screen.problem is None
            assert not screen.query("#viz-load")
            await wait_until(pilot, lambda: screen.snapshot is not None)
            await wait_until(pilot, lambda: notified(app, "reconnecting in 1 s"))
            assert any(n.title == "visualizer log tail" for n in app._notifications)
            # Read every 0.2 s here, failing each time: one notification for the one reason.
            await wait_until(pilot, lambda: screen.metrics_reads >= 3)
            assert sum(n.title == "metrics not read" for n in app._notifications) == 1
            assert "not read: " in screen.query_one(MetricsPanel).text()
            assert "invocations -" in screen.query_one(MetricsPanel).text()
            # Not allowed to invoke: refused, and nothing was sent.
            await pilot.press("i")
            await wait_until(pilot, lambda: notified(app, "--allow-invoke"))
            tails = [worker for worker in app.workers if worker.group == "visualizer-tail"]
            assert len(tails) == 1
            await pilot.press("escape")
            assert app.screen is not screen
            # Closing the screen stops its tail, even in the middle of a backoff.
            await wait_until(pilot, lambda: tails[0].is_finished, timeout=5)

    try:
        asyncio.run(scenario())
    finally:
        remote.close()


def test_metrics_show_what_cloudwatch_returned_and_dashes_for_the_rest() -> None:
    summary = MetricsSummary("fn", 0.0, 600.0, 60, 1234.0, 0.0, None, 12.345, None, 3.0)
    assert metrics_rows(summary) == [
        [("invocations", "1,234"), ("errors", "0"), ("throttles", "-")],
        [("duration p50", "12.3 ms"), ("p99", "-"), ("peak concurrency", "3")],
    ]
    assert all(value == "-" for row in metrics_rows(None) for _, value in row)
    assert metrics_window_s(10) == METRICS_WINDOW_S
    assert metrics_window_s(1801) == 1860


def _line(time: float, text: str, stream: str = "2026/01/01/[$LATEST]abc") -> LogLine:
    return LogLine(time=time, function="fn", stream=stream, request_id=None, level=None, text=text)


def test_a_resumed_tail_feeds_no_line_twice() -> None:
    cursor = TailCursor(100.0)
    assert not cursor.fresh(_line(99.0, "before the window"))
    assert cursor.fresh(_line(100.0, "a"))
    assert cursor.fresh(_line(101.0, "b"))
    assert cursor.fresh(_line(101.0, "b", stream="2026/01/01/[$LATEST]other"))
    assert cursor.since == 101.0
    # A restarted tail from `since` sends the last instant's lines again: they are skipped.
    assert not cursor.fresh(_line(101.0, "b"))
    assert cursor.fresh(_line(101.0, "c"))
    assert not cursor.fresh(_line(100.5, "a"))
    assert cursor.fresh(_line(102.0, "b"))


def _invocation(start: float, end: float | None, outcome: str | None = "success") -> InvocationSpan:
    return InvocationSpan(
        request_id="r",
        function="fn",
        version="$LATEST",
        environment_id="env",
        start=start,
        end=end,
        figures=None if end is None else InvocationFigures((end - start) * 1000, None, 128, None),
        memory_size_mb=128,
        architecture="x86_64",
        cold=False,
        init_type="on-demand",
        outcome=outcome,  # type: ignore[arg-type]
    )


def test_environment_cells_draw_init_invocations_failures_idle_and_retirement() -> None:
    environment = EnvironmentSpan(
        environment_id="env",
        function="fn",
        version="$LATEST",
        init_type="on-demand",
        memory_size_mb=128,
        architecture="x86_64",
        created_at=101.0,
        init_start=101.0,
        init_end=102.0,
        init_duration_ms=1000.0,
        init_status="success",
        init_error_type=None,
        resets=0,
        invocations=(_invocation(102.0, 104.0), _invocation(106.0, 107.0, "error")),
        invocation_count=2,
        retired_at=108.5,
        retire_reason="idle",
    )
    cells = environment_cells(environment, Axis(100.0, 110.0, 10))
    assert cells == ["dead", "init", "invoke", "invoke", "idle", "idle", "error", "idle", "idle", "retired"]


def test_the_time_window_zooms_pans_and_pauses() -> None:
    window = TimeWindow(10)
    assert window.bounds(1000.0) == (990.0, 1000.0)
    window.zoom_out()
    window.pan(-1, 1000.0)
    assert window.bounds(1000.0) == (975.0, 995.0)
    assert window.describe(1000.0) == "20 s · 5 s ago"
    window.pan(1, 1000.0)
    assert window.following
    assert window.toggle_pause(1000.0)
    assert window.bounds(2000.0) == (980.0, 1000.0)
    window.zoom_in()
    window.zoom_in()
    assert window.describe(2000.0) == "5 s · paused"
    assert not window.toggle_pause(2000.0)
    assert window.bounds(2000.0) == (1995.0, 2000.0)
    for _ in range(20):
        window.zoom_out()
    assert window.describe(0.0) == "60 min · live"


def test_the_time_axis_is_labelled_at_round_instants_of_the_local_clock() -> None:
    start = time.mktime((2027, 1, 15, 10, 0, 0, 0, 0, -1))
    labels = axis_labels(start, start + 60, 60)
    assert labels == "10:00:00       10:00:15       10:00:30       10:00:45       "
    assert axis_labels(start + 0.5, start + 2.5, 40).split() == ["10:00:01", "10:00:02"]
    assert axis_labels(start + 0.2, start + 1.2, 40).split() == ["00:00.5", "00:01.0"]
