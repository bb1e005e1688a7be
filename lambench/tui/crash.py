"""The report of an unexpected error: the traceback saved to a file, a short panel printed on exit.

`LambenchApp._fatal_error` calls these in place of Textual's own handler, which prints the whole
traceback with locals. The app imports this module only when it crashes.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.segment import Segments


def save_traceback(error: BaseException | None, project_dir: Path) -> tuple[Path, str]:
    """Write `error`'s traceback to `project_dir`/.lambench/crash-<time>.log.

    Returns that path (even when it could not be written) and the sentence telling the user where
    the traceback is, or, when it could not be saved, its last line.
    """
    details = "".join(traceback.format_exception(error)) if error is not None else "no details"
    path = project_dir / ".lambench" / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(details, encoding="utf-8")
        where = f"The full traceback is in {path}."
    except OSError:
        where = (
            "The traceback could not be saved; here is its last line:\n" + details.strip().splitlines()[-1]
        )
    return path, where


def exit_panel(console: Console, error: BaseException | None, where: str) -> Segments:
    """The panel printed once the app has exited: what went wrong and where its traceback is."""
    summary = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    message = (
        f"lambench stopped after an unexpected error:\n\n  {summary}\n\n"
        f"Every function process and server it started has been stopped. {where}\n"
        "Please include that file in a bug report."
    )
    return Segments(console.render(Panel(message, title="lambench", border_style="red"), console.options))
