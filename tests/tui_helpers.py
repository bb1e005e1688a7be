"""What the TUI tests share: a copy of the demo project behind a real LocalBackend, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambench.core.backends.base import Backend
from lambench.core.backends.local import LocalBackend
from lambench.core.template import load_project

REPO = Path(__file__).resolve().parent.parent


def demo_opener(project_dir: Path) -> Callable[[], Backend]:
    """Opens a LocalBackend on `project_dir` (the app calls it in its worker)."""

    def open_backend() -> Backend:
        project = load_project(project_dir)
        return LocalBackend(project.functions.values(), project_dir=project_dir, share=False)

    return open_backend


async def wait_until(pilot: Any, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until `predicate` holds (pilot.pause yields to the event loop)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)
