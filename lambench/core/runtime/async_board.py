"""The async queue as a UI shows it: every accepted event's state, and the last ones finished.

The dispatcher and the service tell the board each step of an event as they take it (no record
subscription, so the engine's warm path pays nothing for it). `snapshot` hands out frozen
entries: live ones (queued, in flight, throttled, retrying with the time of the next attempt)
ordered by when they run next, then the most recent finished ones (succeeded, delivered,
failed, dead-lettered, dropped), newest first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal

from lambench.core.record import record, replace

AsyncState = Literal[
    "queued",
    "in flight",
    "throttled",
    "retrying",
    "succeeded",
    "delivered",
    "failed",
    "dead-lettered",
    "dropped",
]
LIVE_STATES: tuple[AsyncState, ...] = ("queued", "in flight", "throttled", "retrying")
FINISHED_STATES: tuple[AsyncState, ...] = ("succeeded", "delivered", "failed", "dead-lettered", "dropped")
#: Finished events kept for the panel; older ones are forgotten (their steps stay in the log).
MAX_FINISHED = 500


@record(frozen=True)
class AsyncEntry:
    """One accepted event as the board last saw it.

    `attempts` counts the function invocations made (the one in flight included). `next_at` is
    when the next attempt may start (seconds since the epoch, on the wall clock, so with
    `LAMBENCH_TIME_SCALE` applied); `delay_s` is the wait that was chosen, in real Lambda seconds.
    `destinations` are the ARNs its record or payload was delivered to; `problem` says what went
    wrong with a delivery or why it was dropped.
    """

    request_id: str
    function: str
    state: AsyncState
    accepted: float
    attempts: int = 0
    next_at: float | None = None
    delay_s: float | None = None
    error_type: str | None = None
    condition: str | None = None
    destinations: tuple[str, ...] = ()
    problem: str | None = None
    changed: float = 0.0

    @property
    def live(self) -> bool:
        """True until the event has finished."""
        return self.state in LIVE_STATES


@record(frozen=True)
class AsyncQueueSnapshot:
    """The board at one instant: counts by state, and the entries (live first, then finished)."""

    counts: dict[str, int]
    entries: tuple[AsyncEntry, ...]

    @property
    def live(self) -> int:
        """Events not finished."""
        return sum(self.counts.get(state, 0) for state in LIVE_STATES)


class AsyncBoard:
    """Where every accepted `Event` invocation stands; thread-safe, each step O(1)."""

    def __init__(self, max_finished: int = MAX_FINISHED) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, AsyncEntry] = {}
        self._finished: OrderedDict[str, AsyncEntry] = OrderedDict()
        self._max_finished = max_finished
        # Finished events by function and state, counted before old entries are forgotten.
        self._finished_counts: dict[tuple[str, str], int] = {}

    # -- steps (called by the dispatcher and the service) ---------------------------------------

    def queued(
        self, request_id: str, function: str, accepted: float, *, attempts: int = 0, due: float, now: float
    ) -> None:
        """Accepted (or resumed from the journal), waiting for a worker."""
        entry = AsyncEntry(request_id, function, "queued", accepted, attempts, next_at=due, changed=now)
        with self._lock:
            self._live[request_id] = entry

    def started(self, request_id: str, now: float) -> None:
        """An attempt began."""
        self._step(request_id, now, state="in flight", next_at=None, delay_s=None, attempts_delta=1)

    def throttled(self, request_id: str, now: float, *, due: float, delay_s: float, reason: str) -> None:
        """The attempt was throttled (it does not count); the next one is due at `due`."""
        self._step(
            request_id,
            now,
            state="throttled",
            next_at=due,
            delay_s=delay_s,
            error_type=reason,
            attempts_delta=-1,
        )

    def retrying(
        self, request_id: str, now: float, *, due: float, delay_s: float, error_type: str | None
    ) -> None:
        """The attempt failed and another is due at `due`."""
        self._step(request_id, now, state="retrying", next_at=due, delay_s=delay_s, error_type=error_type)

    def finished(
        self,
        request_id: str,
        now: float,
        state: AsyncState,
        *,
        condition: str | None = None,
        error_type: str | None = None,
        problem: str | None = None,
    ) -> None:
        """It will not run again: `succeeded`, `failed` or `dropped`."""
        with self._lock:
            entry = self._live.pop(request_id, None)
            if entry is None:
                return
            entry = replace(
                entry,
                state=state,
                next_at=None,
                delay_s=None,
                condition=condition,
                changed=now,
                error_type=error_type if error_type is not None else entry.error_type,
                problem=problem,
            )
            self._finished[request_id] = entry
            key = (entry.function, state)
            self._finished_counts[key] = self._finished_counts.get(key, 0) + 1
            while len(self._finished) > self._max_finished:
                self._finished.popitem(last=False)

    def delivered(
        self, request_id: str, now: float, arn: str, *, dead_letter: bool, problem: str | None
    ) -> None:
        """Its destination record (or, for a dead-letter queue, its payload) went to `arn`.

        A failed event that reached its OnFailure destination or its dead-letter queue becomes
        `dead-lettered`; a successful one that reached OnSuccess becomes `delivered`.
        """
        with self._lock:
            entry = self._finished.get(request_id)
            if entry is None:
                return
            if problem is not None:
                self._finished[request_id] = replace(
                    entry, problem=f"not delivered to {arn}: {problem}", changed=now
                )
                return
            state: AsyncState = entry.state
            if entry.state == "succeeded" and not dead_letter:
                state = "delivered"
            elif entry.state in ("failed", "dead-lettered"):
                state = "dead-lettered"
            if state != entry.state:
                self._move_count(entry.function, entry.state, state)
            self._finished[request_id] = replace(
                entry, state=state, destinations=(*entry.destinations, arn), changed=now
            )

    # -- reading --------------------------------------------------------------------------------

    def snapshot(self, function: str | None = None, *, limit: int = 200) -> AsyncQueueSnapshot:
        """The live entries by when they run next, then the latest finished, up to `limit` in all."""
        with self._lock:
            live = [e for e in self._live.values() if function is None or e.function == function]
            finished = [
                e for e in reversed(self._finished.values()) if function is None or e.function == function
            ]
            counts: dict[str, int] = {}
            for entry in live:
                counts[entry.state] = counts.get(entry.state, 0) + 1
            for (name, state), count in self._finished_counts.items():
                if count and (function is None or name == function):
                    counts[state] = counts.get(state, 0) + count
        # Running first, then by the time the next attempt is due.
        live.sort(key=lambda e: (e.state != "in flight", e.next_at or 0.0, e.accepted))
        return AsyncQueueSnapshot(counts=counts, entries=tuple((live + finished)[:limit]))

    def clear_finished(self) -> None:
        """Forget the finished events and their counts."""
        with self._lock:
            self._finished.clear()
            self._finished_counts.clear()

    # -- inside ---------------------------------------------------------------------------------

    def _step(self, request_id: str, now: float, *, attempts_delta: int = 0, **changes: object) -> None:
        with self._lock:
            entry = self._live.get(request_id)
            if entry is None:
                return
            attempts = entry.attempts + attempts_delta
            self._live[request_id] = replace(entry, attempts=max(0, attempts), changed=now, **changes)

    def _move_count(self, function: str, before: str, after: str) -> None:
        old = (function, before)
        self._finished_counts[old] = max(0, self._finished_counts.get(old, 0) - 1)
        new = (function, after)
        self._finished_counts[new] = self._finished_counts.get(new, 0) + 1
