"""The main screen's panels: functions, event editor, result, logs."""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.containers import Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

if TYPE_CHECKING:
    from textual.widgets import DataTable, TextArea

    from lambench.core.backends.base import FunctionSummary, InvokeOutcome

from lambench.core.logs.model import LogLine, LogQuery
from lambench.core.logs.parse import is_platform_line, matches, normalise_level

#: Lines the log view keeps; older ones scroll away.
LOG_VIEW_LINES = 5_000


class TitleBar(Static):
    """The top line: the app's title and what the screen shows (its sub-title, else the app's).

    One line of text instead of Textual's Header, whose three widgets cost time before the first
    paint and whose clock and icon add nothing here.
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sub_title", self._show, init=False)
        self.watch(self.screen, "sub_title", self._show, init=False)
        self._show()

    def _show(self, _: object = None) -> None:
        screen_sub_title = self.screen.sub_title
        sub_title = screen_sub_title if screen_sub_title is not None else self.app.sub_title
        text = Text(self.app.title, style="bold")
        if sub_title:
            text.append(" — ")
            text.append(sub_title, style="dim")
        self.update(text)


class FunctionsPanel(Vertical):
    """The functions, filtered as you type; the highlighted row is the selected function."""

    def on_mount(self) -> None:
        self.border_title = "Functions"
        # The filter and the table come after the first paint: the frame shows at once, its
        # contents a moment later.
        self.call_after_refresh(self._add_table)
        self._wants_focus = False
        self._functions: list[FunctionSummary] = []
        self._last: dict[str, str] = {}
        self._environments: dict[str, str] = {}
        # Functions reloaded since their last invoke: marked with ↻ until then.
        self._reloaded: set[str] = set()

    def _add_table(self) -> None:
        from textual.widgets import DataTable

        table: DataTable[str] = DataTable(id="functions", cursor_type="row", zebra_stripes=False)
        # Most useful first: at 80 columns the panel shows name, environments and the last result.
        table.add_columns("function", "env", "last", "MB", "s", "runtime", "triggers")
        self.mount(Input(placeholder="filter functions", id="function-filter"), table)
        self._refresh_rows()
        if self._wants_focus or self.app.focused is None:
            table.focus()

    def focus_table(self) -> None:
        """Give the function list the focus (now, or as soon as it exists)."""
        table = self._table()
        if table is None:
            self._wants_focus = True
        else:
            table.focus()

    def _table(self) -> DataTable[str] | None:
        tables = self.query("#functions")
        return tables.first() if tables else None  # type: ignore[return-value]

    def show(self, functions: list[FunctionSummary]) -> None:
        """Replace the list."""
        self._functions = functions
        self._refresh_rows()

    def note_result(self, function: str, text: str) -> None:
        """Record the last result of a function (`ok 3 ms`, `Unhandled`)."""
        self._last[function] = text
        self._reloaded.discard(function)
        self._refresh_rows()

    def note_reload(self, functions: Iterable[str]) -> None:
        """Mark functions hot reload has just reloaded."""
        self._reloaded.update(functions)
        self._refresh_rows()

    def note_environments(self, counts: dict[str, str]) -> None:
        """Warm/busy environment counts by function, as `2/1`."""
        if counts != self._environments:
            self._environments = counts
            self._refresh_rows()

    @property
    def selected(self) -> str | None:
        """The highlighted function's name."""
        table = self._table()
        if table is None or table.row_count == 0:
            return None
        key, _ = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0))
        return None if key.value is None else str(key.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refresh_rows()

    def _refresh_rows(self) -> None:
        table = self._table()
        if table is None:
            return
        filters = self.query("#function-filter")
        wanted = filters.first(Input).value.strip().lower() if filters else ""
        rows = {
            function.name: self._cells(function)
            for function in self._functions
            if not wanted or wanted in function.name.lower()
        }
        if list(rows) == [key.value for key in table.rows]:
            # Same rows: change only the cells that differ (during a burst, the environment counts
            # change ten times a second; rebuilding the table each time would cost the UI).
            for name, cells in rows.items():
                for column, value in zip(table.columns, cells, strict=True):
                    if table.get_cell(name, column) != value:
                        table.update_cell(name, column, value, update_width=True)
            return
        previous = self.selected
        table.clear()
        for name, cells in rows.items():
            table.add_row(*cells, key=name)
        if previous is not None and previous in table.rows:
            table.move_cursor(row=table.get_row_index(previous))

    def _cells(self, function: FunctionSummary) -> tuple[str, ...]:
        marker = " ↻" if function.name in self._reloaded else ""
        return (
            function.name + marker,
            self._environments.get(function.name, "-"),
            self._last.get(function.name, ""),
            str(function.memory_mb),
            str(function.timeout_s),
            function.runtime,
            ", ".join(function.triggers),
        )


class EventEditor(Vertical):
    """The event as JSON, checked as you type."""

    valid: reactive[bool] = reactive(True)

    def __init__(self, text: str = "{}", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._initial = text

    def compose(self) -> ComposeResult:
        yield Static("valid JSON", id="event-status")

    def on_mount(self) -> None:
        self.border_title = "Event"
        self._check()
        # The editor and its JSON grammar come after the first paint.
        self.call_after_refresh(self._add_editor)

    def _add_editor(self) -> None:
        from textual.widgets import TextArea

        editor = TextArea(self._initial, id="event-text", show_line_numbers=True, tab_behavior="indent")
        self.mount(editor, before=self.query_one("#event-status"))
        editor.language = "json"

    def _editor(self) -> TextArea | None:
        editors = self.query("#event-text")
        return editors.first() if editors else None  # type: ignore[return-value]

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._check()

    @property
    def text(self) -> str:
        """The event as typed."""
        editor = self._editor()
        return self._initial if editor is None else editor.text

    def load(self, text: str) -> None:
        """Replace the event."""
        editor = self._editor()
        if editor is None:
            self._initial = text
        else:
            editor.load_text(text)
        self._check()

    def problem(self) -> str | None:
        """Why the event cannot be sent, or None when it is valid JSON."""
        text = self.text
        if not text.strip():
            return None
        try:
            json.loads(text)
        except ValueError as exc:
            return f"invalid JSON: {exc}"
        return None

    def _check(self) -> None:
        problem = self.problem()
        self.valid = problem is None
        status = self.query_one("#event-status", Static)
        status.update(problem or "valid JSON")
        status.set_class(problem is not None, "invalid")


class ResultView(VerticalScroll):
    """The last invoke: a status line, then the payload (or the function error) highlighted."""

    def compose(self) -> ComposeResult:
        yield Static("no invoke yet: press i to invoke the selected function", id="result-status")
        yield Static("", id="result-payload")

    def on_mount(self) -> None:
        self.border_title = "Result"
        self.payload_text = ""

    def show(self, function: str, outcome: InvokeOutcome) -> None:
        """Render an outcome."""
        self.query_one("#result-status", Static).update(status_line(function, outcome))
        payload = self.query_one("#result-payload", Static)
        text = outcome.payload.decode("utf-8", "replace")
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False) if text else ""
        except ValueError:
            pretty = text
        #: The payload as shown, pretty-printed (for the log jump, copying and tests).
        self.payload_text = pretty
        # Imported here: pygments' lexers cost start-up time before the first result is needed.
        from rich.syntax import Syntax

        payload.update(Syntax(pretty, "json", word_wrap=True, background_color="default") if pretty else "")
        self.set_class(outcome.function_error is not None, "function-error")

    def show_pending(self, function: str) -> None:
        """An invoke is on its way."""
        self.query_one("#result-status", Static).update(Text(f"{function}: invoking..."))

    def show_error(self, function: str, error: str) -> None:
        """The service refused the invoke."""
        self.query_one("#result-status", Static).update(Text(f"{function}: {error}"))
        self.query_one("#result-payload", Static).update("")
        self.set_class(True, "function-error")


def status_line(function: str, outcome: InvokeOutcome) -> Text:
    """`hello  200  cold  1.02 ms  billed 24 ms  init 22.9 ms  11/128 MB  req 3f0c...`."""
    parts = [function, str(outcome.status_code)]
    if outcome.function_error:
        parts.append(f"{outcome.function_error}: {outcome.error_type or '?'}")
    figures = outcome.figures
    if figures is not None:
        parts.append("cold" if figures.cold else "warm")
        parts.append(f"{figures.duration_ms:.2f} ms")
        if figures.billed_duration_ms is not None:
            parts.append(f"billed {figures.billed_duration_ms} ms")
        if figures.init_duration_ms is not None:
            parts.append(f"init {figures.init_duration_ms:.1f} ms")
        if figures.max_memory_used_mb is not None and figures.memory_size_mb is not None:
            parts.append(f"{figures.max_memory_used_mb}/{figures.memory_size_mb} MB")
    cost = invocation_cost(outcome)
    if cost is not None:
        parts.append(f"${cost:.9f}".rstrip("0"))
    if outcome.request_id:
        parts.append(f"req {outcome.request_id}")
    return Text("  ".join(parts))


def invocation_cost(outcome: InvokeOutcome, architecture: str = "x86_64") -> float | None:
    """What this one invocation costs on AWS (request plus GB-seconds, before the free tier)."""
    from lambench.core.timeline.cost import duration_cost, gb_seconds, request_cost

    figures = outcome.figures
    if figures is None or figures.billed_duration_ms is None or figures.memory_size_mb is None:
        return None
    return request_cost(1) + duration_cost(
        gb_seconds(figures.memory_size_mb, figures.billed_duration_ms), architecture
    )


class LogsPanel(Vertical):
    """The live log: a filter line over the lines, kept in a bounded buffer and re-rendered on demand.

    Filter syntax: words must all appear; `req:ID` keeps one request; `level:warn` keeps WARN and
    worse; `fn:NAME` one function. Following sticks to the end unless the user has scrolled up,
    in which case new lines are counted in the title instead of moving the view.
    """

    def compose(self) -> ComposeResult:
        yield LogLinesView(id="log-lines")

    def on_mount(self) -> None:
        self.border_title = "Logs"
        # The filter line is mounted after the first paint (it is not needed before then).
        self.call_after_refresh(
            lambda: self.mount(
                Input(placeholder="filter logs: text, req:ID, level:warn, fn:NAME", id="log-filter"),
                before=0,
            )
        )
        self._buffer: collections.deque[LogLine] = collections.deque(maxlen=LOG_VIEW_LINES)
        self._query = LogQuery()
        self._text = ""
        self._words: list[str] = []
        self._filtering = False
        self.unseen = 0

    @property
    def lines(self) -> list[LogLine]:
        """The lines kept (newest last), whatever the filter."""
        return list(self._buffer)

    def shown_lines(self) -> list[LogLine]:
        """The kept lines that pass the filter."""
        return [line for line in self._buffer if self._passes(line)]

    def add_lines(self, lines: list[LogLine]) -> int:
        """Keep and (if they pass the filter) show new lines; returns how many were shown."""
        self._buffer.extend(lines)
        view = self.query_one("#log-lines", LogLinesView)
        at_end = view.is_vertical_scroll_end or view.max_scroll_y == 0
        passing = [line for line in lines if self._passes(line)] if self._filtering else lines
        view.append(passing, follow=at_end)
        shown = len(passing)
        if not at_end and shown:
            self.unseen += shown
        elif at_end:
            self.unseen = 0
        self._show_unseen()
        return shown

    def _show_unseen(self) -> None:
        subtitle = f"{self.unseen:,} new lines below (End to follow)" if self.unseen else ""
        # Setting a border title repaints the whole panel, even to the same text: under a flood
        # this runs ten times a second.
        if (self.border_subtitle or "") != subtitle:
            self.border_subtitle = subtitle

    def follow(self) -> None:
        """Scroll to the end and follow again."""
        self.query_one("#log-lines", LogLinesView).scroll_end(animate=False)
        self.unseen = 0
        self._show_unseen()

    def set_filter(self, text: str) -> None:
        """Filter by `text` (see the class docstring) and re-render what is kept."""
        for field in self.query("#log-filter").results(Input):
            if field.value != text:
                field.value = text
        self._apply(text)

    def clear(self) -> None:
        """Forget every line."""
        self._buffer.clear()
        self.query_one("#log-lines", LogLinesView).replace([])
        self.unseen = 0
        self._show_unseen()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-filter":
            self._apply(event.value)

    def scope(self, function: str | None) -> None:
        """Show one function's lines (None: every function's), keeping the rest of the filter."""
        words = [word for word in self._text.split() if not word.startswith("fn:")]
        if function is not None:
            words.append(f"fn:{function}")
        self.border_title = f"Logs · {function}" if function is not None else "Logs"
        self.set_filter(" ".join(words))

    def _apply(self, text: str) -> None:
        self._text = text
        function = request_id = level = None
        words = []
        for word in text.split():
            key, sep, value = word.partition(":")
            if sep and key == "req" and value:
                request_id = value
            elif sep and key == "level" and normalise_level(value):
                level = normalise_level(value)
            elif sep and key == "fn" and value:
                function = value
            else:
                words.append(word)
        self._query = LogQuery(function=function, request_id=request_id, level=level)
        self._words = words
        self._filtering = bool(words or function or request_id or level)
        self.query_one("#log-lines", LogLinesView).replace(self.shown_lines())
        self.unseen = 0
        self._show_unseen()

    def _passes(self, line: LogLine) -> bool:
        if not matches(line, self._query):
            return False
        return all(word in line.text for word in self._words)


class LogLinesView(ScrollView, can_focus=True):
    """Log lines, rendered only where they are on screen, so appending costs nothing per line.

    Holds at most LOG_VIEW_LINES lines; older ones are dropped in chunks (the view stays where the
    reader left it).
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: list[LogLine] = []
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._first = 0  # the absolute number of self._lines[0], so cache keys survive trimming
        self._widest = 0  # an estimate of the widest line's cells: how far the view scrolls right

    @property
    def line_count(self) -> int:
        """Lines held."""
        return len(self._lines)

    def append(self, lines: list[LogLine], *, follow: bool) -> None:
        """Add lines at the end; with `follow`, keep the last line in view."""
        if not lines:
            return
        self._lines.extend(lines)
        self._widest = max(self._widest, _widest(lines))
        excess = len(self._lines) - LOG_VIEW_LINES
        if excess > LOG_VIEW_LINES // 10:
            del self._lines[:excess]
            self._first += excess
            if not follow:
                self.scroll_to(y=max(0, self.scroll_y - excess), animate=False)
        self.virtual_size = Size(self._widest, len(self._lines))
        if follow:
            self.scroll_end(animate=False, immediate=False)
        self.refresh()

    def replace(self, lines: list[LogLine]) -> None:
        """Show exactly `lines` (after a filter change), following the end."""
        self._first += len(self._lines)
        self._lines = list(lines[-LOG_VIEW_LINES:])
        self._widest = _widest(self._lines)
        self._cache.clear()
        self.virtual_size = Size(self._widest, len(self._lines))
        self.scroll_end(animate=False, immediate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, style)
        key = (self._first + index, id(self._lines[index]))
        strip = self._cache.get(key)
        if strip is None:
            text = render_line(self._lines[index])
            text.stylize(style)
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._cache[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)


def _widest(lines: list[LogLine]) -> int:
    """About the cells the widest of `lines` takes rendered (tabs count double; cheap for floods)."""
    if not lines:
        return 0
    return max(len(line.function) + len(line.text) for line in lines) + len(" 00:00:00  ") + 8


def render_line(line: LogLine) -> Text:
    """A log line styled by kind: platform lines, then levels; the function name when not obvious."""
    stamp = time.strftime("%H:%M:%S", time.localtime(line.time))
    text = Text(f" {stamp} ", style="dim")
    if line.function:
        text.append(f"{line.function} ", style="dim italic")
    body = line.text.rstrip("\n").replace("\t", "  ")
    if is_platform_line(line.text):
        style = "cyan"
    elif line.level in ("ERROR", "FATAL"):
        style = "bold red"
    elif line.level == "WARN":
        style = "yellow"
    elif line.level in ("DEBUG", "TRACE"):
        style = "dim"
    else:
        style = ""
    text.append(body, style=style)
    return text
