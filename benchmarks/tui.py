"""`make bench` figures for the TUI: start-up to first paint, key latency under load, log lines rendered."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.stats import percentile

REPO = Path(__file__).resolve().parent.parent
# A minimal Textual app: the baseline for start-up to first paint.
_MINIMAL = """
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("Functions")
Minimal().run()
"""


def _first_paint_ms(command: list[str], marker: bytes, cwd: Path) -> float:
    """Start `command` on a pseudo-terminal; milliseconds until `marker` is drawn, then quit it."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    began = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
    )
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if marker in seen:
                    elapsed = (time.perf_counter() - began) * 1000
                    break
        os.write(master, b"\x11")  # ctrl+q
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        # Drain so the child never blocks on a full terminal while exiting.
        while select.select([master], [], [], 0)[0]:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
        os.close(master)
    return elapsed


_FLOOD = "def handler(event, context):\n    for i in range(50):\n        print('line', i)\n    return 1\n"


@dataclass
class _Flood:
    """What one flood run measured."""

    latencies: list[float]  # key press to repaint, ms
    lines: int  # log lines that arrived
    elapsed: float  # seconds they took
    longest_collection_ms: float  # the longest cyclic garbage collection meanwhile


async def _latency_under_load(code_dir: Path, invocations: int, bursts: int, *, settle: bool) -> _Flood:
    """Key-press-to-repaint delays while `bursts` bursts of `invocations` flood the log (the first
    from cold). With `settle`, the heap is settled as `lambench` settles it (the baseline: not)."""
    import gc

    from lambench.core.backends.local import LocalBackend
    from lambench.core.config import FunctionConfig
    from lambench.core.load import LoadPlan, LoadRunner
    from lambench.tui import heap
    from lambench.tui.app import LambenchApp

    config = FunctionConfig.create(name="flood", handler="app.handler", code_dir=code_dir)

    def open_backend() -> LocalBackend:
        backend = LocalBackend([config], project_dir=code_dir, share=False)
        backend.tail_source = "engine"
        return backend

    # Unfrozen afterwards, for the figures that follow.
    app = LambenchApp(open_backend, settle_heap=heap.settle if settle else None)
    latencies: list[float] = []
    collections: list[float] = []
    began_collecting = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began_collecting[0] = time.perf_counter()
        else:
            collections.append((time.perf_counter() - began_collecting[0]) * 1000)

    gc.collect()  # both runs start from the same clean heap
    gc.callbacks.append(timed)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while app.session is None or not app.query("#functions"):
                await pilot.pause(0.05)
            service = app.session.backend.service  # type: ignore[attr-defined]
            table = app.query_one("#functions")

            def burst() -> None:
                for _ in range(bursts):
                    LoadRunner(service, "flood", b"{}", LoadPlan.fixed(invocations, 20)).run()

            worker = threading.Thread(target=burst, daemon=True)

            def presses() -> None:
                # A key press as the terminal delivers it, from another thread into the UI loop; timed
                # until the screen has been repainted with its effect (call_after_refresh).
                while worker.is_alive():
                    painted = threading.Event()

                    def press(painted: threading.Event = painted) -> None:
                        table.action_cursor_down()  # type: ignore[attr-defined]
                        app.call_after_refresh(painted.set)

                    pressed = time.perf_counter()
                    app.call_from_thread(press)
                    painted.wait(10)
                    latencies.append((time.perf_counter() - pressed) * 1000)
                    time.sleep(0.01)

            presser = threading.Thread(target=presses, daemon=True)
            began = time.perf_counter()
            worker.start()
            presser.start()
            while worker.is_alive() or presser.is_alive():
                # A plain sleep: the pilot's pause waits on every widget, work the app never does.
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - began
    finally:
        gc.callbacks.remove(timed)
        gc.unfreeze()
    return _Flood(latencies, bursts * invocations * 54, elapsed, max(collections, default=0.0))


async def _render_rate(batches: int, per_batch: int) -> float:
    from lambench.core.logs.model import LogLine
    from lambench.tui.app import LambenchApp
    from lambench.tui.widgets import LogsPanel

    class Idle:
        kind = "local"
        description = "bench"
        can_invoke = True

        def list_functions(self) -> list[object]:
            return []

        def tail(self, query: object, stop: threading.Event) -> list[object]:
            return []

        def close(self) -> None:
            pass

    app = LambenchApp(lambda: Idle())  # type: ignore[arg-type, return-value]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(LogsPanel)
        now = time.time()
        lines = [
            LogLine(
                now,
                "fn",
                "2026/11/22/[$LATEST]0",
                "r",
                "INFO",
                f"[INFO]\t2026-11-22T00:00:00.000Z\tr\tline {i}",
            )
            for i in range(per_batch)
        ]
        began = time.perf_counter()
        for _ in range(batches):
            panel.add_lines(lines)
            await pilot.pause()
        return batches * per_batch / (time.perf_counter() - began)


def _percentiles(latencies: list[float]) -> str:
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms over {len(latencies)} presses"


def tui_figures(quick: bool) -> None:
    """Print the TUI's figures beside their baselines."""
    rounds = 3 if quick else 11
    with tempfile.TemporaryDirectory(prefix="lambench-bench-tui-") as tmp:
        project = Path(tmp) / "demo"
        shutil.copytree(
            REPO / "demo_functions", project, ignore=shutil.ignore_patterns(".lambench", "__pycache__")
        )
        ours: list[float] = []
        minimal: list[float] = []
        # Alternated, so a noisy moment on the machine falls on both alike.
        for _ in range(rounds):
            ours.append(
                _first_paint_ms(
                    [sys.executable, "-m", "lambench", "--project", str(project)], b"Functions", project
                )
            )
            minimal.append(_first_paint_ms([sys.executable, "-c", _MINIMAL], b"Functions", project))
        code_dir = Path(tmp) / "flood"
        code_dir.mkdir()
        (code_dir / "app.py").write_text(_FLOOD)
        bursts = 1 if quick else 3
        invocations = 300 if quick else 1000
        flood = asyncio.run(_latency_under_load(code_dir, invocations, bursts, settle=True))
        unsettled = asyncio.run(_latency_under_load(code_dir, invocations, bursts, settle=False))
    rate = asyncio.run(_render_rate(10 if quick else 40, 5_000))
    o50, m50 = statistics.median(ours), statistics.median(minimal)
    print(f"\nTerminal UI (80x24 pseudo-terminal; {rounds} starts each, medians)")
    print(f"  start-up to first paint  {o50:7.0f} ms   minimal Textual app {m50:.0f} ms   ({o50 / m50:.2f}x)")
    print(
        f"  key press to repaint during {bursts} burst(s) of {invocations} invokes "
        f"({flood.lines / flood.elapsed:,.0f} log lines/s arriving): {_percentiles(flood.latencies)}"
        "   (goal: p95 < 100 ms)"
    )
    print(f"    the same with the start-up heap left to the collector: {_percentiles(unsettled.latencies)}")
    print(
        f"  longest garbage collection during the flood  {flood.longest_collection_ms:.1f} ms   "
        f"heap not frozen: {unsettled.longest_collection_ms:.1f} ms   "
        f"({flood.longest_collection_ms / max(unsettled.longest_collection_ms, 0.001):.2f}x)"
    )
    print(f"  log lines rendered        {rate:9,.0f} lines/s   (goal: >= 50,000)")
