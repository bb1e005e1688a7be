"""A function's CloudWatch metrics (namespace AWS/Lambda) in one GetMetricData call.

The call asks for a series per period of Invocations, Errors and Throttles (Sum), Duration p50
and p99, and ConcurrentExecutions (Maximum), plus Duration p50 and p99 over the whole window,
since percentiles of periods cannot be combined into the window's. Sums and the maximum over the
window come from the series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from lambench.core.aws_errors import http_status
from lambench.core.backends.base import BackendError, MetricPoint, MetricsSummary
from lambench.core.record import record

NAMESPACE = "AWS/Lambda"
#: Periods GetMetricData accepts below a minute (high-resolution metrics); above, multiples of 60.
_SHORT_PERIODS = (1, 5, 10, 20, 30)


@record(frozen=True)
class _Series:
    query_id: str
    name: str
    metric: str
    stat: str


#: The series of a MetricsSummary, by their names in `MetricsSummary.series`.
SERIES = (
    _Series("invocations", "Invocations", "Invocations", "Sum"),
    _Series("errors", "Errors", "Errors", "Sum"),
    _Series("throttles", "Throttles", "Throttles", "Sum"),
    _Series("durationP50", "Duration p50", "Duration", "p50"),
    _Series("durationP99", "Duration p99", "Duration", "p99"),
    _Series("concurrent", "ConcurrentExecutions", "ConcurrentExecutions", "Maximum"),
)
_WINDOW = (
    _Series("windowP50", "Duration p50 (window)", "Duration", "p50"),
    _Series("windowP99", "Duration p99 (window)", "Duration", "p99"),
)


def _is_percentile(series: _Series) -> bool:
    return series.stat.startswith("p")


def check_period(period_s: int) -> None:
    """Raise BackendError unless GetMetricData accepts `period_s` (1, 5, 10, 20, 30 or n x 60)."""
    if period_s <= 0 or (period_s not in _SHORT_PERIODS and period_s % 60):
        raise BackendError(
            f"metrics: period {period_s} s is not allowed: use 1, 5, 10, 20, 30 or a multiple of 60"
        )


def window_period(start: float, end: float) -> int:
    """One period covering the window: minutes up to an hour, whole hours beyond (older data needs them)."""
    seconds = max(end - start, 1.0)
    if seconds <= 3600:
        return max(60, math.ceil(seconds / 60) * 60)
    return math.ceil(seconds / 3600) * 3600


def build_queries(
    function: str, period_s: int, window_s: int, *, percentiles: bool = True
) -> list[dict[str, Any]]:
    """The MetricDataQueries of one GetMetricData call for `function`."""
    dimensions = [{"Name": "FunctionName", "Value": function}]
    queries = []
    for series, period in [(s, period_s) for s in SERIES] + [(s, window_s) for s in _WINDOW]:
        if _is_percentile(series) and not percentiles:
            continue
        queries.append(
            {
                "Id": series.query_id,
                "Label": series.name,
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": series.metric, "Dimensions": dimensions},
                    "Period": period,
                    "Stat": series.stat,
                },
                "ReturnData": True,
            }
        )
    return queries


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return float(value)


def summarize(
    function: str, start: float, end: float, period_s: int, results: Iterable[Mapping[str, Any]]
) -> MetricsSummary:
    """A MetricsSummary from GetMetricData's MetricDataResults (all pages, in any order)."""
    points: dict[str, dict[float, float]] = {}
    for result in results:
        into = points.setdefault(str(result.get("Id")), {})
        for stamp, value in zip(result.get("Timestamps", ()), result.get("Values", ()), strict=False):
            if value is not None:
                into[_epoch(stamp)] = float(value)
    series = {
        s.name: tuple(MetricPoint(time, value) for time, value in sorted(points.get(s.query_id, {}).items()))
        for s in SERIES
    }

    def total(name: str) -> float | None:
        return sum(p.value for p in series[name]) if series[name] else None

    def window(query_id: str) -> float | None:
        values = points.get(query_id)
        return next(iter(values.values())) if values else None

    concurrent = series["ConcurrentExecutions"]
    return MetricsSummary(
        function=function,
        start=start,
        end=end,
        period_s=period_s,
        invocations=total("Invocations"),
        errors=total("Errors"),
        throttles=total("Throttles"),
        duration_p50_ms=window("windowP50"),
        duration_p99_ms=window("windowP99"),
        max_concurrent=max(p.value for p in concurrent) if concurrent else None,
        series=series,
    )


def _results(client: Any, queries: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(start, tz=timezone.utc),
        "EndTime": datetime.fromtimestamp(end, tz=timezone.utc),
        "ScanBy": "TimestampAscending",
    }
    # One call; CloudWatch pages it only past 100,800 points.
    while True:
        answer = client.get_metric_data(**request)
        results.extend(answer.get("MetricDataResults", ()))
        token = answer.get("NextToken")
        if not token:
            return results
        request["NextToken"] = token


def read_metrics(
    client: Any,
    function: str,
    start: float,
    end: float,
    period_s: int = 60,
    *,
    percentiles: bool = True,
    without_percentiles: Callable[[], None] | None = None,
) -> MetricsSummary:
    """The metrics of `function` between `start` and `end` (seconds since the epoch), via `client`.

    `client` is a boto3 CloudWatch client. An endpoint that cannot compute percentiles (moto
    answers HTTP 500 when Duration has data) gets a second call without them, after botocore's
    retries; a caller that knows it talks to moto passes `percentiles=False` to skip them at once.
    Without them, the Duration percentiles are None. `without_percentiles` is called when the
    endpoint refused them, so the caller can stop asking.
    """
    check_period(period_s)
    if end <= start:
        raise BackendError(f"metrics: the window ends before it starts ({start} to {end})")
    window_s = window_period(start, end)
    try:
        results = _results(
            client, build_queries(function, period_s, window_s, percentiles=percentiles), start, end
        )
    except Exception as exc:
        status = http_status(exc)
        if not percentiles or status is None or status < 500:
            raise
        results = _results(client, build_queries(function, period_s, window_s, percentiles=False), start, end)
        if without_percentiles is not None:
            without_percentiles()
    return summarize(function, start, end, period_s, results)
