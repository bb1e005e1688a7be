"""The timeline's answers: frozen snapshots of invocations, environments and their summary.

Every object here is immutable and owned by whoever asked for it, so a UI thread can keep one
while the engine's threads go on feeding the timeline.
"""

from __future__ import annotations

from typing import Literal

from lambench.core.record import record
from lambench.core.runtime.figures import InvocationFigures
from lambench.core.runtime.records import ThrottleRecord
from lambench.core.timeline.cost import Cost

Outcome = Literal["success", "error", "timeout", "oom"]
OUTCOMES: tuple[Outcome, ...] = ("success", "error", "timeout", "oom")
#: The error type Lambda reports for an invocation killed for using too much memory.
OUT_OF_MEMORY = "Runtime.OutOfMemory"


@record(frozen=True, slots=True)
class InvocationSpan:
    """One invocation, from INVOKE_START to INVOKE_END (times in seconds since the epoch).

    While it runs, `end`, `outcome` and `figures` are None. `architecture` and `init_type` come
    from the environment and are None if the timeline never heard of its creation; so does
    `memory_size_mb` while it runs (or when its figures do not say it). `attempt` numbers the
    attempts of an asynchronous invocation (1, then 2 and 3 for its retries); None if synchronous.
    """

    request_id: str | None
    function: str
    version: str
    environment_id: str
    start: float
    end: float | None
    figures: InvocationFigures | None
    memory_size_mb: int | None
    architecture: str | None
    cold: bool
    init_type: str | None
    outcome: Outcome | None
    attempt: int | None = None

    @property
    def duration_ms(self) -> float | None:
        """The REPORT line's Duration, once it ended."""
        return self.figures.duration_ms if self.figures is not None else None

    @property
    def billed_duration_ms(self) -> int | None:
        """The REPORT line's Billed Duration, once it ended (and if it was said)."""
        return self.figures.billed_duration_ms if self.figures is not None else None

    @property
    def init_duration_ms(self) -> float | None:
        """The REPORT line's Init Duration, on a cold start."""
        return self.figures.init_duration_ms if self.figures is not None else None

    @property
    def max_memory_mb(self) -> int | None:
        """The REPORT line's Max Memory Used, once it ended (and if it was said)."""
        return self.figures.max_memory_used_mb if self.figures is not None else None

    @property
    def error_type(self) -> str | None:
        """The function's or the platform's error type, for a failed invocation."""
        return self.figures.error_type if self.figures is not None else None

    @property
    def running(self) -> bool:
        """True until INVOKE_END."""
        return self.end is None

    @property
    def failed(self) -> bool:
        """True for a function error, a timeout or an out-of-memory kill."""
        return self.outcome is not None and self.outcome != "success"


@record(frozen=True, slots=True)
class EnvironmentSpan:
    """One execution environment, from its creation to its retirement.

    The init fields describe its first init; `resets` counts the inits after it (a runtime
    restarted after a reset or after a failed first init). `invocations` holds those of its
    invocations still kept in detail (and the one running, if any), oldest first;
    `invocation_count` counts every invocation it served.
    """

    environment_id: str
    function: str
    version: str
    init_type: str | None
    memory_size_mb: int | None
    architecture: str | None
    # Without an ENVIRONMENT_CREATED (the timeline was attached later): its first record's time,
    # or the start of its first invocation when that was earlier.
    created_at: float
    init_start: float | None
    init_end: float | None
    init_duration_ms: float | None
    init_status: str | None
    init_error_type: str | None
    resets: int
    invocations: tuple[InvocationSpan, ...]
    invocation_count: int
    retired_at: float | None
    retire_reason: str | None

    @property
    def retired(self) -> bool:
        """True once ENVIRONMENT_RETIRED was seen."""
        return self.retired_at is not None


@record(frozen=True)
class Summary:
    """What happened in a window: invocations by the time they started, throttles, environments.

    `errors` counts every invocation that did not succeed, as CloudWatch's Errors metric does:
    function errors, timeouts and out-of-memory kills alike, so `successes + errors ==
    invocations`; `timeouts` and `ooms` break some of them out, and `error_types` counts the
    failed ones that reported an error type. Throttled requests are not invocations and cost
    nothing. Percentiles are of `duration_ms` (nearest rank), exact when `percentiles_exact`,
    otherwise estimated within 1%.
    """

    start: float
    end: float
    invocations: int
    successes: int
    errors: int
    error_types: dict[str, int]
    timeouts: int
    ooms: int
    throttles: int
    throttle_reasons: dict[str, int]
    cold_starts: int
    cold_ratio: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_duration_ms: float | None
    max_concurrency: int
    environments_created: int
    gb_seconds: float
    cost: Cost
    percentiles_exact: bool


@record(frozen=True)
class Snapshot:
    """Everything a timeline view needs for one window, taken at one instant.

    `concurrency` holds (slot start, most invocations in flight during the slot) for slots of
    `resolution_s` seconds from `start`.
    """

    start: float
    end: float
    resolution_s: float
    summary: Summary
    environments: tuple[EnvironmentSpan, ...]
    invocations: tuple[InvocationSpan, ...]
    throttles: tuple[ThrottleRecord, ...]
    concurrency: tuple[tuple[float, int], ...]
