"""`EventSources`: every event source of a project, running against one engine and account.

Made by the process that owns the embedded account (`lambench serve`, the TUI): pollers for SQS
queues and stream shards, the scheduler, and the notifier the account reports object events,
publications and bus events to. Disabled sources are listed but not run. Counters are kept per
source; with `status_path`, a snapshot is written there about once a second so `lambench sources`
in another terminal can show them.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.core.pids import alive
from lambench.core.record import as_dict
from lambench.core.sources.context import Clients, Invoke, SourceContext, SourceCounters
from lambench.core.sources.model import (
    RuleSource,
    S3Source,
    ScheduleSource,
    SnsSource,
    Source,
    SourceStatus,
    SqsSource,
    StreamSource,
)
from lambench.core.sources.notifications import Notifier
from lambench.core.sources.scheduler import Scheduler

if TYPE_CHECKING:
    from lambench.core.runtime.destinations import Sender
    from lambench.core.runtime.records import SourceRecord

#: How often the status snapshot is rewritten (when something changed).
STATUS_INTERVAL_S = 1.0


class EventSources:
    """Runs `sources` until `close()`. Thread-safe."""

    def __init__(
        self,
        sources: Iterable[Source],
        *,
        invoke: Invoke,
        announce: Callable[[SourceRecord], None],
        clients: Clients,
        send: Sender,
        region: str,
        scale: float = 1.0,
        status_path: Path | None = None,
    ) -> None:
        self._stopping = threading.Event()
        self.context = SourceContext(
            invoke=invoke,
            announce=announce,
            clients=clients,
            send=send,
            region=region,
            scale=scale,
            stopping=self._stopping,
        )
        self.sources = list(sources)
        self._counters = [SourceCounters(source, self.context) for source in self.sources]
        self.notifier = Notifier(self.context)
        for source, counters in zip(self.sources, self._counters, strict=True):
            # Known now, so the account watches its requests only when some source listens.
            if source.enabled and isinstance(source, S3Source | SnsSource | RuleSource):
                self.notifier.add(source, counters)
        self.scheduler = Scheduler(self.context)
        self._mappings: list[Any] = []
        self._status_path = status_path
        self._status_thread: threading.Thread | None = None
        self._started = False

    def start(self) -> None:
        """Start every enabled source (pollers find their queues and streams as the account opens)."""
        from lambench.core.sources.sqs_poller import SqsMapping
        from lambench.core.sources.stream_poller import StreamMapping

        if self._started or self._stopping.is_set():
            return
        self._started = True
        for source, counters in zip(self.sources, self._counters, strict=True):
            if not source.enabled:
                continue
            if isinstance(source, SqsSource):
                self._mappings.append(SqsMapping(source, self.context, counters))
            elif isinstance(source, StreamSource):
                self._mappings.append(StreamMapping(source, self.context, counters))
            elif isinstance(source, ScheduleSource):
                self.scheduler.add(source, counters)
        for mapping in self._mappings:
            mapping.start()
        self.scheduler.start()
        self.notifier.start()
        if self._status_path is not None:
            self._status_thread = threading.Thread(
                target=self._write_status, name="lambench-sources", daemon=True
            )
            self._status_thread.start()

    def statuses(self) -> list[SourceStatus]:
        """Each source's state and counters, in the template's order."""
        return [counters.status() for counters in self._counters]

    def counters(self, function: str, name: str) -> SourceCounters:
        """The live counters of one source."""
        for counters in self._counters:
            if counters.source.function == function and counters.source.name == name:
                return counters
        raise KeyError(f"{function}/{name}")

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop polling and firing; batches already handed to a function finish first."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        for mapping in self._mappings:
            mapping.join(max(0.0, deadline - time.monotonic()))
        self.scheduler.join(max(0.0, deadline - time.monotonic()))
        self.notifier.join(max(0.0, deadline - time.monotonic()))
        if self._status_thread is not None:
            self._status_thread.join(max(0.0, deadline - time.monotonic()))
        if self._status_path is not None:
            with contextlib.suppress(OSError):
                self._status_path.unlink()

    def _write_status(self) -> None:
        assert self._status_path is not None
        last = None
        while True:
            snapshot = [as_dict(status) for status in self.statuses()]
            if snapshot != last:
                write_status(self._status_path, snapshot)
                last = snapshot
            if self._stopping.wait(STATUS_INTERVAL_S):
                return


def write_status(path: Path, statuses: list[dict[str, Any]]) -> None:
    """Write a status snapshot atomically (pid, time, statuses)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps({"pid": os.getpid(), "time": time.time(), "sources": statuses}))
    os.replace(partial, path)


def read_status(path: Path) -> list[SourceStatus] | None:
    """The snapshot a running process wrote, or None (none, or its writer is gone)."""
    try:
        data = json.loads(path.read_text())
        pid = int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not alive(pid):
        return None
    statuses = []
    for item in data.get("sources", []):
        try:
            statuses.append(SourceStatus(**item))
        except TypeError:
            continue
    return statuses
