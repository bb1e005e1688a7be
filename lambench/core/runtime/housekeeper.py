"""The housekeeper: one thread that retires environments idle past their keep-alive or lifetime.

It owns no environments. It sleeps until the earliest time anything is due, asks its owner to take
out what is due by then, retires that, and sleeps again; it starts with the first `schedule`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from lambench.core.runtime.environment import ExecutionEnvironment

#: Takes out every environment due by `now` (with the reason to retire it) and says when the
#: next one is due (`math.inf` when none is).
Expire = Callable[[float], tuple[list[tuple[ExecutionEnvironment, str]], float]]


class Housekeeper:
    """Wakes when the earliest idle environment is due and retires what its owner hands over."""

    def __init__(self, expire: Expire) -> None:
        self._expire = expire
        self._wake = threading.Condition(threading.Lock())
        self._due = math.inf
        self._closed = False
        self._thread: threading.Thread | None = None

    def schedule(self, due: float) -> None:
        """Make sure the housekeeper wakes by `due` (time.monotonic).

        The common case costs nothing: a newly idle environment is due no earlier than the ones
        the housekeeper already waits for, so it is only woken when it sleeps for longer.
        """
        with self._wake:
            if self._closed:
                return
            if self._thread is None:
                self._due = due
                self._thread = threading.Thread(target=self._run, name="lambench-housekeeper", daemon=True)
                self._thread.start()
            elif due < self._due:
                self._due = due
                self._wake.notify_all()

    def close(self) -> None:
        """Stop waking (the owner retires what is left)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()

    def join(self, timeout_s: float) -> None:
        """Wait for the thread to end, if it started."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _is_closed(self) -> bool:
        # A method, not the attribute: `close` runs on another thread while this one retires.
        return self._closed

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._closed:
                    return
                # From here, a `schedule` that comes during the pass below is kept in `_due`.
                self._due = math.inf
            expired, next_due = self._expire(time.monotonic())
            for env, reason in expired:
                env.retire(reason)
            with self._wake:
                if self._is_closed():
                    return
                self._due = min(self._due, next_due)
                if not expired:
                    wait = None if self._due == math.inf else max(0.0, self._due - time.monotonic())
                    self._wake.wait(wait)
