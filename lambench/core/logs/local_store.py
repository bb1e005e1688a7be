"""Log lines on disk, shared between lambench processes: `invoke` in one terminal, `logs --follow` in another.

Layout: `<project>/.lambench/logs/<start-epoch-ms>-<pid>-<n>.jsonl`. Each writing process appends
to its own segment, one JSON object per line (short keys, see `encode_line`), and starts a new
segment at `segment_bytes`. Whenever it starts one it deletes the oldest segments (by name, which
is by start time, across all processes) until the directory is under `max_total_bytes`, so disk
use stays bounded: at worst the cap plus one open segment per writing process.

Writers never block the caller: `append` puts lines into a bounded queue that one daemon thread
writes out in batches (one `write()` of whole lines per batch); lines that do not fit are dropped
and counted, and a marker line says so once the writer catches up. Readers poll file sizes and
never parse a line before its newline has been written.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path

from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.logs.parse import matches
from lambench.core.record import record

SEGMENT_SUFFIX = ".jsonl"
#: How often a follower looks at the segments' sizes.
POLL_S = 0.075
#: What `read` and the first batches of `follow` return at most, newest kept.
DEFAULT_LIMIT = 10_000

_DECODER = json.JSONDecoder()
# The quoted `,"f":...,"s":...` of recent (function, stream) pairs: each stream repeats on many lines.
_heads: dict[tuple[str, str], str] = {}
_segment_counter = itertools.count()
# Stores with a writer thread: closed at exit so that what is queued reaches the disk.
_open_stores: weakref.WeakSet[LocalLogStore] = weakref.WeakSet()


def log_dir(project_dir: Path | str) -> Path:
    """Where a project's local logs live: `<project>/.lambench/logs`."""
    return Path(project_dir) / ".lambench" / "logs"


def dropped_marker(count: int) -> str:
    """The text of the line that stands in for `count` lines the writer had to drop."""
    return f"lambench: dropped {count:,} log lines (the log writer fell behind)"


def encode_line(line: LogLine) -> str:
    """One line as stored, without its newline: `{"t":time,"f":function,"s":stream,"x":text}`, with
    `"r"` (request id) and `"l"` (level) before `"x"` when known.

    Built from json's own string quoting rather than `json.dumps` of a dict: a flood writes tens of
    thousands of these a second, and this is about twice as fast.
    """
    key = (line.function, line.stream)
    head = _heads.get(key)
    if head is None:
        if len(_heads) >= 4096:
            _heads.clear()
        head = _heads[key] = f',"f":{_quote(line.function)},"s":{_quote(line.stream)}'
    time_text = repr(line.time) if math.isfinite(line.time) else "0"
    encoded = '{"t":' + time_text + head
    if line.request_id is not None:
        encoded += ',"r":' + _quote(line.request_id)
    if line.level is not None:
        encoded += ',"l":' + _quote(line.level)
    return encoded + ',"x":' + _quote(line.text) + "}"


def decode_line(text: str) -> LogLine | None:
    """The LogLine a stored line holds, or None if it is not one (a corrupt or foreign line)."""
    try:
        record = _DECODER.decode(text)
        t, function, stream, message = record["t"], record["f"], record["s"], record["x"]
        request_id, level = record.get("r"), record.get("l")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not (
        isinstance(t, (int, float))
        and isinstance(function, str)
        and isinstance(stream, str)
        and isinstance(message, str)
        and (request_id is None or isinstance(request_id, str))
        and (level is None or isinstance(level, str))
    ):
        return None
    return LogLine(
        time=float(t), function=function, stream=stream, request_id=request_id, level=level, text=message
    )


def _function_needle(function: str) -> bytes:
    """The bytes every stored line of `function` contains, to skip the others without parsing them."""
    return b'"f":' + _quote(function).encode()


@record
class _Tailed:
    """How far a reader has read one segment: up to `offset`, the end of its last whole line."""

    offset: int = 0


