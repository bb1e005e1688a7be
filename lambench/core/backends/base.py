"""The one interface both backends implement: list, inspect, invoke, tail logs, read metrics.

The CLI and the TUI hold a `Backend` and never ask which kind it is. `LocalBackend` runs functions
in lambench's engine beside an embedded moto account; `AwsBackend` talks to a real account through
boto3 (and, in tests, to a moto server over HTTP).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

# BackendError lives beside the AWS error translation that raises it (core/logs uses both).
from lambench.core.aws_errors import BackendError as BackendError
from lambench.core.logs.model import LogBatch, LogQuery
from lambench.core.record import field, record
from lambench.core.runtime.figures import InvocationFigures


@record(frozen=True)
class FunctionSummary:
    """One row of a function listing."""

    name: str
    runtime: str
    handler: str
    memory_mb: int
    timeout_s: int
    architecture: str = "x86_64"
    description: str = ""
    last_modified: str | None = None
    code_size: int | None = None
    #: What invokes it besides a direct call: `SQS`, `Schedule`... (its event sources' kinds).
    triggers: tuple[str, ...] = ()


@record(frozen=True)
class VersionInfo:
    """A published version (or `$LATEST`)."""

    version: str
    description: str = ""
    code_sha256: str = ""
    last_modified: str | None = None


@record(frozen=True)
class AliasInfo:
    """An alias: the version it points at and, for a weighted alias, the extra versions' weights."""

    name: str
    version: str
    weights: dict[str, float] = field(default_factory=dict)
    description: str = ""


@record(frozen=True)
class ProvisionedInfo:
    """A provisioned-concurrency configuration of one version or alias."""

    qualifier: str
    requested: int
    allocated: int
    available: int
    status: str
    reason: str | None = None


@record(frozen=True)
class FunctionDetail:
    """Everything `lambench functions NAME` shows about one function.

    `environment` has secret-looking values masked unless the caller asked to see them.
    """

    summary: FunctionSummary
    arn: str
    role: str | None
    environment: dict[str, str]
    layers: tuple[str, ...]
    log_group: str
    log_format: str
    versions: tuple[VersionInfo, ...]
    aliases: tuple[AliasInfo, ...]
    reserved_concurrency: int | None
    provisioned: tuple[ProvisionedInfo, ...]
    tags: dict[str, str]


@record(frozen=True)
class InvokeOutcome:
    """What one invoke returned, in the Invoke API's terms.

    `logs` is the decoded `LogResult` (the last 4 KB of the invocation's log) when asked for and
    available. `error_type` is the `errorType` of a function error's payload. The figures come from
    the engine locally and from the REPORT line in `logs` for a real account; they are None when
    unknown (an Event invoke, no tail).
    """

    request_id: str | None
    status_code: int
    payload: bytes
    function_error: str | None
    executed_version: str | None
    logs: str | None = None
    error_type: str | None = None
    figures: InvocationFigures | None = None


@record(frozen=True)
class MetricPoint:
    """One period of one metric."""

    time: float
    value: float


@record(frozen=True)
class MetricsSummary:
    """CloudWatch metrics of one function (namespace AWS/Lambda) over a window.

    Totals are sums over the window; `duration_p50_ms`/`duration_p99_ms` and
    `max_concurrent` are None when CloudWatch returned no data for them. `series` maps a metric name
    to its points, one per period, for charts.
    """

    function: str
    start: float
    end: float
    period_s: int
    invocations: float | None
    errors: float | None
    throttles: float | None
    duration_p50_ms: float | None
    duration_p99_ms: float | None
    max_concurrent: float | None
    series: dict[str, tuple[MetricPoint, ...]] = field(default_factory=dict)


class Backend(Protocol):
    """A Lambda account lambench works with: the local engine with moto, or a real one.

    Every method may raise `BackendError`; the local backend also raises the engine's
    `LambdaServiceError`s (unknown function, throttles) exactly as the Invoke API would.
    """

    #: `local` or `aws`.
    kind: str

    @property
    def description(self) -> str:
        """One line naming the account: `embedded moto at http://127.0.0.1:PORT`, `account 1234...`."""
        ...

    @property
    def can_invoke(self) -> bool:
        """Whether `invoke` is allowed (a real account needs --allow-invoke)."""
        ...

    def list_functions(self) -> list[FunctionSummary]:
        """Every function, in a stable order."""
        ...

    def describe_function(self, name: str, *, show_secrets: bool = False) -> FunctionDetail:
        """One function's configuration, versions, aliases, concurrency and tags."""
        ...

    def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
    ) -> InvokeOutcome:
        """Invoke `name` (RequestResponse with its log tail, or Event)."""
        ...

    def tail(self, query: LogQuery, stop: threading.Event) -> Iterator[LogBatch]:
        """Log batches matching `query`; with `query.follow`, until `stop` is set."""
        ...

    def metrics(self, name: str, start: float, end: float, period_s: int = 60) -> MetricsSummary:
        """CloudWatch metrics of `name` between `start` and `end` (seconds since the epoch)."""
        ...

    def close(self) -> None:
        """Release everything: processes, threads, servers, connections."""
        ...
