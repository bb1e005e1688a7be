"""Asynchronous (`Event`) invocations: accepted at once, run off the caller's thread.

Today each event gets a thread of its own that runs it, retrying a throttle with backoff until the
service closes. This is the seat for the rest of Lambda's asynchronous model (a durable queue,
retries of function errors, event age, destinations): they belong here, behind `submit`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lambench.core.runtime import errors
from lambench.core.runtime.environment import Invocation
from lambench.core.runtime.invoke_api import InvokeTarget

#: A throttled asynchronous event is retried after this delay, doubling up to the maximum.
THROTTLE_RETRY_S = 1.0
THROTTLE_RETRY_MAX_S = 30.0

#: Runs one invocation synchronously (the service's own invoke path).
Run = Callable[[InvokeTarget, Invocation], object]


class AsyncDispatcher:
    """Runs queued events through `run`; `close` wakes every waiting retry and joins the threads."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(self, target: InvokeTarget, invocation: Invocation) -> None:
        """Accept one event; it runs as soon as a thread picks it up."""
        thread = threading.Thread(
            target=self._deliver,
            args=(target, invocation),
            name=f"lambench-async-{invocation.request_id[:8]}",
            daemon=True,
        )
        with self._lock:
            if self._closed:
                raise errors.LambdaServiceError("The local Lambda service is closed")
            self._threads.add(thread)
        thread.start()

    def close(self) -> None:
        """Accept no more events and cut every retry wait short (running ones finish or are killed)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()

    def join(self, deadline: float) -> None:
        """Wait, until `deadline` (time.monotonic), for every dispatch thread to end."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _deliver(self, target: InvokeTarget, invocation: Invocation) -> None:
        delay = THROTTLE_RETRY_S
        try:
            while True:
                try:
                    self._run(target, invocation)
                    return
                except errors.TooManyRequestsError:
                    # Lambda keeps a throttled asynchronous event and retries it with backoff
                    # (lambda-facts §9); lambench retries until the service closes.
                    if self._sleep_unless_closed(delay):
                        return
                    delay = min(delay * 2, THROTTLE_RETRY_MAX_S)
        except errors.LambdaServiceError:
            pass  # the service closed under it
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _sleep_unless_closed(self, seconds: float) -> bool:
        """Wait `seconds`, or less if the service closes meanwhile; True if it closed."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(remaining)
            return True
