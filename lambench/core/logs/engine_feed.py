"""The local engine's log lines into the log tail: the in-memory ring and the on-disk store.

The engine calls subscribers on the threads that read its environments' output, so the callback
only appends the record to a bounded deque (well under a microsecond); one feed thread turns the
records into `LogLine`s (reading level and request id costs a regex or a JSON parse per line)
and hands them to the ring and the store in batches. Under a flood the deque fills, further
lines are dropped and counted, and a marker line says how many once the feed catches up: the
engine never waits for the tail, and memory stays bounded.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

from lambench.core.logs.local_store import LocalLogStore
from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.logs.parse import make_line
from lambench.core.logs.ring import LogRing
from lambench.core.runtime.records import (
    AsyncRecord,
    AsyncStep,
    HttpRecord,
    LogRecord,
    Record,
    ReloadRecord,
    SourceRecord,
    SourceStep,
)
from lambench.core.runtime.service import LocalLambda

#: Records the feed holds before it drops: about 0.4 s of a 50,000-lines-per-second flood.
DEFAULT_QUEUE_RECORDS = 20_000
#: The log stream hot-reload lines are shown under (they come from lambench, not an environment).
RELOAD_STREAM = "lambench/hot-reload"
#: The stream asynchronous invocation steps (retries, failures, deliveries) are logged on.
ASYNC_STREAM = "lambench/async"
#: The stream event sources' failures and state changes are logged on.
SOURCES_STREAM = "lambench/sources"
#: The stream the HTTP front door's access log is written on, one line per request.
HTTP_STREAM = "lambench/http"
#: Event source steps that are not logged: each invocation's own START/END/REPORT lines show them.
_ROUTINE_SOURCE_STEPS = (SourceStep.BATCH, SourceStep.SUCCEEDED, SourceStep.TRIGGERED)
#: Records turned into lines per round, so the ring and the store get batches of a bounded size.
BATCH_RECORDS = 5_000


def feed_dropped_marker(count: int) -> str:
    """The text of the line that stands in for `count` records the feed had to drop."""
    return f"lambench: dropped {count:,} log lines (the log tail fell behind)"


class EngineLogFeed:
    """Subscribes to a `LocalLambda` and sends its log lines to a ring and/or a store.

    `dropped` counts log records dropped because the feed's queue was full, `delivered` the lines
    handed on (drop markers not included), `received` every log record the engine published.
    """

    def __init__(
        self,
        service: LocalLambda,
        *,
        ring: LogRing | None,
        store: LocalLogStore | None,
        queue_records: int = DEFAULT_QUEUE_RECORDS,
    ) -> None:
        if queue_records <= 0:
            raise ValueError(f"queue_records must be positive, not {queue_records}")
        self.ring = ring
        self.store = store
        self.queue_records = queue_records
        self.dropped = 0
        self.delivered = 0
        self._in_flight = 0
        self._pending: deque[LogRecord] = deque()
        # Dropped since the feed last caught up: function -> (count, last dropped record).
        self._dropped_now: dict[str, tuple[int, LogRecord]] = {}
        self._drop_lock = threading.Lock()
        self._wake = threading.Event()
        self._sleeping = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="lambench-log-feed", daemon=True)
        self._thread.start()
        self._unsubscribe = service.subscribe(self._on_record)

    def __enter__(self) -> EngineLogFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_record(self, record: Record) -> None:
        """The engine's callback: queue a log record and return (runs on the engine's threads)."""
        if type(record) is not LogRecord:
            if isinstance(record, ReloadRecord):
                self._reloaded(record)
            elif isinstance(record, AsyncRecord) and record.kind is not AsyncStep.ACCEPTED:
                self._async_step(record)
            elif isinstance(record, SourceRecord) and record.kind not in _ROUTINE_SOURCE_STEPS:
                self._source_step(record)
            elif isinstance(record, HttpRecord):
                self._http_request(record)
            return
        pending = self._pending
        if len(pending) < self.queue_records:
            # deque.append is atomic under the GIL: no lock on the engine's path.
            pending.append(record)
        else:
            with self._drop_lock:
                self.dropped += 1
                count, _ = self._dropped_now.get(record.function, (0, record))
                self._dropped_now[record.function] = (count + 1, record)
        if self._sleeping:
            self._wake.set()

    def _reloaded(self, record: ReloadRecord) -> None:
        """A hot reload as a line in each reloaded function's log (rare: no queue needed)."""
        level = "INFO" if record.error is None else "ERROR"
        text = f"lambench: {record.summary()}"
        lines = [
            LogLine(record.time, function, RELOAD_STREAM, None, level, text)
            for function in record.functions or ("",)
        ]
        self._write_now(lines)

    def _async_step(self, record: AsyncRecord) -> None:
        """An asynchronous invocation's step as a line in its function's log, with its request id."""
        if record.kind in (AsyncStep.FAILED, AsyncStep.DELIVERY_FAILED, AsyncStep.DROPPED):
            level = "ERROR"
        elif record.kind in (AsyncStep.RETRY_SCHEDULED, AsyncStep.THROTTLED):
            level = "WARN"
        else:
            level = "INFO"
        line = LogLine(
            record.time,
            record.function,
            ASYNC_STREAM,
            record.request_id,
            level,
            f"lambench: {record.summary()}",
        )
        self._write_now([line])

    def _source_step(self, record: SourceRecord) -> None:
        """An event source's failure or change of state as a line in its function's log."""
        level = "ERROR" if record.kind in (SourceStep.FAILED, SourceStep.DISCARDED) else "WARN"
        if record.kind is SourceStep.RECOVERED:
            level = "INFO"
        line = LogLine(
            record.time,
            record.function,
            SOURCES_STREAM,
            record.request_id,
            level,
            f"lambench: {record.summary()}",
        )
        self._write_now([line])

    def _http_request(self, record: HttpRecord) -> None:
        """A request through the front door as an access line in its function's log."""
        level = "ERROR" if record.status >= 500 else "WARN" if record.status >= 400 else "INFO"
        line = LogLine(
            record.time, record.function or "", HTTP_STREAM, record.request_id, level, record.summary()
        )
        self._write_now([line])

    def _write_now(self, lines: list[LogLine]) -> None:
        # lambench's own lines are rare: written from the engine's thread, past the queue.
        if self.ring is not None:
            self.ring.append_many(lines)
        if self.store is not None:
            self.store.append(lines)

    @property
    def received(self) -> int:
        """Log records the engine published to this feed so far."""
        # Counted from the feed's side: a counter bumped on several engine threads would race.
        return self.delivered + self._in_flight + self.dropped + len(self._pending)

    def _run(self) -> None:
        pending = self._pending
        while True:
            self._wake.clear()
            self._sleeping = True
            # Checked after announcing the sleep: a record queued before it is seen here, one
            # queued after it sets the event.
            if not pending and not self._dropped_now:
                if self._closing:
                    break
                self._wake.wait()
            self._sleeping = False
            lines: list[LogLine] = []
            popleft = pending.popleft
            self._in_flight = taking = min(len(pending), BATCH_RECORDS)
            for _ in range(taking):
                record = popleft()
                lines.append(make_line(record.function, record.log_stream, record.time, record.message))
            delivered = len(lines)
            if self._dropped_now:
                with self._drop_lock:
                    dropped, self._dropped_now = self._dropped_now, {}
                for function, (count, last) in dropped.items():
                    lines.append(
                        LogLine(
                            last.time, function, last.log_stream, None, "WARN", feed_dropped_marker(count)
                        )
                    )
            if lines:
                if self.ring is not None:
                    self.ring.append_many(lines)
                if self.store is not None:
                    self.store.append(lines)
            self.delivered += delivered
            self._in_flight = 0

    def tail(self, query: LogQuery, stop: threading.Event) -> Iterator[LogBatch]:
        """Follow the ring (or, without one, the store) from the oldest line kept."""
        if self.ring is not None:
            return self.ring.follow(query, stop)
        if self.store is not None:
            return self.store.follow(query, stop)
        raise ValueError("this feed has neither a ring nor a store to follow")

    def close(self) -> None:
        """Unsubscribe, hand on what is queued and stop the feed thread (the ring and store stay open)."""
        self._unsubscribe()
        self._closing = True
        self._wake.set()
        self._thread.join()
