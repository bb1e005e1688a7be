"""Asynchronous (`Event`) invocations as Lambda runs them (lambda-facts §7.2).

An accepted event goes to the durable journal (when the service has one) before the 202, then
to a queue ordered by when each attempt is due, which a small pool of worker threads runs:

- a function error (a handler exception, a timeout, an out-of-memory kill) is retried
  `MaximumRetryAttempts` times (default 2), after 1 minute and then 2 minutes;
- a throttle is retried with backoff from 1 s, doubling up to 5 minutes, and does not count as
  an attempt;
- an event older than `MaximumEventAgeInSeconds` (default 6 hours) when its next attempt is due
  is not run again;
- the outcome goes to the OnSuccess or OnFailure destination, and a failure to the dead-letter
  queue, with AWS's record and attributes (`destinations.py`).

Every wait is multiplied by `LAMBENCH_TIME_SCALE`; the records keep real Lambda seconds.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from lambench.core.runtime import errors
from lambench.core.runtime.async_board import AsyncBoard
from lambench.core.runtime.async_config import AsyncConfig
from lambench.core.runtime.async_journal import AsyncJournal, PendingEvent
from lambench.core.runtime.environment import Invocation, Outcome
from lambench.core.runtime.invoke_api import InvokeTarget
from lambench.core.runtime.records import AsyncRecord, AsyncStep

#: Waits before the first and the second retry of a function error: "about 1 minute" and "about 2
#: minutes" in the Developer Guide; lambench waits exactly that (AWS's jitter is not documented).
RETRY_DELAYS_S = (60.0, 120.0)
#: A throttled event is retried after 1 s, doubling up to 5 minutes (lambda-facts §7.2).
THROTTLE_RETRY_S = 1.0
THROTTLE_RETRY_MAX_S = 300.0

#: Attempts run at once (worker threads), across functions. AWS's pollers scale with the
#: function's concurrency; locally a burst of 1,000 events would start 1,000 runtime processes,
#: so lambench runs this many at a time (a function's reserved concurrency still throttles below).
DEFAULT_MAX_IN_FLIGHT = 16

CONDITION_SUCCESS = "Success"
CONDITION_RETRIES_EXHAUSTED = "RetriesExhausted"
CONDITION_EVENT_AGE_EXCEEDED = "EventAgeExceeded"

#: Runs one invocation synchronously (the service's own invoke path).
Run = Callable[[InvokeTarget, Invocation], tuple[Outcome, str]]
#: Resolves a function name and qualifier to what an attempt runs (raises ResourceNotFoundError).
Resolve = Callable[[str, str | None], InvokeTarget]
#: Hands an event's outcome to its destinations: (event, condition, target or None, last outcome).
Finish = Callable[[PendingEvent, str, InvokeTarget | None, Outcome | None], None]


class AsyncDispatcher:
    """The queue of accepted events: schedules attempts, retries, expiry and destinations.

    `journal`, when given, makes the queue durable (see `async_journal.py`). `close` stops new
    attempts and cuts every wait short; events not finished stay in the journal for the next
    process on the project.
    """

    def __init__(
        self,
        run: Run,
        *,
        resolve: Resolve,
        config_of: Callable[[str], AsyncConfig],
        finish: Finish,
        publish: Callable[[AsyncRecord], None],
        journal: AsyncJournal | None = None,
        scale: float = 1.0,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._run = run
        self._resolve = resolve
        self._config_of = config_of
        self._finish = finish
        self._publish = publish
        self._journal = journal
        self._scale = scale
        self._max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due: list[tuple[float, int, PendingEvent]] = []
        self._sequence = itertools.count()
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._in_flight = 0
        self._closed = False
        #: Where each event stands, for the TUI's async queue panel.
        self.board = AsyncBoard()

    def submit(self, target: InvokeTarget, invocation: Invocation) -> None:
        """Accept one event: journaled (durable) before this returns, run as soon as it can."""
        event = PendingEvent(
            request_id=invocation.request_id,
            function=target.config.name,
            qualifier=target.qualifier,
            invoked_function_arn=invocation.invoked_function_arn,
            trace_id=invocation.trace_id,
            accepted=time.time(),
            payload=invocation.payload,
        )
        with self._lock:
            if self._closed:
                raise errors.LambdaServiceError("The local Lambda service is closed")
        if self._journal is not None:
            self._journal.accepted(event)
        self.board.queued(
            event.request_id, event.function, event.accepted, due=event.accepted, now=event.accepted
        )
        self._publish(self._record(AsyncStep.ACCEPTED, event))
        self._schedule(event, event.accepted)

    def resume(self, events: list[PendingEvent]) -> None:
        """Queue events a previous process accepted and did not finish (already in our journal)."""
        now = time.time()
        for event in events:
            self.board.queued(
                event.request_id,
                event.function,
                event.accepted,
                attempts=event.attempts,
                due=event.due,
                now=now,
            )
            self._publish(self._record(AsyncStep.RESUMED, event))
            self._schedule(event, event.due)

    def pending(self) -> int:
        """Events accepted and not finished: queued, waiting for a retry, or running."""
        with self._lock:
            return len(self._due) + self._in_flight

    def close(self) -> None:
        """Accept no more events and start no more attempts; running ones finish or are killed."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()

    def join(self, deadline: float) -> None:
        """Wait, until `deadline` (time.monotonic), for every worker (and its attempt) to end."""
        with self._lock:
            threads = list(self._workers)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- scheduling -----------------------------------------------------------------------------

    def _schedule(self, event: PendingEvent, due: float) -> None:
        with self._lock:
            if self._closed:
                return  # stays in the journal
            heapq.heappush(self._due, (due, next(self._sequence), event))
            if self._idle == 0 and len(self._workers) < self._max_in_flight:
                worker = threading.Thread(
                    target=self._work, name=f"lambench-async-{len(self._workers) + 1}", daemon=True
                )
                self._workers.append(worker)
                worker.start()
            self._wake.notify()

    def _work(self) -> None:
        # Each worker takes the earliest due event when its time comes, runs the attempt outside
        # the lock, and comes back for the next: no thread is started per attempt.
        with self._lock:
            while not self._closed:
                wait: float | None = None
                if self._due:
                    wait = self._due[0][0] - time.time()
                    if wait <= 0:
                        _, _, event = heapq.heappop(self._due)
                        self._in_flight += 1
                        self._lock.release()
                        try:
                            self._attempt_once(event)
                        finally:
                            self._lock.acquire()
                            self._in_flight -= 1
                        continue
                self._idle += 1
                self._wake.wait(wait)
                self._idle -= 1
            self._wake.notify()  # pass the shutdown on to the next waiting worker

    def _attempt_once(self, event: PendingEvent) -> None:
        config = self._config_of(event.function)
        if self._expired(event, config, time.time()):
            self._fail(event, CONDITION_EVENT_AGE_EXCEEDED, None)
            return
        try:
            target = self._resolve(event.function, event.qualifier)
        except errors.ResourceNotFoundError as exc:
            self._end(event, "dropped")
            self.board.finished(event.request_id, time.time(), "dropped", problem=exc.message)
            self._publish(self._record(AsyncStep.DROPPED, event, message=exc.message))
            return
        invocation = Invocation(
            request_id=event.request_id,
            payload=event.payload,
            invoked_function_arn=event.invoked_function_arn,
            trace_id=event.trace_id,
            client_context=None,
            attempt=event.attempts + 1,
        )
        self.board.started(event.request_id, time.time())
        try:
            outcome, _ = self._run(target, invocation)
        except errors.TooManyRequestsError as exc:
            self._throttled(event, exc.reason)
            return
        except errors.LambdaServiceError:
            return  # the service closed under it: the event stays in the journal
        with self._lock:
            closing = self._closed
        if closing and outcome.function_error is not None:
            return  # killed by the shutdown, not failed: the next process runs it again
        event.attempts += 1
        event.throttles = 0
        if outcome.function_error is None:
            # Journaled first: a handler that succeeded never runs again, whatever happens next.
            self._end(event, "succeeded")
            self.board.finished(event.request_id, time.time(), "succeeded", condition=CONDITION_SUCCESS)
            self._publish(self._record(AsyncStep.SUCCEEDED, event, condition=CONDITION_SUCCESS))
            self._finish(event, CONDITION_SUCCESS, target, outcome)
            return
        event.last_error = outcome.figures.error_type or outcome.function_error
        event.last_outcome = outcome
        if event.attempts > config.maximum_retry_attempts:
            self._fail(event, CONDITION_RETRIES_EXHAUSTED, target)
            return
        delay = RETRY_DELAYS_S[min(event.attempts, len(RETRY_DELAYS_S)) - 1]
        event.due = time.time() + delay * self._scale
        if self._journal is not None:
            self._journal.retry(event)
        self.board.retrying(
            event.request_id, time.time(), due=event.due, delay_s=delay, error_type=event.last_error
        )
        self._publish(
            self._record(AsyncStep.RETRY_SCHEDULED, event, delay_s=delay, error_type=event.last_error)
        )
        self._schedule(event, event.due)

    def _throttled(self, event: PendingEvent, reason: str) -> None:
        event.throttles += 1
        delay = min(THROTTLE_RETRY_S * 2 ** (event.throttles - 1), THROTTLE_RETRY_MAX_S)
        event.due = time.time() + delay * self._scale
        self.board.throttled(event.request_id, time.time(), due=event.due, delay_s=delay, reason=reason)
        self._publish(self._record(AsyncStep.THROTTLED, event, delay_s=delay, message=reason))
        self._schedule(event, event.due)

    def _expired(self, event: PendingEvent, config: AsyncConfig, now: float) -> bool:
        return now - event.accepted >= config.maximum_event_age_s * self._scale

    def _fail(self, event: PendingEvent, condition: str, target: InvokeTarget | None) -> None:
        self._end(event, "failed")
        self.board.finished(
            event.request_id, time.time(), "failed", condition=condition, error_type=event.last_error
        )
        self._publish(self._record(AsyncStep.FAILED, event, condition=condition, error_type=event.last_error))
        self._finish(event, condition, target, event.last_outcome)

    def _end(self, event: PendingEvent, how: str) -> None:
        if self._journal is not None:
            self._journal.done(event, how)

    def _record(self, kind: AsyncStep, event: PendingEvent, **fields: object) -> AsyncRecord:
        return AsyncRecord(
            kind=kind,
            time=time.time(),
            function=event.function,
            request_id=event.request_id,
            attempt=event.attempts,
            **fields,  # type: ignore[arg-type]
        )
