"""Invocations in flight: per-bucket peaks kept for ever, and an exact sweep over detailed spans."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from lambench.core.timeline.aggregates import insert_index
from lambench.core.timeline.spans import InvocationSpan


class Gauge:
    """Invocations in flight for one scope, and per bucket the most seen and the count at its end.

    A bucket with no start or end in it had the same count all through: the end count of the
    bucket before it. That makes the per-bucket maximum exact without touching idle buckets.
    """

    __slots__ = ("count", "order", "peaks")

    def __init__(self) -> None:
        self.count = 0
        self.peaks: dict[int, list[int]] = {}  # bucket index -> [most in flight, in flight at end]
        self.order: list[int] = []

    def move(self, index: int, delta: int) -> None:
        """An invocation started (+1) or ended (-1) during bucket `index`."""
        before = self.count
        self.count = after = before + delta
        peak = self.peaks.get(index)
        if peak is None:
            self.peaks[index] = [max(before, after), after]
            insert_index(self.order, index)
        else:
            peak[0] = max(peak[0], before, after)
            peak[1] = after

    def peak(self, first: int, last: int) -> int:
        """The most invocations in flight at any time during buckets `first` to `last`."""
        order = self.order
        position = bisect.bisect_left(order, first)
        best = self.peaks[order[position - 1]][1] if position else 0
        while position < len(order) and order[position] <= last:
            best = max(best, self.peaks[order[position]][0])
            position += 1
        return best


def sweep(
    peaks: list[int],
    first_slot: int,
    start: float,
    end: float,
    resolution: float,
    spans: Iterable[InvocationSpan],
) -> None:
    """Raise `peaks[first_slot:]` to the most of `spans` in flight during each slot.

    Slot k covers [start + k * resolution, start + (k + 1) * resolution); spans still running
    count up to `end`. Every span overlapping the slots from `first_slot` must be given.
    """
    since = start + first_slot * resolution
    # (time, order, delta): at equal times an end goes before a start, as a span's end is not
    # part of it, except the end of an empty span, which goes after its own start.
    events: list[tuple[float, int, int]] = []
    for span in spans:
        span_end = span.end if span.end is not None else end
        if span.start >= end or (span_end <= since and span.start < since):
            continue
        events.append((max(span.start, since), 1, 1))
        events.append((span_end, 0 if span_end > span.start else 2, -1))
    events.sort()
    current = 0
    slot = first_slot
    last_slot = len(peaks) - 1
    for t, _, delta in events:
        here = min(last_slot, max(first_slot, int((t - start) // resolution)))
        while slot < here:
            slot += 1
            # The count held steady up to this event; not if the event is on the slot's left edge,
            # where an end takes its invocation out of the slot before it was ever in it.
            if slot < here or t > start + slot * resolution:
                peaks[slot] = max(peaks[slot], current)
        current += delta
        if current > peaks[slot]:
            peaks[slot] = current
    while slot < last_slot:
        slot += 1
        peaks[slot] = max(peaks[slot], current)
