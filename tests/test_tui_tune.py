"""The tune screen under the Pilot: a real tune of the demo's CPU-bound function, then the
recommended MemorySize written to template.yaml only after `w` and `y`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from lambench.core.backends.base import Backend
from lambench.core.template import load_project
from lambench.tui.app import LambenchApp
from lambench.tui.tune_screen import TuneScreen
from lambench.tui.widgets import FunctionsPanel
from tests.helpers import copy_demo
from tests.tui_helpers import demo_opener, wait_until


def test_tune_shows_the_report_and_writes_memory_only_when_confirmed(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    opener: Callable[[], Backend] = demo_opener(project)
    template = project / "template.yaml"
    before = template.read_text()

    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(130, 40)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)
            panel = app.query_one(FunctionsPanel)
            await wait_until(pilot, lambda: panel.selected == "hello")
            while panel.selected != "crunch":
                await pilot.press("down")
            await pilot.press("u")
            await wait_until(pilot, lambda: isinstance(app.screen, TuneScreen))
            screen = app.screen
            assert isinstance(screen, TuneScreen)
            await wait_until(pilot, lambda: screen.report is not None, timeout=60)
            assert screen.report is not None
            report = str(screen.query_one("#tune-report").render())
            assert "128 MB" in report and "1769 MB" in report and "recommended for balanced" in report
            small = next(r for r in screen.report.results if r.memory_mb == 128)
            large = next(r for r in screen.report.results if r.memory_mb == 1769)
            assert small.p50_ms >= 4 * large.p50_ms
            recommended = screen.report.recommended_mb
            assert recommended is not None
            await pilot.press("y")  # no question asked yet: nothing happens
            assert template.read_text() == before
            await pilot.press("w")
            assert "? y / n" in str(screen.query_one("#tune-status").render())
            await pilot.press("n")
            assert template.read_text() == before
            await pilot.press("w", "y")
            await wait_until(
                pilot, lambda: "wrote MemorySize" in str(screen.query_one("#tune-status").render())
            )
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, TuneScreen))
        assert load_project(project).functions["crunch"].memory_mb == recommended
        changed = [line for line in template.read_text().splitlines() if line not in before.splitlines()]
        assert changed == [f"      MemorySize: {recommended}"]

    asyncio.run(scenario())
