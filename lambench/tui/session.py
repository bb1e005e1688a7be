"""The TUI's side of the core: the open backend, the log tail and reloads, buffered for the UI clock.

Workers and the tail thread never touch widgets: they append to bounded buffers that the app
drains on a timer (about 10 Hz), so a flood of log lines costs the UI one batch per tick.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lambench.core.logs.model import LogLine, LogQuery
from lambench.core.runtime.records import AsyncRecord, AsyncStep, ReloadRecord, SourceRecord, SourceStep

if TYPE_CHECKING:
    from lambench.core.backends.base import Backend

#: Event source steps worth a notice (the rest are lines of the log tail).
_NOTICED_SOURCE_STEPS = (SourceStep.BACKING_OFF, SourceStep.RECOVERED, SourceStep.DISCARDED)
#: Log lines kept between two UI ticks; beyond it the oldest are dropped and counted.
MAX_PENDING_LINES = 20_000


@dataclass
class Drained:
    """What arrived since the last tick."""

    lines: list[LogLine] = field(default_factory=list)
    skipped: int = 0
    notices: list[str] = field(default_factory=list)
    reloads: list[ReloadRecord] = field(default_factory=list)


class Session:
    """One open backend for the UI, with its log tail running on a thread of its own."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lines: collections.deque[LogLine] = collections.deque(maxlen=MAX_PENDING_LINES)
        self._appended = 0
        self._taken = 0
        self._notices: collections.deque[str] = collections.deque(maxlen=100)
        self._reloads: collections.deque[ReloadRecord] = collections.deque(maxlen=100)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tail: threading.Thread | None = None
        self._closed = False
        service = getattr(backend, "service", None)
        self._unsubscribe = service.subscribe(self._on_record) if service is not None else None

    def resume_pending_events(self) -> None:
        """Run what an earlier lambench on this project accepted and did not finish (reads files:
        call it from a worker)."""
        service = getattr(self.backend, "service", None)
        resumed = service.resume_pending_events() if service is not None else 0
        if resumed:
            self._notices.append(f"resumed {resumed} queued asynchronous event(s) from .lambench/async")

    def _on_record(self, record: object) -> None:
        # Engine threads call this: it only appends to deques the UI clock drains.
        if isinstance(record, ReloadRecord):
            self._reloads.append(record)
        elif (isinstance(record, AsyncRecord) and record.kind is not AsyncStep.ACCEPTED) or (
            isinstance(record, SourceRecord) and record.kind in _NOTICED_SOURCE_STEPS
        ):
            self._notices.append(record.summary())

    def start_tail(self, function: str | None, since: float | None = None) -> None:
        """Follow the log (every function's locally, one function's on AWS) from `since` (default now).

        A tail already running is told to stop and left to finish on its own: the UI never waits.
        """
        self._stop.set()
        self._stop = threading.Event()
        query = LogQuery(function=function, since=since if since is not None else time.time(), follow=True)
        self._tail = threading.Thread(
            target=self._follow, args=(query, self._stop), name="lambench-tui-tail", daemon=True
        )
        self._tail.start()

    def _follow(self, query: LogQuery, stop: threading.Event) -> None:
        try:
            for batch in self.backend.tail(query, stop):
                if batch.notice:
                    self._notices.append(batch.notice)
                if batch.lines:
                    with self._lock:
                        self._lines.extend(batch.lines)
                        self._appended += len(batch.lines)
                if stop.is_set():
                    return
        except Exception as exc:  # shown to the user; the UI goes on without a tail
            self._notices.append(f"the log tail stopped: {exc}")

    def drain(self) -> Drained:
        """Everything buffered since the last call (UI thread)."""
        with self._lock:
            lines = list(self._lines)
            self._lines.clear()
            skipped = self._appended - self._taken - len(lines)
            self._taken = self._appended
        drained = Drained(lines=lines, skipped=max(0, skipped))
        while self._notices:
            drained.notices.append(self._notices.popleft())
        while self._reloads:
            drained.reloads.append(self._reloads.popleft())
        return drained

    def stop_tail(self) -> None:
        """Stop following (the thread notices within a poll interval)."""
        self._stop.set()
        if self._tail is not None:
            self._tail.join(timeout=3)
            self._tail = None

    def close(self) -> None:
        """Stop the tail and close the backend (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        self.stop_tail()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.backend.close()
