"""Hot reload and clean interruption, shared by `watch`, `invoke --watch`, `serve`, `logs -f` and the TUI."""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambench.cli.common import Loaded
    from lambench.core.backends.local import LocalBackend
    from lambench.core.reload import HotReloader
    from lambench.core.runtime.records import ReloadRecord


@contextlib.contextmanager
def hot_reload(backend: LocalBackend, args: argparse.Namespace, loaded: Loaded) -> Iterator[HotReloader]:
    """`start_hot_reload`, closed on leaving."""
    reloader = start_hot_reload(backend, args, loaded)
    try:
        yield reloader
    finally:
        reloader.close()


def start_hot_reload(backend: LocalBackend, args: argparse.Namespace, loaded: Loaded) -> HotReloader:
    """A started HotReloader for the backend's project (its template too, unless ad hoc)."""
    from lambench.core.reload import HotReloader
    from lambench.core.template import find_template

    project_dir = Path(args.project).resolve()
    template = None if getattr(args, "handler", None) else find_template(project_dir)
    reloader = HotReloader(
        backend.service,
        project_dir=project_dir,
        template=template,
        deployments=loaded.deployments,
        on_project=lambda project: backend.update_front_doors(project.http),
    )
    reloader.start()
    return reloader


def describe(record: ReloadRecord) -> str:
    """The record's summary after its local time: `12:00:01 reloaded hello (...)`."""
    return f"{time.strftime('%H:%M:%S', time.localtime(record.time))} {record.summary()}"


@contextlib.contextmanager
def interruptible() -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM only append to the yielded list (the caller winds down)."""
    # A plain flag: handlers must not touch locks the interrupted thread may hold.
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def until_interrupted(step: Callable[[], None] = lambda: None, interval_s: float = 0.05) -> None:
    """Run `step` every `interval_s` until SIGINT or SIGTERM (which end it cleanly)."""
    with interruptible() as stopping:
        while not stopping:
            step()
            time.sleep(interval_s)
