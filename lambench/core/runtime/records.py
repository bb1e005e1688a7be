"""Lifecycle, log and throttle records the engine publishes to its subscribers.

The visualizer, the log tail, the invocation timeline and the metrics are built on these; they
are plain immutable data.
"""

from __future__ import annotations

import enum

from lambench.core.record import record
from lambench.core.runtime.figures import InvocationFigures


class Lifecycle(str, enum.Enum):
    """What happened to an execution environment."""

    ENVIRONMENT_CREATED = "environment_created"
    INIT_START = "init_start"
    INIT_END = "init_end"
    INVOKE_START = "invoke_start"
    INVOKE_END = "invoke_end"
    ENVIRONMENT_RESET = "environment_reset"
    ENVIRONMENT_RETIRED = "environment_retired"


@record(frozen=True)
class LifecycleRecord:
    """One lifecycle step of one environment; `time` is seconds since the epoch.

    Which optional fields a record carries depends on its kind:

    - ENVIRONMENT_CREATED: `init_type` (`on-demand` or `provisioned-concurrency`),
      `memory_size_mb`, `architecture` (`x86_64` or `arm64`).
    - INIT_START: `init_type`, `phase` (`init`, or `invoke` for an init retried inside an invocation).
    - INIT_END: `phase`, `duration_ms`, `status` (`success`, `error` or `timeout`), `error_type`.
    - INVOKE_START: `request_id`, `cold`.
    - INVOKE_END: `request_id` and `figures` (`InvocationFigures`: durations, memory, cold, and
      how it ended; for a function error, `error_type` is the type it reported, and an
      out-of-memory kill is `Runtime.OutOfMemory`).
    - ENVIRONMENT_RESET and ENVIRONMENT_RETIRED: `reason`.
    """

    kind: Lifecycle
    time: float
    function: str
    version: str
    environment_id: str
    request_id: str | None = None
    init_type: str | None = None
    phase: str | None = None
    duration_ms: float | None = None
    status: str | None = None
    error_type: str | None = None
    cold: bool | None = None
    reason: str | None = None
    memory_size_mb: int | None = None
    architecture: str | None = None
    figures: InvocationFigures | None = None


@record(frozen=True)
class LogRecord:
    """One line of an environment's log stream: platform lines and function output alike."""

    time: float
    function: str
    version: str
    environment_id: str
    log_stream: str
    request_id: str | None
    message: str


@record(frozen=True)
class ThrottleRecord:
    """A synchronous invoke the service refused with 429 TooManyRequestsException.

    `version` is the version the request would have run (`$LATEST` or a number); `qualifier` is
    what the caller named (None, a version or an alias). `reason` is AWS's `Reason` field, such as
    `ReservedFunctionConcurrentInvocationLimitExceeded` (lambda-facts §4.8).
    """

    time: float
    function: str
    version: str
    qualifier: str | None
    request_id: str
    reason: str


@record(frozen=True)
class ReloadRecord:
    """Hot reload acted on a change: which files, which functions, how many environments it retired.

    `files` are paths relative to the project directory where possible. `error` is set when the
    change could not be applied (an invalid template: the last good configuration stays); then
    `functions` is empty. `retired` counts environments retired at once plus busy ones that will
    be retired when their invocation ends.
    """

    time: float
    files: tuple[str, ...]
    functions: tuple[str, ...]
    retired: int
    error: str | None = None

    def summary(self) -> str:
        """One line: `reloaded hello (hello/app.py changed; 1 environment retired)` or the error."""
        if self.error is not None:
            return f"not reloaded: {self.error}"
        plural = "" if self.retired == 1 else "s"
        files = ", ".join(self.files) or "nothing"
        retired = f"{self.retired} environment{plural} retired"
        return f"reloaded {', '.join(self.functions)} ({files} changed; {retired})"


#: Every record the engine publishes to its subscribers.
Record = LifecycleRecord | LogRecord | ThrottleRecord | ReloadRecord
