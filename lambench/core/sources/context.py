"""What every running event source shares: the engine, the account's clients, counters, backoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambench.core.record import record
from lambench.core.runtime.records import SourceRecord, SourceStep
from lambench.core.sources.model import Source, SourceStatus

if TYPE_CHECKING:
    from lambench.core.runtime.destinations import Sender
    from lambench.core.runtime.invoke_api import InvokeResult

#: Makes a boto3 client for the embedded account.
Clients = Callable[[str], Any]
#: Invokes a function: (name, payload, invocation type) -> result.
Invoke = Callable[[str, bytes, str], "InvokeResult"]

#: A poller whose account does not answer waits this long first, doubling up to the maximum.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


@record
class SourceContext:
    """The engine and account a source runs against. `scale` is `LAMBENCH_TIME_SCALE`."""

    invoke: Invoke
    announce: Callable[[SourceRecord], None]
    clients: Clients
    send: Sender
    region: str
    scale: float
    stopping: threading.Event

    def wait(self, real_seconds: float) -> bool:
        """Sleep for a Lambda-service wait (scaled); True when lambench is stopping."""
        return self.stopping.wait(max(0.0, real_seconds * self.scale))


class SourceCounters:
    """One source's state and counters, updated by its threads and read by `lambench sources`."""

    def __init__(self, source: Source, context: SourceContext) -> None:
        self.source = source
        self._context = context
        self._lock = threading.Lock()
        self.polled = self.delivered = self.failed = self.in_flight = self.filtered = 0
        self.state = "Enabled" if source.enabled else "Disabled"
        self.last_error: str | None = None
        self._backoff_s = 0.0

    def add(self, **counts: int) -> None:
        """Add to counters by name (`polled=10`, `in_flight=-10`)."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def announce(self, kind: SourceStep, **fields: Any) -> None:
        """Publish a `SourceRecord` of this source on the engine's bus."""
        self._context.announce(
            SourceRecord(
                kind=kind,
                time=time.time(),
                function=self.source.function,
                source=self.source.name,
                source_kind=self.source.kind,
                **fields,
            )
        )

    def failed_to_reach(self, exc: BaseException) -> bool:
        """Record that the account did not answer and wait; True when lambench is stopping."""
        with self._lock:
            self._backoff_s = min(BACKOFF_MAX_S, self._backoff_s * 2 or BACKOFF_FIRST_S)
            delay = self._backoff_s
            first = not self.state.startswith("Backing off")
            self.last_error = _describe(exc)
            self.state = f"Backing off {delay:g} s: {self.last_error}"
        if first:
            self.announce(SourceStep.BACKING_OFF, message=self.last_error)
        return self._context.stopping.wait(delay)

    def reached(self) -> None:
        """The account answered: leave the backoff state, if it was in one."""
        if not self._backoff_s:
            return
        with self._lock:
            self._backoff_s = 0.0
            self.state = "Enabled"
        self.announce(SourceStep.RECOVERED)

    def status(self) -> SourceStatus:
        """A snapshot for listings."""
        with self._lock:
            return SourceStatus(
                function=self.source.function,
                name=self.source.name,
                kind=self.source.kind,
                target=self.source.target(),
                settings=self.source.settings(),
                state=self.state,
                polled=self.polled,
                delivered=self.delivered,
                failed=self.failed,
                in_flight=self.in_flight,
                filtered=self.filtered,
                last_error=self.last_error,
            )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
