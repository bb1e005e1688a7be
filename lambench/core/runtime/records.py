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
    - INVOKE_START: `request_id`, `cold`, and `attempt` for an asynchronous invocation (1 the
      first attempt, 2 and 3 its retries).
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
    attempt: int | None = None


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


class AsyncStep(str, enum.Enum):
    """What happened to an asynchronous (`Event`) invocation after it was accepted."""

    ACCEPTED = "accepted"
    RESUMED = "resumed"  # picked up again from the durable queue after a restart
    THROTTLED = "throttled"
    RETRY_SCHEDULED = "retry_scheduled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    DROPPED = "dropped"  # its function no longer exists


@record(frozen=True)
class AsyncRecord:
    """One step of an asynchronous invocation, from acceptance to its destination.

    `attempt` counts the function invocations made so far. `delay_s` (RETRY_SCHEDULED, THROTTLED)
    is the wait before the next attempt in real Lambda seconds, whatever `LAMBENCH_TIME_SCALE`
    makes of it. `condition` (SUCCEEDED, FAILED, DELIVERED) is the destination record's:
    `Success`, `RetriesExhausted` or `EventAgeExceeded`. `destination` is the ARN delivered to
    (DELIVERED, DELIVERY_FAILED); `message` says what went wrong or what was done.
    """

    kind: AsyncStep
    time: float
    function: str
    request_id: str
    attempt: int = 0
    delay_s: float | None = None
    condition: str | None = None
    destination: str | None = None
    error_type: str | None = None
    message: str | None = None

    def summary(self) -> str:
        """One line for the log tail: `async 1f2e3d4c: retry 1 of 2 in 60 s (Runtime.Exit)`."""
        kind = self.kind
        if kind is AsyncStep.ACCEPTED:
            step = "accepted (202)"
        elif kind is AsyncStep.RESUMED:
            step = f"resumed from the durable queue after {self.attempt} attempt(s)"
        elif kind is AsyncStep.THROTTLED:
            step = f"throttled; trying again in {self.delay_s or 0:g} s"
        elif kind is AsyncStep.RETRY_SCHEDULED:
            step = f"attempt {self.attempt} failed; retry in {self.delay_s or 0:g} s"
        elif kind is AsyncStep.SUCCEEDED:
            step = f"succeeded on attempt {self.attempt}"
        elif kind is AsyncStep.FAILED:
            step = f"failed after {self.attempt} attempt(s): {self.condition}"
        elif kind is AsyncStep.DELIVERED:
            step = f"{self.condition} record delivered to {self.destination}"
        elif kind is AsyncStep.DELIVERY_FAILED:
            step = f"could not deliver to {self.destination}"
        else:
            step = "dropped"
        detail = f" ({self.error_type or self.message})" if (self.error_type or self.message) else ""
        return f"async {self.request_id[:8]} {self.function}: {step}{detail}"


class SourceStep(str, enum.Enum):
    """What an event source did: a poller's batch and its outcome, or a trigger firing."""

    BATCH = "batch"  # a poller handed a batch to the function (synchronously)
    SUCCEEDED = "succeeded"
    PARTIAL_FAILURE = "partial_failure"  # ReportBatchItemFailures named some records
    FAILED = "failed"  # the whole batch failed (and returns to the queue or is retried)
    THROTTLED = "throttled"
    DISCARDED = "discarded"  # a stream batch given up on (its on-failure record sent, if any)
    TRIGGERED = "triggered"  # a notification, rule or schedule invoked the function asynchronously
    BACKING_OFF = "backing_off"  # the account did not answer
    RECOVERED = "recovered"


@record(frozen=True)
class SourceRecord:
    """One step of an event source. `source` is the event's name in the template (`Jobs`).

    `count` is the number of records in the batch (or events triggered); `failed` how many of
    them failed. `request_id` is the invocation's, when one was made; `message` says what went
    wrong, or where a batch went.
    """

    kind: SourceStep
    time: float
    function: str
    source: str
    source_kind: str
    request_id: str | None = None
    count: int = 0
    failed: int = 0
    message: str | None = None

    def summary(self) -> str:
        """One line for the log tail: `SQS Jobs -> sqs-batch: batch of 10, 2 failed`."""
        kind = self.kind
        if kind is SourceStep.BATCH:
            step = f"batch of {self.count}"
        elif kind is SourceStep.SUCCEEDED:
            step = f"batch of {self.count} succeeded"
        elif kind is SourceStep.PARTIAL_FAILURE:
            step = f"batch of {self.count}: {self.failed} failed (ReportBatchItemFailures)"
        elif kind is SourceStep.FAILED:
            step = f"batch of {self.count} failed"
        elif kind is SourceStep.THROTTLED:
            step = f"batch of {self.count} throttled"
        elif kind is SourceStep.DISCARDED:
            step = f"batch of {self.count} discarded"
        elif kind is SourceStep.TRIGGERED:
            step = (
                "invoked asynchronously" if self.count <= 1 else f"{self.count} events invoked asynchronously"
            )
        elif kind is SourceStep.BACKING_OFF:
            step = "backing off"
        else:
            step = "polling again"
        detail = f" ({self.message})" if self.message else ""
        return f"{self.source_kind} {self.source} -> {self.function}: {step}{detail}"


@record(frozen=True)
class HttpRecord:
    """One request through an HTTP front door (an API route or a function URL): the access log line.

    `request_id` is API Gateway's (or the function URL's) request id; `function` is None when no
    route took the request. `problem` says why the front door answered itself (no route, a
    malformed response, a throttle, a timeout).
    """

    time: float
    method: str
    path: str
    status: int
    latency_ms: float
    request_id: str
    source_ip: str
    door: str
    function: str | None = None
    problem: str | None = None

    def summary(self) -> str:
        """`GET /Prod/hello 200 3.1 ms hello (api ServerlessRestApi, req 1f2e3d4c)`."""
        target = self.function or "-"
        problem = f"; {self.problem}" if self.problem else ""
        return (
            f"{self.method} {self.path} {self.status} {self.latency_ms:.1f} ms {target} "
            f"({self.door}, req {self.request_id[:8]}{problem})"
        )


#: Every record the engine publishes to its subscribers.
Record = LifecycleRecord | LogRecord | ThrottleRecord | ReloadRecord | AsyncRecord | SourceRecord | HttpRecord
