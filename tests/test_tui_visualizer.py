"""The visualizer screen driven by Textual's pilot: a real local backend, real runtimes, a real timeline."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lambench.core.backends.aws import AwsBackend
from lambench.core.backends.base import Backend
from lambench.core.backends.local import LocalBackend
from lambench.core.timeline.spans import EnvironmentSpan, InvocationSpan
from lambench.tui.app import LambenchApp
from lambench.tui.session import Session
from lambench.tui.visualizer import VisualizerScreen
from lambench.tui.visualizer_view import Axis, TimeWindow, axis_labels, environment_cells
from lambench.tui.visualizer_widgets import TimelineChart
from tests.moto_fixtures import isolate_aws_environment
from tests.tui_helpers import copy_demo, demo_opener, wait_until


@pytest.fixture
def opener(tmp_path: Path) -> Callable[[], Backend]:
    return demo_opener(copy_demo(tmp_path))


async def open_visualizer(
    app: LambenchApp, pilot: object, function: str, event: str = "{}", **options: Callable[[], float]
) -> VisualizerScreen:
    """Wait for the backend, push the visualizer on `function`, wait for its first drawing."""
    await wait_until(pilot, lambda: app.session is not None)
    assert app.session is not None
    screen = VisualizerScreen(app.session, function, event, **options)
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


def test_without_the_local_engine_the_screen_says_so(
    opener: Callable[[], Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws_environment(monkeypatch)

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)
            # Never contacted: the screen only looks for a local service.
            remote = Session(AwsBackend(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
            screen = VisualizerScreen(remote, "hello", "{}")
            await app.push_screen(screen)
            assert "needs the local engine" in str(screen.query_one("#viz-problem").render())
            await pilot.press("b", "e", "space")
            assert screen.snapshot is None
            assert app.screen is screen
            await pilot.press("escape")
            assert app.screen is not screen

            assert app.session is not None
            unknown = VisualizerScreen(app.session, "no-such-function", "{}")
            await app.push_screen(unknown)
            assert "no-such-function" in str(unknown.query_one("#viz-problem").render())

    asyncio.run(scenario())


def _invocation(start: float, end: float | None, outcome: str | None = "success") -> InvocationSpan:
    return InvocationSpan(
        request_id="r",
        function="fn",
        version="$LATEST",
        environment_id="env",
        start=start,
        end=end,
        duration_ms=None if end is None else (end - start) * 1000,
        billed_duration_ms=None,
        init_duration_ms=None,
        max_memory_mb=None,
        memory_size_mb=128,
        architecture="x86_64",
        cold=False,
        init_type="on-demand",
        outcome=outcome,  # type: ignore[arg-type]
        error_type=None,
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
