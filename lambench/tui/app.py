"""`LambenchApp`: the terminal workbench. Start-up paints at once; the backend opens in a worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Footer

from lambench.tui.log_actions import LogPaneActions
from lambench.tui.messages import BackendFailed, BackendReady, InvokeFailed, InvokeFinished
from lambench.tui.palette import help_keys, main_commands, theme_commands
from lambench.tui.qualifiers import QualifierChoice
from lambench.tui.themes import DEFAULT_THEME, load_themes
from lambench.tui.widgets import EventEditor, FunctionsPanel, LogsPanel, ResultView, TitleBar

if TYPE_CHECKING:
    from lambench.core.backends.base import Backend
    from lambench.core.events import SavedEvent
    from lambench.tui.session import Session

#: Actions that act on the main screen's panels: off while another screen is on top.
_MAIN_SCREEN_ACTIONS = frozenset(
    {
        *("invoke", "invoke_async", "invoke_again", "filter", "filter_logs", "jump_to_logs"),
        *("follow_logs", "clear_logs", "pick_event", "save_event", "choose_qualifier", "visualize"),
        "scope_logs",
        "tune",
    }
)

#: How often buffered log lines and reloads reach the screen.
TICK_S = 0.1
#: How often the function list's environment counts are refreshed: each change re-renders the
#: whole table, which under a burst would otherwise cost a third of the UI thread's time.
ENVIRONMENTS_EVERY_S = 0.3


class LambenchApp(LogPaneActions, QualifierChoice, App[None]):
    """Functions, event, result and live logs of one backend."""

    CSS_PATH = "lambench.tcss"
    TITLE = "lambench"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "invoke", "Invoke", id="invoke"),
        # Works while typing in the event editor too.
        Binding("f5", "invoke", "Invoke", id="invoke-anywhere", show=False, priority=True),
        Binding("a", "invoke_async", "Async", id="invoke-async"),
        Binding("r", "invoke_again", "Again", id="invoke-again"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("e", "pick_event", "Events", id="pick-event"),
        Binding("f4", "pick_event", "Events", id="pick-event-anywhere", show=False, priority=True),
        Binding("s", "save_event", "Save event", id="save-event"),
        Binding("q", "choose_qualifier", "Qualifier", id="choose-qualifier"),
        Binding("v", "visualize", "Visualize", id="visualize"),
        Binding("u", "tune", "Tune", id="tune", show=False),
        Binding("t", "next_theme", "Theme", id="next-theme"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("l", "filter_logs", "Log filter", id="filter-logs"),
        Binding("j", "jump_to_logs", "Its logs", id="jump-to-logs"),
        Binding("f", "scope_logs", "Log: this/all", id="scope-logs"),
        Binding("end", "follow_logs", "Follow", id="follow-logs", show=False),
        Binding("ctrl+l", "clear_logs", "Clear logs", id="clear-logs", show=False),
    ]

    def __init__(
        self,
        open_backend: Callable[[], Backend],
        *,
        subtitle: str = "",
        theme: str | None = None,
        project_dir: Path | None = None,
        theme_dirs: tuple[Path, ...] | None = None,
        settle_heap: Callable[[], None] | None = None,
    ) -> None:
        """`open_backend` runs in a worker once the screen shows. `settle_heap` is called when
        long-lived objects have just been built: after the first frame, and once the backend is
        open (the command line passes `heap.settle`)."""
        super().__init__()
        self._settle_heap = settle_heap
        self._theme_dirs = theme_dirs
        self._project_dir = project_dir or Path.cwd()
        self._open_backend = open_backend
        self.sub_title = subtitle
        self._wanted_theme = theme or DEFAULT_THEME
        self.session: Session | None = None
        self._last_event: tuple[str, str] | None = None
        self._last_request_id: str | None = None
        self._tailed: str | None = None
        #: Where the traceback of an unexpected error was saved (set when one happens).
        self.crash_report: Path | None = None
        self._retail_timer: Timer | None = None
        #: Whether the log shows only the selected function's lines (`f` switches).
        self.log_scoped = False
        #: The qualifier invokes use, by function (absent: $LATEST).
        self.qualifiers: dict[str, str] = {}
        # Themes are chosen before the first compose: setting one after mounting re-parses and
        # re-applies every stylesheet, which cost a third of the time to first paint.
        self._theme_problems = self._install_themes()

    # -- start-up -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        with Horizontal(id="top"):
            yield FunctionsPanel(id="functions-panel")
            with Vertical(id="work"):
                yield EventEditor("{}", id="event")
                yield ResultView(id="result")
        yield LogsPanel(id="logs")
        yield Footer()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 140, "-wide")
        # On a tall terminal (a projector, a big window) the log gets its share of the height.
        self.set_class(self.size.height >= 40, "-tall")

    def on_mount(self) -> None:
        if self._settle_heap is not None:
            self.call_after_refresh(self._settle_heap)
        for problem in self._theme_problems:
            self.notify(problem, severity="warning", timeout=8)
        self.set_interval(TICK_S, self._tick)
        self.set_interval(ENVIRONMENTS_EVERY_S, self._count_environments)
        self._open()

    def _install_themes(self) -> list[str]:
        """Register the theme files and choose the wanted theme; returns what to warn about."""
        loaded = load_themes() if self._theme_dirs is None else load_themes(self._theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        problems = [f"theme skipped: {problem}" for problem in loaded.problems]
        names = {theme.name for theme in loaded.themes}
        wanted = self._wanted_theme
        if wanted not in names and wanted not in self.available_themes:
            problems.append(f"no theme named {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME if DEFAULT_THEME in names else "textual-dark"
        self.theme = wanted
        return problems

    @work(thread=True, exclusive=True, group="backend")
    def _open(self) -> None:
        try:
            backend = self._open_backend()
        except Exception as exc:
            self.post_message(BackendFailed(str(getattr(exc, "message", exc))))
            return
        try:
            functions = backend.list_functions()
        except Exception as exc:
            backend.close()
            self.post_message(BackendFailed(str(getattr(exc, "message", exc))))
            return
        self.post_message(BackendReady(backend, functions))

    def on_backend_ready(self, message: BackendReady) -> None:
        from lambench.tui.session import Session

        self.session = Session(message.backend)
        self._resume_events(self.session)
        if self._settle_heap is not None:
            self._settle_heap()
        self.query_one(FunctionsPanel).focus_table()
        # The editor's title names the function invokes go to, once the list has its rows.
        self.call_after_refresh(self._show_target)
        self.sub_title = message.backend.description
        self.query_one(FunctionsPanel).show(message.functions)
        self._tailed = None if message.backend.kind == "local" else self._selected()
        self.session.start_tail(self._tailed)
        if not message.functions:
            self.notify("no functions here: add a template.yaml, or pass --project", severity="warning")
        self._announce_front_door(message.backend)

    def _announce_front_door(self, backend: Backend) -> None:
        """Say where the template's HTTP routes and function URLs are served (or why not)."""
        server = getattr(backend, "front_door", None)
        problem = getattr(backend, "front_door_error", None)
        if problem:
            self.notify(problem, title="HTTP front door not started", severity="warning", timeout=15)
        if server is None:
            return
        lines = []
        if server.api_url is not None:
            lines.append(f"APIs ({len(server.door.doors.routes)} routes) at {server.api_url}")
        lines += [f"{url.function}'s URL at {server.url_of(url)}" for url in server.door.doors.urls]
        if server.alb_url is not None:
            lines.append(f"load balancer at {server.alb_url}")
        self.notify("\n".join(lines), title="HTTP front door", timeout=15)

    @work(thread=True, group="backend-resume")
    def _resume_events(self, session: Session) -> None:
        session.resume_pending_events()

    def on_backend_failed(self, message: BackendFailed) -> None:
        self.notify(message.error, title="cannot open the backend", severity="error", timeout=30)

    # -- actions --------------------------------------------------------------------------------

    def _selected(self) -> str | None:
        try:
            return self.query_one(FunctionsPanel).selected
        except NoMatches:
            return None  # the screen is being torn down

    def action_invoke(self) -> None:
        """Invoke the selected function with the event in the editor."""
        self._invoke_current("RequestResponse")

    def action_invoke_async(self) -> None:
        """An Event (asynchronous) invoke of the selected function."""
        self._invoke_current("Event")

    def action_invoke_again(self) -> None:
        """Invoke again with the last event sent."""
        if self._last_event is None:
            self.notify("nothing to repeat yet: press i first", severity="warning")
            return
        function, event = self._last_event
        self._invoke(function, event, "RequestResponse")

    def _invoke_current(self, invocation_type: str) -> None:
        if isinstance(self.screen, ModalScreen):
            return  # F5 is a priority key: not while a dialog is open
        function = self._selected()
        if self.session is None or function is None:
            self.notify("no function selected yet", severity="warning")
            return
        editor = self.query_one(EventEditor)
        problem = editor.problem()
        if problem is not None:
            self.notify(f"not invoked: {problem}", severity="error")
            return
        target = self._target(function)
        self._invoke(target, editor.text or "{}", invocation_type)

    def _invoke(self, function: str, event: str, invocation_type: str) -> None:
        if self.session is None:
            return
        if not self.session.backend.can_invoke:
            self.notify(
                "invoking is off for this account: start lambench with --allow-invoke", severity="error"
            )
            return
        self._last_event = (function, event)
        self.query_one(ResultView).show_pending(function)
        self._run_invoke(function, event, invocation_type)

    @work(thread=True, group="invoke")
    def _run_invoke(self, function: str, event: str, invocation_type: str) -> None:
        assert self.session is not None
        name, _, qualifier = function.partition(":")
        try:
            outcome = self.session.backend.invoke(
                name, event.encode(), qualifier=qualifier or None, invocation_type=invocation_type
            )
        except Exception as exc:
            code = getattr(exc, "error_code", None) or getattr(exc, "code", None)
            text = getattr(exc, "message", str(exc))
            self.post_message(InvokeFailed(function, f"{code}: {text}" if code else text))
            return
        self.post_message(InvokeFinished(function, qualifier or None, event, outcome))

    def on_invoke_finished(self, message: InvokeFinished) -> None:
        self.query_one(ResultView).show(message.function, message.outcome)
        self._last_request_id = message.outcome.request_id
        outcome = message.outcome
        if outcome.function_error:
            last = outcome.error_type or outcome.function_error
        elif outcome.status_code == 202:
            last = "queued"
        else:
            figures = outcome.figures
            last = f"ok {figures.duration_ms:.1f} ms" if figures is not None else "ok"
        self.query_one(FunctionsPanel).note_result(message.function.partition(":")[0], last)

    def on_invoke_failed(self, message: InvokeFailed) -> None:
        self.query_one(ResultView).show_error(message.function, message.error)
        self.notify(message.error, title=f"{message.function} not invoked", severity="error")

    def action_visualize(self) -> None:
        """Open the concurrency and cold-start visualizer on the selected function."""
        function = self._selected()
        if self.session is None or function is None:
            self.notify("no function selected yet", severity="warning")
            return
        # Imported on first use: the visualizer's modules cost start-up time before the first paint.
        from lambench.tui.visualizer import VisualizerScreen

        target = self._target(function)
        self.push_screen(VisualizerScreen(self.session, target, self.query_one(EventEditor).text or "{}"))

    def action_tune(self) -> None:
        """Run the selected function at several memory sizes (power tuning) on a screen of its own."""
        function = self._selected()
        if self.session is None or function is None:
            self.notify("no function selected yet", severity="warning")
            return
        from lambench.tui.tune_screen import TuneScreen

        self.push_screen(TuneScreen(self.session, function, self.query_one(EventEditor).text or "{}"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main screen's actions only while the main screen is showing (F4/F5 are priority keys)."""
        return not (action in _MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0])

    def action_pick_event(self) -> None:
        """Open the event picker; the chosen event replaces the editor's."""
        if isinstance(self.screen, ModalScreen):
            return

        # Dialogs are imported when first opened: they cost start-up time before the first paint.
        from lambench.tui.event_picker import EventPickerScreen

        def chosen(text: str | None) -> None:
            if text is not None:
                self.query_one(EventEditor).load(text)

        self.push_screen(EventPickerScreen(self._project_dir, self._selected()), callback=chosen)

    def action_save_event(self) -> None:
        """Save the editor's event for the selected function."""
        function = self._selected()
        if function is None:
            self.notify("no function selected yet", severity="warning")
            return
        editor = self.query_one(EventEditor)
        from lambench.tui.event_form import SaveEventScreen

        def saved(event: SavedEvent | None) -> None:
            if event is not None:
                self.notify(f"saved {event.label}", timeout=3)

        self.push_screen(SaveEventScreen(self._project_dir, function, editor.text), callback=saved)

    def on_data_table_row_highlighted(self) -> None:
        try:
            self._show_target()
            if self.log_scoped:
                self.query_one(LogsPanel).scope(self._selected())
        except NoMatches:
            return  # a late event while the app shuts down
        # A real account's tail follows one function, the selected one; arrowing through the list
        # restarts it once the cursor rests.
        if self.session is not None and self.session.backend.kind != "local":
            if self._retail_timer is not None:
                self._retail_timer.stop()
            self._retail_timer = self.set_timer(0.3, self._follow_selected)

    def _follow_selected(self) -> None:
        session, function = self.session, self._selected()
        if session is None or function is None or function == self._tailed:
            return
        self._tailed = function
        session.start_tail(function, since=time.time() - 300)

    def action_help(self) -> None:
        """List every key."""
        from lambench.tui.dialogs import HelpScreen

        self.push_screen(HelpScreen(help_keys(self.BINDINGS)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette: the screen's lambench actions, the themes, then Textual's own commands."""
        from lambench.tui.visualizer import VisualizerScreen

        if isinstance(screen, VisualizerScreen):
            yield from screen.palette_commands()
        elif screen is self.screen_stack[0]:
            yield from main_commands(self)
        yield from theme_commands(self)
        yield from super().get_system_commands(screen)

    def action_filter(self) -> None:
        """Focus the function filter."""
        # The filter is mounted just after the first paint: a key before then finds none.
        for field in self.query("#function-filter"):
            field.focus()

    def action_next_theme(self) -> None:
        """Cycle through lambench's themes."""
        names = sorted(name for name in self.available_themes if name.startswith("lambench-"))
        if not names:
            return
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    # -- the clock ------------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.session is None:
            return
        try:
            self._show_drained(self.session)
        except NoMatches:
            return  # the app is shutting down: its widgets are being removed

    def _show_drained(self, session: Session) -> None:
        logs = self.query_one(LogsPanel)
        drained = session.drain()
        if drained.skipped:
            self.notify(f"{drained.skipped:,} log lines skipped to keep up", severity="warning", timeout=3)
        if drained.lines:
            logs.add_lines(drained.lines)
        for notice in drained.notices:
            self.notify(notice, severity="warning")
        for record in drained.reloads:
            if record.error is not None:
                self.notify(record.error, title="not reloaded", severity="error", timeout=10)
            else:
                self.notify(record.summary(), title="hot reload", timeout=4)
                self.query_one(FunctionsPanel).note_reload(record.functions)

    def _count_environments(self) -> None:
        service = getattr(self.session.backend, "service", None) if self.session is not None else None
        if service is None:
            return
        counts: dict[str, list[int]] = {}
        for info in service.environments():
            warm_busy = counts.setdefault(info.function, [0, 0])
            warm_busy[1 if info.busy else 0] += 1
        try:
            self.query_one(FunctionsPanel).note_environments(
                {name: f"{warm}/{busy}" for name, (warm, busy) in counts.items()}
            )
        except NoMatches:
            return  # the app is shutting down

    def _fatal_error(self) -> None:
        """An unexpected error: a short, readable report on exit, the traceback saved to a file.

        Overrides Textual's handler (which prints the whole traceback with locals). The session is
        closed at once, so no runtime or server outlives the app.
        """
        # Imported only when the app crashes: nothing else needs it.
        from lambench.tui.crash import exit_panel, save_traceback

        error = self._exception
        path, where = save_traceback(error, self._project_dir)
        if self.session is not None:
            self.session.close()
        self.bell()
        self.crash_report = path
        self._exit_renderables.append(exit_panel(self.console, error, where))
        self._close_messages_no_wait()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.close()
