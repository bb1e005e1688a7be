"""`InvocationFigures`: the figures of one invocation, in one record.

The engine measures them; the Invoke API's answer, the INVOKE_END lifecycle record, the timeline's
spans and the rows read back from REPORT lines all hold this one record, so a new figure is added
here and nowhere else.
"""

from __future__ import annotations

from lambench.core.record import record

#: How an invocation ended.
SUCCESS = "success"
ERROR = "error"
TIMEOUT = "timeout"


@record(frozen=True, slots=True)
class InvocationFigures:
    """Duration, billing, memory, cold or warm, and how one invocation ended.

    Every figure the engine measures is set; one read back from a log (a JSON `platform.report`
    record, a REPORT line written by something else) may lack some, which are then None.
    `status` is how it ended (`success`, `error` or `timeout`): unlike a REPORT line's `Status`
    field, which only platform errors set, a function's own error is `error` here too, and
    `error_type` is the function's or the platform's error type.
    """

    duration_ms: float
    billed_duration_ms: int | None
    memory_size_mb: int | None
    max_memory_used_mb: int | None
    init_duration_ms: float | None = None
    cold: bool = False
    status: str = SUCCESS
    error_type: str | None = None

    @property
    def failed(self) -> bool:
        """True for a function error, a platform error or a timeout."""
        return self.status != SUCCESS
