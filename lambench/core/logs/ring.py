"""The in-memory log tail: the most recent lines, bounded by count and by size.

Every line gets a sequence number. The ring keeps the lines numbered `first` to `next - 1` in a
circular list indexed by `seq % capacity`, so appending, evicting and finding where a follower
left off are all O(1). A follower holds only its next sequence number: when the ring has moved
past it, it is told how many lines it missed and carries on, so a slow reader never holds up the
writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import cast

from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.logs.parse import matches

#: What one line costs beyond its text (the LogLine, its dict, its time, the text's header, the
#: slot), and what a request id adds: measured with tracemalloc on CPython 3.11. The byte cap
#: counts these plus the text's length.
LINE_OVERHEAD_BYTES = 256
REQUEST_ID_BYTES = 88

#: A follower yields at most this many lines at once, so a backlog arrives in pieces a UI can draw.
MAX_BATCH_LINES = 5_000

#: After a batch of more than one line (lines are coming faster than the follower wakes), a
#: follower waits this long before the next, so a flood arrives in a few large batches instead of
#: one per line. Lines that come one at a time go out at once.
BATCH_INTERVAL_S = 0.01

#: How often a waiting follower looks at its stop event (a plain Event cannot wake a Condition).
STOP_POLL_S = 0.05


def line_cost(line: LogLine) -> int:
    """Approximate bytes one line holds in the ring."""
    cost = LINE_OVERHEAD_BYTES + len(line.text)
    return cost if line.request_id is None else cost + REQUEST_ID_BYTES


class LogRing:
    """The latest log lines of every function, in arrival order; thread-safe.

    At most `max_lines` lines and about `max_bytes` bytes (`line_cost`) are kept; the oldest go
    first. `appended` counts every line ever appended and `evicted` those pushed out.
    """

    def __init__(self, max_lines: int = 100_000, max_bytes: int = 32 * 1024 * 1024) -> None:
        if max_lines <= 0 or max_bytes <= 0:
            raise ValueError(f"max_lines and max_bytes must be positive, not {max_lines} and {max_bytes}")
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._slots: list[LogLine | None] = []
        self._costs: list[int] = []
        self._first = 0  # sequence number of the oldest line kept
        self._next = 0  # sequence number the next line gets
        self._bytes = 0
        self._changed = threading.Condition(threading.Lock())

    def __len__(self) -> int:
        with self._changed:
            return self._next - self._first

    @property
    def bytes(self) -> int:
        """Approximate bytes held by the lines kept."""
        with self._changed:
            return self._bytes

    @property
    def appended(self) -> int:
        """Lines appended since the ring was made."""
        with self._changed:
            return self._next

    @property
    def evicted(self) -> int:
        """Lines pushed out by newer ones."""
        with self._changed:
            return self._first

    def append(self, line: LogLine) -> None:
        """Add one line, evicting the oldest when over a cap."""
        self.append_many((line,))

    def append_many(self, lines: Iterable[LogLine]) -> None:
        """Add lines in order under one lock, and wake the followers once."""
        capacity = self.max_lines
        with self._changed:
            slots, costs = self._slots, self._costs
            added = False
            for line in lines:
                added = True
                cost = line_cost(line)
                seq = self._next
                if len(slots) < capacity:
                    # Still filling: the slot of `seq` is the next one.
                    slots.append(line)
                    costs.append(cost)
                else:
                    if seq - self._first == capacity:
                        self._evict_oldest()
                    index = seq % capacity
                    slots[index] = line
                    costs[index] = cost
                self._next = seq + 1
                self._bytes += cost
                # Keep at least the line just added, however large it is.
                while self._bytes > self.max_bytes and self._first < seq:
                    self._evict_oldest()
            if added:
                self._changed.notify_all()

    def _evict_oldest(self) -> None:
        index = self._first % self.max_lines
        self._bytes -= self._costs[index]
        self._slots[index] = None
        self._first += 1

    def snapshot(self, query: LogQuery | None = None, limit: int | None = None) -> list[LogLine]:
        """The kept lines that match `query`, oldest first; with `limit`, only the newest `limit`."""
        with self._changed:
            lines = self._copy(self._first, self._next)
        chosen = lines if query is None else [line for line in lines if matches(line, query)]
        if limit is not None:
            chosen = chosen[-limit:] if limit > 0 else []
        return chosen

    def _copy(self, start: int, end: int) -> list[LogLine]:
        """Lines `start` to `end - 1` (the lock is held and both are kept)."""
        if start >= end:
            return []
        capacity = self.max_lines
        low, high = start % capacity, end % capacity
        slots = self._slots
        chosen = slots[low:high] if low < high else slots[low:] + slots[:high]
        # Slots between `first` and `next` always hold a line.
        return cast("list[LogLine]", chosen)

    def follow(self, query: LogQuery, stop: threading.Event) -> Iterator[LogBatch]:
        """Batches of matching lines: those kept now, then new ones as they come, until `stop` is set.

        Starts at the oldest line kept; `query.since` drops the older ones (pass the current time
        to see only new lines). A follower that falls behind the ring's eviction gets a batch whose
        notice says how many lines it skipped.
        """
        with self._changed:
            cursor = self._first
        while not stop.is_set():
            with self._changed:
                while cursor >= self._next and not stop.is_set():
                    self._changed.wait(STOP_POLL_S)
                if stop.is_set():
                    return
                skipped = max(0, self._first - cursor)
                cursor += skipped
                end = min(self._next, cursor + MAX_BATCH_LINES)
                lines = self._copy(cursor, end)
                cursor = end
            chosen = tuple(line for line in lines if matches(line, query))
            notice = f"skipped {skipped:,} lines (the tail fell behind)" if skipped else None
            if chosen or notice:
                yielded = time.monotonic()
                yield LogBatch(lines=chosen, notice=notice)
                if len(lines) > 1 or skipped:
                    # Let a flood gather into the next batch (unless a full one is already waiting).
                    pause = yielded + BATCH_INTERVAL_S - time.monotonic()
                    if pause > 0 and self._behind(cursor) < MAX_BATCH_LINES:
                        stop.wait(pause)

    def _behind(self, cursor: int) -> int:
        with self._changed:
            return self._next - cursor
