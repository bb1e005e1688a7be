"""Running totals of invocations and throttles, per time bucket and function version.

Internal to the timeline, which touches them only under its lock.
"""

from __future__ import annotations

import bisect
import math

from lambench.core.timeline import histogram
from lambench.core.timeline.cost import ARM64, gb_seconds
from lambench.core.timeline.spans import InvocationSpan


class Totals:
    """Totals for one function version over one time bucket (or over a window, when summing).

    `invocations` is also the request count (each invocation is one billed request; throttled
    requests are counted apart and cost nothing). `errors` includes timeouts and OOM kills.
    """

    __slots__ = (
        "cold",
        "durations",
        "environments_created",
        "error_types",
        "errors",
        "gb_arm",
        "gb_x86",
        "invocations",
        "max_duration_ms",
        "ooms",
        "successes",
        "throttles",
        "timeouts",
    )

    def __init__(self) -> None:
        self.invocations = 0
        self.successes = 0
        self.cold = 0
        self.errors = 0
        self.error_types: dict[str, int] = {}
        self.timeouts = 0
        self.ooms = 0
        self.throttles: dict[str, int] = {}
        self.gb_x86 = 0.0
        self.gb_arm = 0.0
        self.environments_created = 0
        self.max_duration_ms: float | None = None
        self.durations: histogram.Histogram = {}

    def count(self, span: InvocationSpan) -> None:
        """Count one finished invocation (its duration is the caller's business)."""
        self.invocations += 1
        if span.cold:
            self.cold += 1
        if span.outcome == "success":
            self.successes += 1
        else:
            self.errors += 1
            if span.outcome == "timeout":
                self.timeouts += 1
            elif span.outcome == "oom":
                self.ooms += 1
            if span.error_type is not None:
                self.error_types[span.error_type] = self.error_types.get(span.error_type, 0) + 1
        if span.architecture == ARM64:
            self.gb_arm += billed_gb_seconds(span)
        else:
            # Unknown architectures are billed as x86_64, Lambda's default.
            self.gb_x86 += billed_gb_seconds(span)

    def count_duration(self, duration_ms: float) -> None:
        """Put one duration in the histogram and the maximum."""
        histogram.add(self.durations, duration_ms)
        if self.max_duration_ms is None or duration_ms > self.max_duration_ms:
            self.max_duration_ms = duration_ms

    def count_throttle(self, reason: str) -> None:
        """Count one throttled request."""
        self.throttles[reason] = self.throttles.get(reason, 0) + 1

    def merge(self, other: Totals) -> None:
        """Add `other`'s totals to these."""
        self.invocations += other.invocations
        self.successes += other.successes
        self.cold += other.cold
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.ooms += other.ooms
        self.gb_x86 += other.gb_x86
        self.gb_arm += other.gb_arm
        self.environments_created += other.environments_created
        for name, count in other.error_types.items():
            self.error_types[name] = self.error_types.get(name, 0) + count
        for reason, count in other.throttles.items():
            self.throttles[reason] = self.throttles.get(reason, 0) + count
        if other.max_duration_ms is not None and (
            self.max_duration_ms is None or other.max_duration_ms > self.max_duration_ms
        ):
            self.max_duration_ms = other.max_duration_ms
        histogram.merge(self.durations, other.durations)


class Series:
    """One function version's buckets, with their indices kept sorted for range queries."""

    __slots__ = ("buckets", "order")

    def __init__(self) -> None:
        self.buckets: dict[int, Totals] = {}
        self.order: list[int] = []

    def at(self, index: int) -> Totals:
        """The bucket `index`, created empty if need be."""
        bucket = self.buckets.get(index)
        if bucket is None:
            bucket = self.buckets[index] = Totals()
            insert_index(self.order, index)
        return bucket


def insert_index(order: list[int], index: int) -> None:
    """Add a new bucket `index` to the ascending list `order`."""
    # Records from several invoking threads can arrive a little out of order; most do not.
    if not order or index > order[-1]:
        order.append(index)
    else:
        bisect.insort(order, index)


def billed_gb_seconds(span: InvocationSpan) -> float:
    """GB-s billed for a finished invocation; 0 when its memory size was never reported."""
    billed = span.billed_duration_ms
    if billed is None and span.duration_ms is not None:
        # Lambda bills whole milliseconds, rounded up (lambda-facts §6).
        billed = math.ceil(span.duration_ms)
    if billed is None or span.memory_size_mb is None:
        return 0.0
    return gb_seconds(span.memory_size_mb, billed)
