"""`WindowExport`: the visualizer's `e`: the window as JSON and CSV, and the screen as SVG.

A mixin of `VisualizerScreen`. The screenshot is taken on the UI thread (it reads the widgets);
the JSON and CSV (`actions.export_snapshot`) are written in a thread worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.screen import ModalScreen

from lambench.core.timeline.spans import Snapshot
from lambench.tui.session import Session
from lambench.tui.visualizer.actions import export_directory, export_snapshot, export_stem
from lambench.tui.visualizer.messages import VisualizerExported, VisualizerExportFailed


class WindowExport(ModalScreen[None]):
    """Exporting what the visualizer last drew."""

    session: Session
    #: The last snapshot drawn, or None before the first.
    snapshot: Snapshot | None
    _now: Callable[[], float]

    if TYPE_CHECKING:

        @property
        def target(self) -> str: ...

    def action_export(self) -> None:
        """Write the window as JSON and CSV (the core's export) and the screen as SVG."""
        snapshot = self.snapshot
        if snapshot is None:
            self.notify("nothing drawn yet", severity="warning")
            return
        project_dir = getattr(self.session.backend, "project_dir", None)
        try:
            directory = export_directory(project_dir if isinstance(project_dir, Path) else None)
            stem = export_stem(directory, self.target, self._now)
            svg = Path(self.app.save_screenshot(filename=f"{stem}.svg", path=str(directory)))
        except OSError as exc:
            self.notify(f"cannot export: {exc}", severity="error")
            return
        self._export(snapshot, directory, stem, svg)

    @work(thread=True, group="visualizer-export", exit_on_error=False)
    def _export(self, snapshot: Snapshot, directory: Path, stem: str, svg: Path) -> None:
        try:
            paths = export_snapshot(snapshot, directory, stem)
        except OSError as exc:
            self.post_message(VisualizerExportFailed(f"cannot export: {exc}"))
            return
        self.post_message(VisualizerExported([*paths, svg]))

    def on_visualizer_exported(self, message: VisualizerExported) -> None:
        directory = message.paths[0].parent
        names = "\n".join(path.name for path in message.paths)
        self.notify(f"{directory}/\n{names}", title="window exported", timeout=8)

    def on_visualizer_export_failed(self, message: VisualizerExportFailed) -> None:
        self.notify(message.error, severity="error", timeout=8)
