"""Lifecycle and log records the engine publishes to its subscribers.

The visualizer, the log tail and the metrics are built on these; they are plain immutable data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Lifecycle(str, enum.Enum):
    """What happened to an execution environment."""

    ENVIRONMENT_CREATED = "environment_created"
    INIT_START = "init_start"
    INIT_END = "init_end"
    INVOKE_START = "invoke_start"
    INVOKE_END = "invoke_end"
    ENVIRONMENT_RESET = "environment_reset"
    ENVIRONMENT_RETIRED = "environment_retired"


@dataclass(frozen=True)
class LifecycleRecord:
    """One lifecycle step of one environment; `time` is seconds since the epoch.

    `phase` is `init` or `invoke` for INIT records, `status` is `success`, `error` or `timeout`, and
    `reason` says why an environment was reset or retired.
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


@dataclass(frozen=True)
class LogRecord:
    """One line of an environment's log stream: platform lines and function output alike."""

    time: float
    function: str
    version: str
    environment_id: str
    log_stream: str
    request_id: str | None
    message: str
