"""SVG snapshots of the main screen at 80x24 and 160x48: a fixed backend, a fixed clock, UTC.

The engine is not involved (its durations and ids vary from run to run); these pin down the
layout, the styling and what each panel shows for a known result and log. Update them after an
intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambench.core.backends.base import FunctionSummary, InvokeOutcome, MetricsSummary
from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.runtime.figures import InvocationFigures
from lambench.tui.app import LambenchApp
from lambench.tui.widgets import EventEditor, LogsPanel, ResultView
from tests.tui_helpers import wait_until

NOW = 1_795_305_600.0  # 2026-11-22 00:00:00 UTC
REQUEST = "8f5e2a2c-1b7e-4b8f-9a59-3b1f2f1c1e11"
STREAM = "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef"


class FixedBackend:
    """A backend whose every answer is known in advance."""

    kind = "local"
    description = "fixed backend for snapshots"
    can_invoke = True

    def list_functions(self) -> list[FunctionSummary]:
        return [
            FunctionSummary("hello", "python3.12", "app.handler", 128, 3),
            FunctionSummary("orders", "python3.12", "app.handler", 256, 10),
            FunctionSummary("slow", "python3.12", "app.handler", 128, 10),
        ]

    def invoke(self, name: str, payload: bytes, **options: Any) -> InvokeOutcome:
        return InvokeOutcome(
            request_id=REQUEST,
            status_code=200,
            payload=b'{"statusCode": 200, "body": "{\\"message\\": \\"hello snapshot\\"}"}',
            function_error=None,
            executed_version="$LATEST",
            figures=InvocationFigures(1.25, 24, 128, 11, init_duration_ms=22.5, cold=True),
        )

    def tail(self, query: LogQuery, stop: threading.Event) -> Iterator[LogBatch]:
        texts = [
            f"START RequestId: {REQUEST} Version: $LATEST",
            f"[INFO]\t2026-11-22T00:00:00.001Z\t{REQUEST}\tgreeting snapshot",
            f"[WARNING]\t2026-11-22T00:00:00.002Z\t{REQUEST}\tcareful",
            f"[ERROR]\t2026-11-22T00:00:00.003Z\t{REQUEST}\tsomething failed",
            f"END RequestId: {REQUEST}",
            f"REPORT RequestId: {REQUEST}\tDuration: 1.25 ms\tBilled Duration: 24 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 11 MB\tInit Duration: 22.50 ms\t",
        ]
        from lambench.core.logs.parse import make_line

        lines: list[LogLine] = [
            make_line("hello", STREAM, NOW + i / 1000, text) for i, text in enumerate(texts)
        ]
        yield LogBatch(tuple(lines))
        stop.wait()

    def metrics(self, name: str, start: float, end: float, period_s: int = 60) -> MetricsSummary:
        return MetricsSummary(name, start, end, period_s, 1, 0, 0, 1.25, 1.25, 1)

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def app_after_invoke() -> tuple[LambenchApp, Callable[[Any], Any]]:
    app = LambenchApp(lambda: FixedBackend(), theme="lambench-dark")  # type: ignore[arg-type, return-value]

    async def run_before(pilot: Any) -> None:
        await wait_until(pilot, lambda: app.session is not None)
        editor = app.query_one(EventEditor)
        # The editor and the function list are mounted just after the first paint.
        await wait_until(pilot, lambda: bool(editor.query("#event-text")) and bool(app.query("#functions")))
        editor.load('{\n  "name": "snapshot"\n}')
        text_area = editor.query_one("#event-text")
        text_area.cursor_blink = False  # type: ignore[attr-defined]
        await pilot.press("i")
        result = app.query_one(ResultView)
        await wait_until(pilot, lambda: "200" in str(result.query_one("#result-status").render()))
        await wait_until(pilot, lambda: len(app.query_one(LogsPanel).lines) == 6)
        await pilot.pause()

    return app, run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app, run_before = app_after_invoke()
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def app_with_visualizer() -> tuple[LambenchApp, Callable[[Any], Any]]:
    """The visualizer in real-account mode: built from the fixed log's REPORT line, fixed clock."""
    from lambench.tui.visualizer import VisualizerScreen

    app = LambenchApp(lambda: FixedBackend(), theme="lambench-dark")  # type: ignore[arg-type, return-value]

    async def run_before(pilot: Any) -> None:
        await wait_until(pilot, lambda: app.session is not None and bool(app.query("#functions")))
        assert app.session is not None
        screen = VisualizerScreen(app.session, "hello", "{}", clock=lambda: NOW + 4.0, metrics_every_s=3600)
        app.push_screen(screen)
        await wait_until(
            pilot, lambda: screen.timeline.summary().invocations == 1 and screen.metrics_reads >= 1
        )
        await pilot.pause()

    return app, run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_visualizer_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app, run_before = app_with_visualizer()
    assert snap_compare(app, terminal_size=size, run_before=run_before)
