"""The invocation timeline: environments, invocations, throttles, concurrency and cost over time.

Headless: fed by the engine's records (`Timeline.attach(service)`), read through frozen
snapshots that a UI, the CLI or a test can draw or export.
"""

from lambench.core.timeline.cost import Cost, compute_cost, duration_cost, gb_seconds, request_cost
from lambench.core.timeline.export import to_json, write_csv
from lambench.core.timeline.spans import EnvironmentSpan, InvocationSpan, Outcome, Snapshot, Summary
from lambench.core.timeline.store import RecordSource, Timeline, TimelineRecord
from lambench.core.timeline.text import render_environments

__all__ = [
    "Cost",
    "EnvironmentSpan",
    "InvocationSpan",
    "Outcome",
    "RecordSource",
    "Snapshot",
    "Summary",
    "Timeline",
    "TimelineRecord",
    "compute_cost",
    "duration_cost",
    "gb_seconds",
    "render_environments",
    "request_cost",
    "to_json",
    "write_csv",
]
