"""A timeline snapshot as JSON-ready data or as CSV, for saving a run or comparing runs."""

from __future__ import annotations

import csv
from typing import IO, Any, Literal

from lambench.core.record import as_dict, fields
from lambench.core.runtime.records import ThrottleRecord
from lambench.core.timeline.spans import EnvironmentSpan, InvocationSpan, Snapshot, Summary

CsvTable = Literal["invocations", "environments", "throttles", "concurrency"]
CSV_TABLES: tuple[CsvTable, ...] = ("invocations", "environments", "throttles", "concurrency")

# A span's figures are flat columns, read through its properties, in the order the table always had.
_FIGURE_COLUMNS = ("duration_ms", "billed_duration_ms", "init_duration_ms", "max_memory_mb")
_INVOCATION_COLUMNS = (
    *(
        name
        for f in fields(InvocationSpan)
        for name in (_FIGURE_COLUMNS if f.name == "figures" else (f.name,))
    ),
    "error_type",
)
# An environment's invocations are their own table; CSV has no room for a list in a cell.
_ENVIRONMENT_COLUMNS = tuple(f.name for f in fields(EnvironmentSpan) if f.name != "invocations")
_THROTTLE_COLUMNS = tuple(f.name for f in fields(ThrottleRecord))
_CONCURRENCY_COLUMNS = ("time", "in_flight")


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


def _summary(summary: Summary) -> dict[str, Any]:
    data = {f.name: getattr(summary, f.name) for f in fields(summary)}
    data["error_types"] = dict(summary.error_types)
    data["throttle_reasons"] = dict(summary.throttle_reasons)
    data["cost"] = as_dict(summary.cost)
    return data


def _environment(environment: EnvironmentSpan) -> dict[str, Any]:
    data = _fields(environment, _ENVIRONMENT_COLUMNS)
    # The full records are under "invocations" at the top level; here only what draws the row.
    data["invocations"] = [
        {"request_id": span.request_id, "start": span.start, "end": span.end, "outcome": span.outcome}
        for span in environment.invocations
    ]
    return data


def to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as plain dicts, lists, strings, numbers, booleans and None.

    Times are seconds since the epoch; a running invocation has `end`, `outcome` and its REPORT
    figures null.
    """
    return {
        "start": snapshot.start,
        "end": snapshot.end,
        "resolution_s": snapshot.resolution_s,
        "summary": _summary(snapshot.summary),
        "environments": [_environment(environment) for environment in snapshot.environments],
        "invocations": [_fields(span, _INVOCATION_COLUMNS) for span in snapshot.invocations],
        "throttles": [_fields(throttle, _THROTTLE_COLUMNS) for throttle in snapshot.throttles],
        "concurrency": [{"time": t, "in_flight": in_flight} for t, in_flight in snapshot.concurrency],
    }


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_csv(snapshot: Snapshot, file: IO[str], what: CsvTable = "invocations") -> int:
    """Write one table of the snapshot to `file` (opened with `newline=""`); returns the row count.

    The first row names the columns; empty cells stand for None.
    """
    rows: list[tuple[Any, ...]]
    if what == "invocations":
        columns = _INVOCATION_COLUMNS
        rows = [tuple(getattr(span, name) for name in columns) for span in snapshot.invocations]
    elif what == "environments":
        columns = _ENVIRONMENT_COLUMNS
        rows = [tuple(getattr(env, name) for name in columns) for env in snapshot.environments]
    elif what == "throttles":
        columns = _THROTTLE_COLUMNS
        rows = [tuple(getattr(throttle, name) for name in columns) for throttle in snapshot.throttles]
    elif what == "concurrency":
        columns = _CONCURRENCY_COLUMNS
        rows = list(snapshot.concurrency)
    else:
        raise ValueError(
            f"unknown table {what!r}; expected invocations, environments, throttles or concurrency"
        )
    writer = csv.writer(file)
    writer.writerow(columns)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return len(rows)
