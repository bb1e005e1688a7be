"""`TuneScreen`: power tuning of one function from the TUI, with the recommended size one key away.

The tune runs in a thread worker on an engine of its own (CPU scaled to memory, the session's
account for AWS calls), so the session's environments are left alone; progress and the report
come back as typed messages. `w` asks to write the recommended `MemorySize` to template.yaml and
`y` confirms; nothing is written otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from lambench.tui.widgets import TitleBar

if TYPE_CHECKING:
    from lambench.core.tune import TuneReport
    from lambench.tui.session import Session

#: The sizes the screen tries, and the invocations at each.
SIZES = (128, 256, 512, 1024, 1769)
REQUESTS = 6


@dataclass
class TuneProgress(Message):
    """One more invocation done at `size` MB."""

    size: int
    done: int
    total: int


@dataclass
class TuneFinished(Message):
    """The tune ended: its report, or the one-line reason it could not run."""

    report: TuneReport | None
    error: str | None = None


class TuneScreen(ModalScreen[None]):
    """The function at each memory size: a table, a chart and the recommendation."""

    CSS_PATH = "tune_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="close-tune"),
        Binding("w", "ask_write", "Write MemorySize", id="write-memory"),
        Binding("y", "confirm_write", "Yes", show=False, id="confirm-memory"),
        Binding("n", "cancel_write", "No", show=False, id="cancel-memory"),
    ]

    def __init__(self, session: Session, function: str, event: str) -> None:
        super().__init__()
        self.session = session
        self.function = function
        self.event = event
        self.report: TuneReport | None = None
        self.asking = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(f"tuning {self.function}...", id="tune-progress")
        yield Static("", id="tune-report")
        yield Static("", id="tune-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"tune · {self.function}"
        self._run()

    def on_unmount(self) -> None:
        self._stop.set()

    @work(thread=True, exclusive=True, group="tune")
    def _run(self) -> None:
        from lambench.core.runtime.service import LocalLambda
        from lambench.core.tune import Tuner

        backend = self.session.backend
        service = getattr(backend, "service", None)
        account = getattr(backend, "account", None)
        if service is None:
            self.post_message(
                TuneFinished(None, "tuning runs on the local engine only (not --backend aws yet)")
            )
            return
        try:
            config = service.get_function(self.function)
            environment = account.function_environment() if account is not None else None
            with LocalLambda([config], cpu_scaling="auto", account_environment=environment) as engine:
                tuner = Tuner(engine, self.function, self.event.encode(), requests=REQUESTS, concurrency=1)

                def progress(size: int, done: int, total: int) -> None:
                    if self._stop.is_set():
                        raise InterruptedError
                    self.post_message(TuneProgress(size, done, total))

                report = tuner.run(SIZES, "balanced", progress)
        except InterruptedError:
            return
        except Exception as exc:  # a failed tune is reported on the screen, never a crash
            self.post_message(TuneFinished(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(TuneFinished(report))

    def on_tune_progress(self, message: TuneProgress) -> None:
        self.query_one("#tune-progress", Static).update(
            f"tuning {self.function}: {message.size} MB, {message.done}/{message.total}"
        )

    def on_tune_finished(self, message: TuneFinished) -> None:
        from lambench.core.tune import report_lines

        progress = self.query_one("#tune-progress", Static)
        if message.report is None:
            progress.update(f"not tuned: {message.error}")
            return
        self.report = message.report
        mechanism = message.report.cpu_mechanism
        progress.update(f"{self.function}: {len(SIZES)} sizes x {REQUESTS} invocations, CPU by {mechanism}")
        self.query_one("#tune-report", Static).update("\n".join(report_lines(message.report)))
        if message.report.recommended_mb is not None:
            self._status(f"w writes MemorySize: {message.report.recommended_mb} to template.yaml")

    def _status(self, text: str) -> None:
        self.query_one("#tune-status", Static).update(text)

    def action_ask_write(self) -> None:
        """Ask before writing the recommended size to the template."""
        if self.report is None or self.report.recommended_mb is None:
            self.notify("nothing to write yet", severity="warning")
            return
        self.asking = True
        self._status(
            f"Write MemorySize: {self.report.recommended_mb} for {self.function} to template.yaml? y / n"
        )

    def action_cancel_write(self) -> None:
        """Leave the template as it is."""
        if self.asking:
            self.asking = False
            self._status("not written")

    def action_confirm_write(self) -> None:
        """Write the recommended MemorySize (only after `w`)."""
        if not self.asking or self.report is None or self.report.recommended_mb is None:
            return
        self.asking = False
        from lambench.core.template import load_project
        from lambench.core.template.edit import TemplateEditError, set_memory_size

        directory = Path(getattr(self.session.backend, "project_dir", "."))
        try:
            project = load_project(directory)
            if project.template_path is None or self.function not in project.logical_ids:
                raise TemplateEditError(f"no template.yaml in {directory} describes {self.function}")
            written = set_memory_size(
                project.template_path, project.logical_ids[self.function], self.report.recommended_mb
            )
        except (TemplateEditError, OSError, ValueError) as exc:
            self._status(f"not written: {exc}")
            return
        self._status(f"wrote {written} for {self.function} (hot reload picks it up)")

    def action_close(self) -> None:
        """Back to the function list (a tune still running is stopped)."""
        self._stop.set()
        self.dismiss(None)
