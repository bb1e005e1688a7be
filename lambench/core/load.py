"""Drive synchronous invokes against the local service: N requests at concurrency C, a steady rate,
or a burst fired all at once.

The runner is the client: it counts what came back (successes, function errors, throttles, other
failures) and never loses a request: every one it sends is counted exactly once. What the
platform did (environments, cold starts, durations, cost) is the timeline's to tell.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

from lambench.core.record import field, record
from lambench.core.runtime import errors
from lambench.core.runtime.service import LocalLambda

REQUESTS = "requests"
RATE = "rate"
BURST = "burst"
#: The most client threads a steady-rate run starts; beyond it, requests wait for a free thread
#: (and are counted as sent late), since a thread per request would exhaust the machine first.
MAX_RATE_WORKERS = 1_000


@record(frozen=True)
class LoadPlan:
    """What to send. Build one with `requests`, `rate` or `burst`."""

    mode: str
    requests: int = 0
    concurrency: int = 0
    rate: float = 0.0
    duration_s: float = 0.0

    @classmethod
    def fixed(cls, requests: int, concurrency: int) -> LoadPlan:
        """`requests` invokes, `concurrency` at a time (each client sends its next when one returns)."""
        if requests < 1 or concurrency < 1:
            raise ValueError("requests and concurrency must be at least 1")
        return cls(REQUESTS, requests=requests, concurrency=min(concurrency, requests))

    @classmethod
    def steady(cls, rate: float, duration_s: float) -> LoadPlan:
        """`rate` invokes per second for `duration_s` seconds, whether or not earlier ones returned."""
        if rate <= 0 or duration_s <= 0:
            raise ValueError("rate and duration must be positive")
        return cls(RATE, requests=max(1, round(rate * duration_s)), rate=rate, duration_s=duration_s)

    @classmethod
    def burst(cls, requests: int) -> LoadPlan:
        """`requests` invokes released at the same instant."""
        if requests < 1:
            raise ValueError("a burst needs at least 1 request")
        return cls(BURST, requests=requests, concurrency=requests)

    def describe(self) -> str:
        """One line for a human: what this plan sends."""
        if self.mode == REQUESTS:
            return f"{self.requests:,} requests at concurrency {self.concurrency}"
        if self.mode == RATE:
            return f"{self.rate:g} requests/s for {self.duration_s:g} s ({self.requests:,} requests)"
        return f"a burst of {self.requests:,} requests"


@record(frozen=True)
class LoadProgress:
    """Counts at one moment of a run."""

    planned: int
    sent: int
    in_flight: int
    succeeded: int
    function_errors: int
    throttled: int
    failed: int
    late: int
    elapsed_s: float

    @property
    def done(self) -> int:
        """Requests that have come back, whatever the answer."""
        return self.succeeded + self.function_errors + self.throttled + self.failed


@record
class LoadReport:
    """The end of a run: its window, its final counts, and whether it was stopped early."""

    plan: LoadPlan
    function: str
    qualifier: str | None
    started_at: float
    ended_at: float
    progress: LoadProgress
    stopped: bool
    request_ids: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)


class LoadRunner:
    """Sends one plan's invokes from client threads; thread-safe `progress()` and `stop()`."""

    def __init__(
        self,
        service: LocalLambda,
        function: str,
        payload: bytes,
        plan: LoadPlan,
        *,
        qualifier: str | None = None,
        keep_request_ids: bool = False,
    ) -> None:
        self._service = service
        self._function = function
        self._payload = payload
        self._plan = plan
        self._qualifier = qualifier
        self._keep_ids = keep_request_ids
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._sent = 0
        self._in_flight = 0
        self._succeeded = 0
        self._function_errors = 0
        self._throttled = 0
        self._failed = 0
        self._late = 0
        self._failures: dict[str, int] = {}
        self._request_ids: list[str] = []
        self._started_mono = 0.0
        self._ended_mono = 0.0
        self._started_at = 0.0
        self._threads: list[threading.Thread] = []

    # -- control --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending in the background; `wait` (or `run`) to finish."""
        self._started_at = time.time()
        self._started_mono = time.monotonic()
        if self._plan.mode == REQUESTS:
            targets = [self._closed_loop] * self._plan.concurrency
        elif self._plan.mode == BURST:
            barrier = threading.Barrier(self._plan.requests)
            targets = [lambda: self._fire_once(barrier)] * self._plan.requests
        else:
            targets = [self._open_loop]
        for index, target in enumerate(targets):
            thread = threading.Thread(target=target, name=f"lambench-load-{index}", daemon=True)
            self._threads.append(thread)
        for thread in self._threads:
            thread.start()
        threading.Thread(target=self._watch, name="lambench-load-watch", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every request has come back (or the run was stopped and drained)."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """Send nothing more; requests in flight finish normally."""
        self._stop.set()

    def run(
        self, on_progress: Callable[[LoadProgress], None] | None = None, every_s: float = 0.1
    ) -> LoadReport:
        """Start, report progress every `every_s` seconds until done, and return the report.

        A KeyboardInterrupt while waiting stops the run, drains what is in flight and re-raises;
        `report()` then gives the partial figures.
        """
        self.start()
        try:
            while not self.wait(every_s):
                if on_progress is not None:
                    on_progress(self.progress())
        except KeyboardInterrupt:
            self.stop()
            raise
        if on_progress is not None:
            on_progress(self.progress())
        return self.report()

    def progress(self) -> LoadProgress:
        """The counts so far."""
        with self._lock:
            return LoadProgress(
                planned=self._plan.requests,
                sent=self._sent,
                in_flight=self._in_flight,
                succeeded=self._succeeded,
                function_errors=self._function_errors,
                throttled=self._throttled,
                failed=self._failed,
                late=self._late,
                elapsed_s=self._elapsed(),
            )

    def _elapsed(self) -> float:
        if not self._started_mono:
            return 0.0
        return (self._ended_mono or time.monotonic()) - self._started_mono

    def report(self) -> LoadReport:
        """The run's figures (partial if it is still going)."""
        progress = self.progress()
        with self._lock:
            ids = list(self._request_ids)
            failures = dict(self._failures)
        return LoadReport(
            plan=self._plan,
            function=self._function,
            qualifier=self._qualifier,
            started_at=self._started_at,
            ended_at=self._started_at + progress.elapsed_s,
            progress=progress,
            stopped=self._stop.is_set() and progress.sent < self._plan.requests,
            request_ids=ids,
            failures=failures,
        )

    # -- client threads -------------------------------------------------------------------------

    def _claim(self) -> bool:
        """Take the right to send one more request, if the plan has one left and no stop came."""
        with self._lock:
            if self._stop.is_set() or self._sent >= self._plan.requests:
                return False
            self._sent += 1
            self._in_flight += 1
            return True

    def _closed_loop(self) -> None:
        while self._claim():
            self._send()

    def _fire_once(self, barrier: threading.Barrier) -> None:
        # Fire anyway if the barrier breaks: a burst that cannot line up all its threads is still one.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=60)
        if self._claim():
            self._send()

    def _open_loop(self) -> None:
        jobs: queue.SimpleQueue[bool] = queue.SimpleQueue()
        idle = 0
        idle_lock = threading.Lock()
        workers: list[threading.Thread] = []

        def worker() -> None:
            nonlocal idle
            while jobs.get():
                self._send()
                with idle_lock:
                    idle += 1

        interval = 1.0 / self._plan.rate
        start = time.monotonic()
        for index in range(self._plan.requests):
            due = start + index * interval
            if self._stop.wait(max(0.0, due - time.monotonic())):
                break
            if not self._claim():
                break
            with idle_lock:
                spare = idle > 0
                if spare:
                    idle -= 1
            if not spare:
                if len(workers) < MAX_RATE_WORKERS:
                    thread = threading.Thread(
                        target=worker, name=f"lambench-load-rate-{len(workers)}", daemon=True
                    )
                    workers.append(thread)
                    thread.start()
                else:
                    with self._lock:
                        self._late += 1
            jobs.put(True)
        for _ in workers:
            jobs.put(False)
        for thread in workers:
            thread.join()

    def _send(self) -> None:
        outcome = "failed"
        request_id: str | None = None
        failure: str | None = None
        try:
            result = self._service.invoke(self._function, self._payload, qualifier=self._qualifier)
            request_id = result.request_id
            outcome = "error" if result.function_error else "success"
        except errors.TooManyRequestsError:
            outcome = "throttled"
        except errors.LambdaServiceError as exc:
            failure = exc.error_code
        except Exception as exc:  # a client thread must count its request whatever happens
            failure = type(exc).__name__
        with self._lock:
            self._in_flight -= 1
            if outcome == "success":
                self._succeeded += 1
            elif outcome == "error":
                self._function_errors += 1
            elif outcome == "throttled":
                self._throttled += 1
            else:
                self._failed += 1
                self._failures[failure or "unknown"] = self._failures.get(failure or "unknown", 0) + 1
            if self._keep_ids and request_id is not None:
                self._request_ids.append(request_id)

    def _watch(self) -> None:
        for thread in self._threads:
            thread.join()
        with self._lock:
            self._ended_mono = time.monotonic()
        self._finished.set()
