"""`VisualizerScreen`: the concurrency and cold-start visualizer of one function.

On the local engine the screen attaches its own `Timeline` to the engine. For a real account
(a backend without a local service) it builds the same timeline from the function's log instead:
a thread worker follows the log group and feeds every line to a `ReportTimeline`, and a metrics
panel shows CloudWatch's own figures, read in a worker every 30 s and on demand. Either way the
screen redraws from a snapshot of the timeline on a 10 Hz clock, never once per event.

Loads run in a thread worker (`LoadRunner`), whose progress the clock polls; settings and
exports run in workers too and answer with typed messages. A real account gets neither load nor
settings: they would be real traffic, real bills and a live function's configuration changed
from a demo screen; a single invoke is allowed when the backend allows invoking.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from lambench.core.backends.base import MetricsSummary
from lambench.core.load import LoadPlan, LoadReport, LoadRunner
from lambench.core.logs.report_timeline import ReportTimeline
from lambench.core.runtime import errors
from lambench.core.runtime.service import LocalLambda
from lambench.core.timeline.spans import Snapshot
from lambench.core.timeline.store import Timeline
from lambench.tui.session import Session
from lambench.tui.visualizer.account import HISTORY_S, METRICS_EVERY_S, NO_LOAD
from lambench.tui.visualizer.actions import (
    ActionError,
    current_provisioned,
    parse_count,
    parse_rate,
    set_memory,
    set_provisioned,
    set_reserved,
)
from lambench.tui.visualizer.async_queue import AsyncQueuePanel
from lambench.tui.visualizer.export import WindowExport
from lambench.tui.visualizer.messages import (
    VisualizerLoadFinished,
    VisualizerLoadRefused,
    VisualizerSettingApplied,
    VisualizerSettingFailed,
)
from lambench.tui.visualizer.metrics import MetricsPanel
from lambench.tui.visualizer.real_account import RealAccountMode
from lambench.tui.visualizer.view import TimeWindow
from lambench.tui.visualizer.widgets import ConcurrencyChart, LoadPanel, TimelineChart, stats_text
from lambench.tui.widgets import TitleBar

#: How often the picture is redrawn from a fresh snapshot, and the load's progress polled.
TICK_S = 0.1
#: A burst starts one client thread per request, so it is capped well below what exhausts a machine.
MAX_BURST = 1_000
MAX_CONCURRENCY = 1_000
MAX_REQUESTS = 1_000_000
MAX_SECONDS = 3_600.0
# The actions that need a function to show.
_ENGINE_ACTIONS = frozenset(
    {
        *("pause", "zoom_in", "zoom_out", "pan", "follow", "load", "stop_load", "export", "edit"),
        *("scroll_rows", "invoke_account", "read_metrics"),
    }
)
# What only the local engine can do, and what only a real account needs.
_LOCAL_ACTIONS = frozenset({"load", "stop_load", "edit"})
_ACCOUNT_ACTIONS = frozenset({"invoke_account", "read_metrics"})
#: The palette's commands: title, help, action and its parameters; `palette_commands` leaves out
#: those `check_action` turns off in the screen's mode.
_PALETTE: tuple[tuple[str, str, str, tuple[object, ...]], ...] = (
    ("Burst", "Send N requests at once", "load", ("burst",)),
    ("Steady rate", "Send requests at a rate for a while", "load", ("steady",)),
    ("N at concurrency C", "Send N requests, C at a time", "load", ("fixed",)),
    ("Invoke once", "One request with the current event", "load", ("once",)),
    ("Invoke", "One invoke on the real account", "invoke_account", ()),
    ("Stop the load", "Stop sending", "stop_load", ()),
    ("Reserved concurrency", "Edit the function's reserved concurrency", "edit", ("reserved",)),
    ("Provisioned concurrency", "Edit the provisioned concurrency", "edit", ("provisioned",)),
    ("Memory", "Edit the function's memory size", "edit", ("memory",)),
    ("Read the metrics", "Read CloudWatch metrics again", "read_metrics", ()),
    ("Pause / resume", "Freeze the window, or follow time again", "pause", ()),
    ("Zoom in", "Show a shorter window", "zoom_in", ()),
    ("Zoom out", "Show a longer window", "zoom_out", ()),
    ("Live", "Follow the present again", "follow", ()),
    ("Export the window", "JSON, CSV and an SVG screenshot", "export", ()),
    ("Close the visualizer", "Back to the main screen", "close", ()),
)


class VisualizerScreen(RealAccountMode, WindowExport, ModalScreen[None]):
    """One function's environments, concurrency, cold starts, throttles and cost, live; with a load panel.

    Modal, so the main screen's keys (invoke, pick an event...) do not act behind it; it covers
    the whole terminal all the same. `function` may carry a qualifier (`name:alias`) that loads
    are sent to; `event` is the JSON payload they send. `clock` gives the time (tests fix it).
    Without a local service the screen is in real-account mode (`account`): the timeline comes
    from the log and a metrics panel, read every `metrics_every_s`, takes the load panel's place.
    """

    CSS_PATH = "visualizer.tcss"
    AUTO_FOCUS = "#viz-timeline"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="visualizer-close"),
        Binding("space", "pause", "Pause", id="visualizer-pause"),
        Binding("plus,equals_sign", "zoom_in", "Zoom", id="visualizer-zoom-in", key_display="+/-"),
        Binding("minus", "zoom_out", "Zoom out", id="visualizer-zoom-out", show=False),
        Binding("left", "pan(-1)", "Back", id="visualizer-pan-back", show=False),
        Binding("right", "pan(1)", "Forward", id="visualizer-pan-forward", show=False),
        Binding("end", "follow", "Live", id="visualizer-follow", show=False),
        Binding("b", "load('burst')", "Burst", id="visualizer-burst"),
        Binding("s", "load('steady')", "Steady", id="visualizer-steady"),
        Binding("c", "load('fixed')", "N at C", id="visualizer-fixed"),
        Binding("i", "load('once')", "Invoke once", id="visualizer-invoke-once", show=False),
        # The same key on a real account, where it is the only way to send anything: shown.
        Binding("i", "invoke_account", "Invoke", id="visualizer-invoke"),
        Binding("g", "read_metrics", "Metrics", id="visualizer-metrics"),
        Binding("x", "stop_load", "Stop", id="visualizer-stop"),
        Binding("e", "export", "Export", id="visualizer-export"),
        Binding("n", "edit('requests')", "Edit N", id="visualizer-edit-requests", show=False),
        Binding("r", "edit('reserved')", "Reserved", id="visualizer-edit-reserved", show=False),
        Binding("p", "edit('provisioned')", "Provisioned", id="visualizer-edit-provisioned", show=False),
        Binding("m", "edit('memory')", "Memory", id="visualizer-edit-memory", show=False),
        Binding("t", "app.next_theme", "Theme", id="visualizer-next-theme", show=False),
        Binding("up", "scroll_rows(-1)", "Rows up", id="visualizer-rows-up", show=False),
        Binding("down", "scroll_rows(1)", "Rows down", id="visualizer-rows-down", show=False),
    ]

    def __init__(
        self,
        session: Session,
        function: str,
        event: str,
        *,
        clock: Callable[[], float] = time.time,
        metrics_every_s: float = METRICS_EVERY_S,
    ) -> None:
        super().__init__()
        self.session = session
        name, _, qualifier = function.partition(":")
        self.function = name
        self.qualifier: str | None = qualifier or None
        self.event = event.strip() or "{}"
        self._now = clock
        service = getattr(session.backend, "service", None)
        self.service: LocalLambda | None = service if isinstance(service, LocalLambda) else None
        self.timeline = Timeline(clock=clock)
        self.window = TimeWindow()
        #: A real account: the timeline is rebuilt from the log, beside CloudWatch's metrics.
        self.account = self.service is None
        #: Why there is nothing to show (no such local function), or None.
        self.problem: str | None = None
        self._reserved = self._provisioned = self._memory = ""
        if self.service is not None:
            try:
                reserved = self.service.get_function_concurrency(name)
                provisioned = current_provisioned(self.service, name, self.qualifier)
                self._memory = str(self.service.get_function(name).memory_mb)
                self._reserved = "" if reserved is None else str(reserved)
                self._provisioned = "" if provisioned is None else str(provisioned)
            except errors.LambdaServiceError as exc:
                self.problem = f"{exc.message}. Press escape to go back."
        self._unsubscribe: Callable[[], None] | None = None
        self._runner: LoadRunner | None = None
        #: The last load's report, once it has finished.
        self.last_report: LoadReport | None = None
        self._load_running = False
        self.snapshot: Snapshot | None = None
        self._redraw_needed = True
        self._metrics_every_s = metrics_every_s
        #: The last CloudWatch metrics read (real account only), and how many reads came back.
        self.metrics: MetricsSummary | None = None
        self.metrics_reads = 0
        self._metrics_error: str | None = None
        self._tail_stop = threading.Event()

    @property
    def target(self) -> str:
        """What loads invoke: `name` or `name:qualifier`."""
        return f"{self.function}:{self.qualifier}" if self.qualifier else self.function

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar()
        if self.problem is not None:
            yield Static(self.problem, id="viz-problem")
        else:
            with Horizontal(id="viz-top"):
                yield TimelineChart(id="viz-timeline")
                with Vertical(id="viz-side"):
                    yield ConcurrencyChart(id="viz-concurrency")
                    yield Static("", id="viz-stats")
            if not self.account:
                yield AsyncQueuePanel(id="viz-async")
            if self.account:
                yield MetricsPanel(can_invoke=self.session.backend.can_invoke, id="viz-metrics")
            else:
                yield LoadPanel(
                    reserved=self._reserved, provisioned=self._provisioned, memory=self._memory, id="viz-load"
                )
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"visualizer · {self.target}"
        if self.problem is not None:
            return
        if self.service is not None:
            self._unsubscribe = self.timeline.attach(self.service)
            # Environments already warm (from invokes on the main screen) are rows from the start.
            self.timeline.adopt(self.service.environments())
        else:
            self.sub_title += " · from CloudWatch Logs and metrics"
            invokes = ": i invokes" if self.session.backend.can_invoke else ""
            self.query_one(TimelineChart).hint = f"no invocations in the log yet{invokes}"
            self._follow_log(ReportTimeline(self.timeline), self._now() - HISTORY_S, self._tail_stop)
            self.action_read_metrics()
            self.set_interval(self._metrics_every_s, self.action_read_metrics)
        self.query_one("#viz-side").border_title = "Window"
        self._show_target()
        self.set_interval(TICK_S, self._tick)

    def on_unmount(self) -> None:
        self._tail_stop.set()
        if self._runner is not None:
            self._runner.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Without a function only escape does anything here; loads and settings are local only."""
        if self.problem is not None:
            return action not in _ENGINE_ACTIONS
        return action not in (_LOCAL_ACTIONS if self.account else _ACCOUNT_ACTIONS)

    def palette_commands(self) -> Iterable[SystemCommand]:
        """This screen's actions for the command palette (those that act in its mode)."""
        for title, help_text, action, parameters in _PALETTE:
            if self.check_action(action, parameters):
                method = getattr(self, f"action_{action}")
                yield SystemCommand(title, help_text, functools.partial(method, *parameters))

    def _show_target(self) -> None:
        self.query_one(TimelineChart).border_title = f"Environments · {self.target}"
        if self.account:
            panel = self.query_one(MetricsPanel)
            panel.border_title = f"CloudWatch metrics · {self.target}"
            panel.border_subtitle = NO_LOAD
        else:
            self.query_one(LoadPanel).border_title = f"Load → {self.target}"

    # -- the clock ------------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._runner is not None and self._load_running:
            self.query_one(LoadPanel).show_progress(self._runner.progress(), finished=False)
        if self.window.paused and not self._redraw_needed:
            return
        self._redraw()

    def _redraw(self) -> None:
        chart = self.query_one(TimelineChart)
        cells = chart.cells
        if cells <= 0:
            return
        now = self._now()
        start, end = self.window.bounds(now)
        snapshot = self.timeline.snapshot(
            start=start, end=end, function=self.function, resolution_s=(end - start) / cells
        )
        self.snapshot = snapshot
        self._redraw_needed = False
        chart.show(snapshot)
        chart.border_subtitle = self.window.describe(now)
        self.query_one(ConcurrencyChart).show(snapshot)
        if self.service is not None:
            self.query_one(AsyncQueuePanel).show(self.service.async_queue(self.function), now)
        in_flight = snapshot.concurrency[-1][1] if snapshot.concurrency else 0
        live = sum(1 for environment in snapshot.environments if not environment.retired)
        self.query_one("#viz-stats", Static).update(
            stats_text(
                snapshot.summary, in_flight, live, len(snapshot.environments), live_known=not self.account
            )
        )

    def _view_changed(self) -> None:
        self._redraw_needed = True
        self._redraw()

    # -- the time axis --------------------------------------------------------------------------

    def action_pause(self) -> None:
        """Freeze the picture, or follow now again."""
        paused = self.window.toggle_pause(self._now())
        self.notify("paused: space resumes" if paused else "live", timeout=2)
        self._view_changed()

    def action_zoom_in(self) -> None:
        """A narrower window, in more detail."""
        self.window.zoom_in()
        self._view_changed()

    def action_zoom_out(self) -> None:
        """A wider window."""
        self.window.zoom_out()
        self._view_changed()

    def action_pan(self, direction: int) -> None:
        """Move the window back (-1) or forward (1) by a quarter of its width."""
        self.window.pan(direction, self._now())
        self._view_changed()

    def action_follow(self) -> None:
        """Jump back to now."""
        self.window.follow()
        self._view_changed()

    def action_scroll_rows(self, delta: int) -> None:
        """Scroll the environment rows when there are more than fit."""
        self.query_one(TimelineChart).scroll_rows(delta)

    def action_close(self) -> None:
        """Leave a field for the timeline; from the timeline, close the screen."""
        if isinstance(self.focused, Input):
            self.set_focus(self.query_one(TimelineChart))
            return
        self.dismiss(None)

    # -- loads ----------------------------------------------------------------------------------

    def _plan(self, mode: str) -> LoadPlan:
        panel = self.query_one(LoadPanel)
        if mode == "once":
            return LoadPlan.fixed(1, 1)
        if mode == "steady":
            rate = parse_rate(panel.field("rate").value)
            seconds = parse_rate(panel.field("seconds").value)
            if seconds > MAX_SECONDS:
                raise ActionError(f"for: at most {MAX_SECONDS:,.0f} seconds")
            return LoadPlan.steady(rate, seconds)
        limit = MAX_BURST if mode == "burst" else MAX_REQUESTS
        requests = parse_count(panel.field("requests").value, "N", minimum=1, maximum=limit)
        if mode == "burst":
            return LoadPlan.burst(requests)
        concurrency = parse_count(panel.field("concurrency").value, "C", minimum=1, maximum=MAX_CONCURRENCY)
        return LoadPlan.fixed(requests, concurrency)

    def action_load(self, mode: str) -> None:
        """Send a burst of N, a steady rate, N requests at concurrency C, or one invoke."""
        if self.service is None:
            return
        if self._load_running:
            self.notify("a load is running: x stops it", severity="warning")
            return
        try:
            plan = self._plan(mode)
        except (ActionError, ValueError) as exc:
            self.notify(str(exc), title="not sent", severity="error")
            return
        payload = self.event.encode()
        runner = LoadRunner(self.service, self.function, payload, plan, qualifier=self.qualifier)
        self._runner = runner
        self._load_running = True
        self.query_one(LoadPanel).show_status(f"{plan.describe()}: starting")
        self._drive(runner, payload, self.qualifier)

    @work(thread=True, exclusive=True, group="visualizer-load", exit_on_error=False)
    def _drive(self, runner: LoadRunner, payload: bytes, qualifier: str | None) -> None:
        assert self.service is not None
        worker = get_current_worker()
        try:
            # One dry run first: a bad qualifier or payload is one message, not N failed requests.
            self.service.invoke(self.function, payload, qualifier=qualifier, invocation_type="DryRun")
            runner.start()
        except errors.LambdaServiceError as exc:
            self.post_message(VisualizerLoadRefused(f"{exc.error_code}: {exc.message}"))
            return
        except Exception as exc:  # shown to the user; the screen stays usable
            self.post_message(VisualizerLoadRefused(f"{type(exc).__name__}: {exc}"))
            return
        while not runner.wait(TICK_S):
            if worker.is_cancelled:
                runner.stop()
                return
        self.post_message(VisualizerLoadFinished(runner.report()))

    def on_visualizer_load_finished(self, message: VisualizerLoadFinished) -> None:
        self._load_running = False
        self.last_report = message.report
        self.query_one(LoadPanel).show_progress(message.report.progress, finished=True)

    def on_visualizer_load_refused(self, message: VisualizerLoadRefused) -> None:
        self._load_running = False
        self.query_one(LoadPanel).show_status(f"not sent: {message.error}")
        self.notify(message.error, title="load not sent", severity="error")

    def action_stop_load(self) -> None:
        """Send nothing more; what is in flight finishes."""
        if self._runner is None or not self._load_running:
            self.notify("no load is running", timeout=2)
            return
        self._runner.stop()
        self.query_one(LoadPanel).show_status("stopping: waiting for the invocations in flight")

    # -- settings -------------------------------------------------------------------------------

    def action_edit(self, name: str) -> None:
        """Put the cursor in a field of the load panel (enter applies a setting)."""
        self.query_one(LoadPanel).edit(name)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        field = (event.input.id or "").removeprefix("viz-")
        if field in ("reserved", "provisioned", "memory"):
            self._apply(field, event.value, self.qualifier)

    @work(thread=True, group="visualizer-settings", exit_on_error=False)
    def _apply(self, field: str, text: str, qualifier: str | None) -> None:
        assert self.service is not None
        where: str | None = None
        try:
            if field == "reserved":
                said = set_reserved(self.service, self.function, text)
            elif field == "provisioned":
                where, said = set_provisioned(self.service, self.function, text, qualifier)
            else:
                said = set_memory(self.service, self.function, text, qualifier)
        except ActionError as exc:
            self.post_message(VisualizerSettingFailed(str(exc)))
            return
        except Exception as exc:  # shown to the user; the screen stays usable
            self.post_message(VisualizerSettingFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(VisualizerSettingApplied(said, where))

    def on_visualizer_setting_applied(self, message: VisualizerSettingApplied) -> None:
        self.notify(message.text, timeout=4)
        if message.qualifier is not None and message.qualifier != self.qualifier:
            # Provisioned environments only serve their alias or version: load that from now on.
            self.qualifier = message.qualifier
            self.sub_title = f"visualizer · {self.target}"
            self._show_target()
            self.notify(f"loads now go to {self.target}", timeout=4)

    def on_visualizer_setting_failed(self, message: VisualizerSettingFailed) -> None:
        self.notify(message.error, title="not changed", severity="error", timeout=8)
