"""What the timeline knows of each execution environment while records come in.

Internal to the timeline, which touches these only under its lock and hands out
`EnvironmentSpan` copies.
"""

from __future__ import annotations

from collections import deque

from lambench.core.runtime.records import LifecycleRecord
from lambench.core.timeline.spans import EnvironmentSpan, InvocationSpan


class Running:
    """The invocation an environment is running: what INVOKE_START said."""

    __slots__ = ("attempt", "cold", "request_id", "start")

    def __init__(self, start: float, request_id: str | None, cold: bool, attempt: int | None = None) -> None:
        self.start = start
        self.request_id = request_id
        self.cold = cold
        self.attempt = attempt


class EnvironmentState:
    """What the timeline knows of one environment; only ever touched under the lock."""

    __slots__ = (
        "architecture",
        "created_at",
        "created_seen",
        "environment_id",
        "frozen_copy",
        "function",
        "init_duration_ms",
        "init_end",
        "init_error_type",
        "init_start",
        "init_status",
        "init_type",
        "invocation_count",
        "memory_size_mb",
        "resets",
        "retire_reason",
        "retired_at",
        "running",
        "spans",
        "version",
    )

    def __init__(self, record: LifecycleRecord) -> None:
        self.environment_id = record.environment_id
        self.function = record.function
        self.version = record.version
        self.created_at = record.time
        self.created_seen = False
        self.init_type: str | None = None
        self.memory_size_mb: int | None = None
        self.architecture: str | None = None
        self.init_start: float | None = None
        self.init_end: float | None = None
        self.init_duration_ms: float | None = None
        self.init_status: str | None = None
        self.init_error_type: str | None = None
        self.resets = 0
        # The environment's share of the timeline's detailed invocations, in the order fed.
        self.spans: deque[InvocationSpan] = deque()
        self.invocation_count = 0
        self.running: Running | None = None
        self.retired_at: float | None = None
        self.retire_reason: str | None = None
        # The last `frozen()` answer; whoever changes the environment sets it back to None.
        self.frozen_copy: EnvironmentSpan | None = None

    def running_span(self) -> InvocationSpan | None:
        """The invocation in flight, as a span without an end."""
        running = self.running
        if running is None:
            return None
        return InvocationSpan(
            request_id=running.request_id,
            function=self.function,
            version=self.version,
            environment_id=self.environment_id,
            start=running.start,
            end=None,
            figures=None,
            memory_size_mb=self.memory_size_mb,
            architecture=self.architecture,
            cold=running.cold,
            init_type=self.init_type,
            outcome=None,
            attempt=running.attempt,
        )

    def frozen(self) -> EnvironmentSpan:
        """A snapshot of it that shares nothing mutable; reused until the environment changes.

        Most environments a snapshot shows (the retired ones) no longer change, so a UI refreshing
        many times a second rebuilds only the few that did.
        """
        if self.frozen_copy is not None:
            return self.frozen_copy
        spans = tuple(self.spans)
        running = self.running_span()
        if running is not None:
            spans = (*spans, running)
        self.frozen_copy = EnvironmentSpan(
            environment_id=self.environment_id,
            function=self.function,
            version=self.version,
            init_type=self.init_type,
            memory_size_mb=self.memory_size_mb,
            architecture=self.architecture,
            created_at=self.created_at,
            init_start=self.init_start,
            init_end=self.init_end,
            init_duration_ms=self.init_duration_ms,
            init_status=self.init_status,
            init_error_type=self.init_error_type,
            resets=self.resets,
            invocations=spans,
            invocation_count=self.invocation_count,
            retired_at=self.retired_at,
            retire_reason=self.retire_reason,
        )
        return self.frozen_copy
