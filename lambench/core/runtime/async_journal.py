"""The durable queue of accepted asynchronous events: an append-only journal per process.

Each `LocalLambda` with a project keeps its accepted `Event` invocations in
`.lambench/async/<pid>-<random>.jsonl`, one JSON line per step: `accept` (the whole event, written
before the 202 is returned), `retry` (attempts made and when the next is due) and `done`. The
file is locked (`flock`) for the life of the process. A process that finds a journal nobody
holds (its owner was killed, even with `kill -9`, or closed with events still waiting for a
retry) adopts it: the pending events are copied into its own journal, then the orphan is
removed. So no accepted event is lost, and one whose handler succeeded (its `done` line is
written as soon as the handler's answer is back) never runs again.

A line is written with one `write` system call and no user-space buffer, so it survives the
process being killed; it is not flushed to the disk (`fsync`) per event, so a machine crash may
lose the last events accepted.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.core.record import record

if TYPE_CHECKING:
    from lambench.core.runtime.environment import Outcome

#: A journal is rewritten with only its pending events once it grows past this size.
COMPACT_BYTES = 4 * 1024 * 1024


@record
class PendingEvent:
    """An accepted asynchronous invocation that has not finished."""

    request_id: str
    function: str
    qualifier: str | None
    invoked_function_arn: str
    trace_id: str
    accepted: float  # seconds since the epoch
    payload: bytes
    attempts: int = 0  # function invocations made (throttles do not count)
    due: float = 0.0  # seconds since the epoch before which the next attempt does not start
    last_error: str | None = None  # the last attempt's error type, for the failure record
    # Kept in memory only (a resumed event starts without them):
    last_outcome: Outcome | None = None  # the last attempt's answer, for the destination record
    throttles: int = 0  # throttles in a row, for the backoff


def _accept_line(event: PendingEvent) -> dict[str, object]:
    return {
        "op": "accept",
        "id": event.request_id,
        "fn": event.function,
        "q": event.qualifier,
        "arn": event.invoked_function_arn,
        "trace": event.trace_id,
        "t": event.accepted,
        "payload": base64.b64encode(event.payload).decode(),
        "attempts": event.attempts,
        "due": event.due,
        "error": event.last_error,
    }


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """A journal file's readable lines; one cut short by a kill (the last) or damaged is skipped."""
    lines = []
    try:
        data = path.read_bytes()
    except OSError:
        return []
    for raw in data.splitlines():
        with contextlib.suppress(ValueError):
            line = json.loads(raw)
            if isinstance(line, dict) and isinstance(line.get("id"), str):
                lines.append(line)
    return lines


def read_pending(paths: list[Path]) -> list[PendingEvent]:
    """The events journal files hold that no `done` line in any of them finishes, in order.

    Files are read together: an event copied by an adoption (or a compaction) that was killed
    before it removed the old file is in two of them, and its `done` may be in either.
    """
    pending: dict[str, PendingEvent] = {}
    finished: set[str] = set()
    for path in paths:
        for line in _read_lines(path):
            request_id = str(line["id"])
            try:
                if line["op"] == "accept" and request_id not in pending:
                    pending[request_id] = PendingEvent(
                        request_id=request_id,
                        function=str(line["fn"]),
                        qualifier=line["q"] if isinstance(line["q"], str) else None,
                        invoked_function_arn=str(line["arn"]),
                        trace_id=str(line["trace"]),
                        accepted=float(line["t"]),
                        payload=base64.b64decode(str(line["payload"])),
                        attempts=int(line.get("attempts", 0)),
                        due=float(line.get("due", 0.0)),
                        last_error=line.get("error"),
                    )
                elif line["op"] == "retry" and request_id in pending:
                    event = pending[request_id]
                    event.attempts = max(event.attempts, int(line["attempts"]))
                    event.due = float(line["due"])
                    event.last_error = line.get("error")
                elif line["op"] == "done":
                    finished.add(request_id)
            except (ValueError, KeyError, TypeError):
                continue
    return [event for request_id, event in pending.items() if request_id not in finished]


def done_ids(path: Path) -> set[str]:
    """Request ids a journal file records as finished (for tests and diagnostics)."""
    return {str(line["id"]) for line in _read_lines(path) if line.get("op") == "done"}


class AsyncJournal:
    """This process's journal in `directory`, locked while it is open."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: dict[str, PendingEvent] = {}
        self._path, self._fd = self._open_new()
        self._size = 0
        self._closed = False

    @property
    def path(self) -> Path:
        """The journal file this process writes."""
        return self._path

    def _open_new(self) -> tuple[Path, int]:
        path = self.directory / f"{os.getpid()}-{os.urandom(4).hex()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return path, fd

    def _write(self, line: dict[str, object]) -> None:
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        os.write(self._fd, data)
        self._size += len(data)

    def accepted(self, event: PendingEvent) -> None:
        """Record a newly accepted event (before its 202 is returned)."""
        with self._lock:
            self._pending[event.request_id] = event
            self._write(_accept_line(event))

    def retry(self, event: PendingEvent) -> None:
        """Record that `event` failed an attempt and when its next one is due."""
        with self._lock:
            if event.request_id in self._pending:
                self._write(
                    {
                        "op": "retry",
                        "id": event.request_id,
                        "attempts": event.attempts,
                        "due": event.due,
                        "error": event.last_error,
                    }
                )

    def done(self, event: PendingEvent, how: str) -> None:
        """Record that `event` is finished (`succeeded`, `failed` or `dropped`): it never runs again."""
        with self._lock:
            if self._pending.pop(event.request_id, None) is None:
                return
            self._write({"op": "done", "id": event.request_id, "how": how})
            if self._size > COMPACT_BYTES:
                self._compact()

    def adopt_orphans(self) -> list[PendingEvent]:
        """Take over every journal in the directory that no live process holds; their pending events."""
        held: list[tuple[Path, int]] = []
        try:
            for path in sorted(self.directory.glob("*.jsonl")):
                if path == self._path:
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)  # its process is alive and owns it
                    continue
                held.append((path, fd))
            adopted: list[PendingEvent] = []
            with self._lock:
                for event in read_pending([path for path, _ in held]):
                    if event.request_id not in self._pending:
                        self._pending[event.request_id] = event
                        self._write(_accept_line(event))
                        adopted.append(event)
            # Copied (one write each) before the orphans go: a kill in between leaves both, and
            # the next adoption reads them together.
            for path, _ in held:
                with contextlib.suppress(OSError):
                    path.unlink()
            return adopted
        finally:
            for _, fd in held:
                os.close(fd)

    def close(self) -> None:
        """Release the journal: removed when nothing is pending, else left for the next process."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._pending:
                with contextlib.suppress(OSError):
                    self._path.unlink()
            os.close(self._fd)

    def _compact(self) -> None:
        # Under the lock: a new, locked file with only the pending events replaces this one.
        old_path, old_fd = self._path, self._fd
        self._path, self._fd = self._open_new()
        self._size = 0
        for event in self._pending.values():
            self._write(_accept_line(event))
        with contextlib.suppress(OSError):
            old_path.unlink()
        os.close(old_fd)
