"""An environment's log stream: the runtime's output pipe, cut into lines.

Each line goes to the running invocation's log (the text `LogType=Tail` returns) and, when anyone
listens, to the service's subscribers as a `LogRecord`. Platform lines (START, END, REPORT) take
the same path, so the two never disagree about order.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable

from lambench.core.runtime.records import LogRecord

#: Function output kept per invocation for its log text; older lines are dropped (and counted)
#: so a handler flooding stdout cannot grow the engine's memory without bound.
MAX_INVOCATION_LOG_BYTES = 1024 * 1024
#: The most read from the pipe in one call.
_CHUNK = 65536


class InvocationLog:
    """The log text of one invocation, bounded in size; drops its oldest lines first."""

    def __init__(self, limit: int = MAX_INVOCATION_LOG_BYTES) -> None:
        # A deque: under a stdout flood every new line drops an old one, in constant time.
        self.lines: deque[str] = deque()
        self._size = 0
        self._limit = limit
        self.dropped_lines = 0

    def add(self, line: str) -> None:
        """Append one line (without its newline)."""
        self.lines.append(line)
        self._size += len(line) + 1
        while self._size > self._limit and len(self.lines) > 1:
            self._size -= len(self.lines.popleft()) + 1
            self.dropped_lines += 1

    def text(self) -> str:
        """The lines joined, each ending in a newline, with a note where lines were dropped."""
        body = "".join(line + "\n" for line in self.lines)
        if self.dropped_lines:
            return (
                f"[lambench] {self.dropped_lines} earlier log lines of this invocation were dropped\n" + body
            )
        return body


class LogCapture:
    """The lines of one environment's log stream, to the invocation's log and the subscribers.

    `invocation_log` is the running invocation's (None between invocations: output then reaches
    only the subscribers); `request_id` is stamped on each record.
    """

    def __init__(
        self,
        *,
        function: str,
        version: str,
        environment_id: str,
        log_stream: str,
        publish: Callable[[LogRecord], None],
        wants_records: Callable[[], bool],
    ) -> None:
        self._function = function
        self._version = version
        self._environment_id = environment_id
        self._log_stream = log_stream
        self._publish = publish
        self._wants_records = wants_records
        self._partial = b""
        self.invocation_log: InvocationLog | None = None
        self.request_id: str | None = None

    def line(self, text: str) -> None:
        """One whole line (without its newline)."""
        if self.invocation_log is not None:
            self.invocation_log.add(text)
        if self._wants_records():
            self._publish(
                LogRecord(
                    time=time.time(),
                    function=self._function,
                    version=self._version,
                    environment_id=self._environment_id,
                    log_stream=self._log_stream,
                    request_id=self.request_id,
                    message=text,
                )
            )

    def read(self, fd: int) -> bool:
        """Read what the pipe holds now, line by line; False once it is at its end."""
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                chunk = b""
            if not chunk:
                return False
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()
            for raw in lines:
                self.line(raw.decode("utf-8", "replace"))
            if len(chunk) < _CHUNK:
                return True

    def flush_partial(self) -> None:
        """A last line without its newline counts as a line (the invocation is ending)."""
        if self._partial:
            self.line(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def drop_partial(self) -> None:
        """Forget half a line (its runtime process is gone)."""
        self._partial = b""
