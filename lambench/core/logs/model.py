"""The log tail's data: one line of a function's log, what to select, and what a source yields.

Every source (the local engine, the on-disk local log store, moto's CloudWatch Logs, a real
account) produces the same `LogLine`s, so the CLI and the TUI render them one way.
"""

from __future__ import annotations

from lambench.core.record import record

#: Levels as lambench normalises them (Python's WARNING and CRITICAL become WARN and FATAL).
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


@record(frozen=True)
class LogLine:
    """One log event of one function.

    `time` is seconds since the epoch; `stream` is the CloudWatch log stream, which names the
    execution environment (`2026/11/22/[$LATEST]<32 hex>`); `request_id` and `level` are None when
    the line does not say (a bare `print`, a platform line without a request).
    """

    time: float
    function: str
    stream: str
    request_id: str | None
    level: str | None
    text: str


@record(frozen=True)
class LogQuery:
    """Which lines a tail yields.

    `function` None means every function; `since` is seconds since the epoch (None: from now when
    following, everything kept otherwise); `text` is a case-sensitive substring; `level` keeps that
    level and the more severe ones; `request_id` keeps the lines of one request, platform lines
    included.
    """

    function: str | None = None
    since: float | None = None
    follow: bool = False
    text: str | None = None
    request_id: str | None = None
    level: str | None = None


@record(frozen=True)
class LogBatch:
    """What a tail yields: lines in time order, and a notice when the source has something to say.

    `notice` is for the user (`reconnecting in 4 s: ThrottlingException ...`, `dropped 1,204 lines`);
    a batch may carry only a notice.
    """

    lines: tuple[LogLine, ...]
    notice: str | None = None