class LocalLogStore:
    """A project's log lines on disk: a non-blocking writer and polling readers.

    One store may write and read; `read` and `follow` also see every other process's segments.
    Nothing touches the disk until the first `append` (which creates `directory`), and a store
    that never wrote starts no thread.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        segment_bytes: int = 4 * 1024 * 1024,
        max_total_bytes: int = 64 * 1024 * 1024,
        queue_lines: int = 50_000,
    ) -> None:
        if segment_bytes <= 0 or max_total_bytes <= 0 or queue_lines <= 0:
            raise ValueError("segment_bytes, max_total_bytes and queue_lines must be positive")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.max_total_bytes = max_total_bytes
        self.queue_lines = queue_lines
        self._pending: deque[LogLine] = deque()
        # Lines dropped since the writer last caught up: function -> (count, last dropped line).
        self._dropped_now: dict[str, tuple[int, LogLine]] = {}
        self._lock = threading.Lock()
        # The writer waits on `_work`; `flush` waits on `_idle`. Two conditions, so that waking
        # the writer never wakes a flusher in its place.
        self._work = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None
        self._closing = False
        self._busy = False
        self._segment: int | None = None  # file descriptor of the open segment
        self._segment_path: Path | None = None
        self._segment_size = 0
        #: Lines dropped because the queue was full, ever.
        self.dropped = 0
        #: Lines written to disk, ever (markers included).
        self.written = 0
        #: The last error writing to disk, if any (the writer carries on, dropping what it cannot write).
        self.last_error: OSError | None = None

    @classmethod
    def for_project(cls, project_dir: Path | str, **options: int) -> LocalLogStore:
        """The store of a project directory (`<project>/.lambench/logs`)."""
        return cls(log_dir(project_dir), **options)

    def __enter__(self) -> LocalLogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------

    def append(self, lines: Iterable[LogLine]) -> None:
        """Queue lines for the writer thread; returns at once, dropping what does not fit."""
        with self._lock:
            if self._closing:
                return
            pending = self._pending
            room = self.queue_lines - len(pending)
            queued = False
            for line in lines:
                if room > 0:
                    pending.append(line)
                    room -= 1
                    queued = True
                    continue
                self.dropped += 1
                count, _ = self._dropped_now.get(line.function, (0, line))
                self._dropped_now[line.function] = (count + 1, line)
            if not queued:
                return
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="lambench-log-store", daemon=True
                )
                self._writer.start()
                _open_stores.add(self)
            self._work.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is on disk; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._dropped_now or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._writer is None:
                    return not (self._pending or self._dropped_now or self._busy)
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        """Write what is queued, stop the writer thread and close the segment."""
        with self._lock:
            self._closing = True
            self._work.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join()
        _open_stores.discard(self)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                self._busy = False
                self._idle.notify_all()
                while not self._pending and not self._dropped_now and not self._closing:
                    self._work.wait()
                if not self._pending and not self._dropped_now:
                    break  # closing, and nothing is left
                batch = list(self._pending)
                self._pending.clear()
                dropped, self._dropped_now = self._dropped_now, {}
                self._busy = True
            for function, (count, last) in dropped.items():
                # Stands where the gap is: after what was queued, at the last dropped line's time.
                batch.append(LogLine(last.time, function, last.stream, None, "WARN", dropped_marker(count)))
            self._write_batch(batch)
        self._close_segment()

    def _write_batch(self, batch: list[LogLine]) -> None:
        encoded = [(encode_line(line) + "\n").encode() for line in batch]
        start = 0
        try:
            while start < len(encoded):
                self._ensure_segment()
                # Fill the segment up to its size; a segment always takes at least one line.
                room = self.segment_bytes - self._segment_size
                end, size = start, 0
                while end < len(encoded) and (end == start or size + len(encoded[end]) <= room):
                    size += len(encoded[end])
                    end += 1
                if self._segment_size > 0 and size > room:
                    self._rotate()
                    continue
                self._write_all(b"".join(encoded[start:end]))
                self._segment_size += size
                self.written += end - start
                start = end
                if self._segment_size >= self.segment_bytes:
                    self._rotate()
        except OSError as exc:
            with self._lock:
                self.last_error = exc
                self.dropped += len(encoded) - start
            self._close_segment()

    def _write_all(self, data: bytes) -> None:
        assert self._segment is not None
        view = memoryview(data)
        while view:
            written = os.write(self._segment, view)
            view = view[written:]

    def _ensure_segment(self) -> None:
        if self._segment is not None:
            # Another process's pruning may have deleted this segment: start a visible one.
            if os.fstat(self._segment).st_nlink > 0:
                return
            self._close_segment()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prune(room_for=self.segment_bytes)
        # Zero-padded, so that name order is start order within a process and across processes.
        name = f"{int(time.time() * 1000):013d}-{os.getpid()}-{next(_segment_counter):06d}{SEGMENT_SUFFIX}"
        path = self.directory / name
        self._segment = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._segment_path = path
        self._segment_size = 0

    def _rotate(self) -> None:
        self._close_segment()
        self._ensure_segment()

    def _close_segment(self) -> None:
        if self._segment is not None:
            with contextlib.suppress(OSError):
                os.close(self._segment)
        self._segment = None
        self._segment_path = None
        self._segment_size = 0

    def _prune(self, room_for: int) -> None:
        """Delete the oldest segments until the directory plus `room_for` bytes fits the cap."""
        segments = _segments(self.directory)
        sizes: dict[str, int] = {}
        for name in segments:
            with contextlib.suppress(OSError):
                sizes[name] = (self.directory / name).stat().st_size
        total = sum(sizes.values())
        for name in segments:
            if total + room_for <= self.max_total_bytes:
                break
            if name not in sizes:
                continue
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
            total -= sizes[name]

    # -- reading --------------------------------------------------------------------------------

    def read(self, query: LogQuery | None = None, limit: int | None = DEFAULT_LIMIT) -> list[LogLine]:
        """Matching lines across every segment, in time order; with `limit`, the newest `limit`."""
        query = query or LogQuery()
        tailed: dict[str, _Tailed] = {}
        lines = self._read_new(query, tailed, since_mtime=query.since)
        if limit is not None:
            del lines[: max(0, len(lines) - limit)]
        return lines

    def follow(
        self, query: LogQuery, stop: threading.Event, limit: int | None = DEFAULT_LIMIT
    ) -> Iterator[LogBatch]:
        """Batches of matching lines: those on disk now (the newest `limit`), then new ones as
        writers add them, until `stop` is set.

        Polls every POLL_S; segments that appear are read from their start, segments that vanish
        under pruning are forgotten. Each batch is in time order.
        """
        tailed: dict[str, _Tailed] = {}
        backlog = self._read_new(query, tailed, since_mtime=query.since)
        if limit is not None:
            del backlog[: max(0, len(backlog) - limit)]
        if backlog:
            yield LogBatch(lines=tuple(backlog))
        while not stop.wait(POLL_S):
            lines = self._read_new(query, tailed)
            if lines:
                yield LogBatch(lines=tuple(lines))

    def _read_new(
        self, query: LogQuery, tailed: dict[str, _Tailed], since_mtime: float | None = None
    ) -> list[LogLine]:
        """The whole lines written since `tailed` says, matching `query`, sorted by time.

        Updates `tailed`: new segments are added, vanished ones removed. With `since_mtime`,
        segments last written before it are not read at all.
        """
        segments = _segments(self.directory)
        present = set(segments)
        for name in [name for name in tailed if name not in present]:
            del tailed[name]
        needle = _function_needle(query.function) if query.function is not None else None
        found: list[LogLine] = []
        for name in segments:
            state = tailed.get(name)
            if state is None:
                state = tailed[name] = _Tailed()
            path = self.directory / name
            try:
                stat = path.stat()
                # Lines are stored after they happen, so a segment last written before `since`
                # holds nothing newer (a second of slack for coarse file-system clocks).
                if since_mtime is not None and stat.st_mtime < since_mtime - 1.0:
                    state.offset = stat.st_size
                    continue
                if stat.st_size == state.offset:
                    continue
                if stat.st_size < state.offset:
                    state.offset = 0  # replaced by a new file of the same name
                with open(path, "rb") as handle:
                    handle.seek(state.offset)
                    data = handle.read(stat.st_size - state.offset)
            except FileNotFoundError:
                del tailed[name]
                continue
            complete = data.rfind(b"\n") + 1
            # A line without its newline is still being written: read it next time.
            state.offset += complete
            for raw in data[:complete].splitlines():
                if needle is not None and needle not in raw:
                    continue
                line = decode_line(raw.decode("utf-8", "replace"))
                if line is not None and matches(line, query):
                    found.append(line)
        found.sort(key=_time_of)
        return found


@atexit.register
def _close_open_stores() -> None:
    for store in list(_open_stores):
        store.close()


def _time_of(line: LogLine) -> float:
    return line.time


def _segments(directory: Path) -> list[str]:
    """Segment names in the directory, oldest first; none if it does not exist."""
    try:
        names = [entry.name for entry in os.scandir(directory) if entry.name.endswith(SEGMENT_SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    names.sort()
    return names
