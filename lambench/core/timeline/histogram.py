"""Percentiles: nearest-rank on exact values, and a sparse log-spaced histogram that estimates them.

The histogram keeps one count per bin, bins growing geometrically, so any value's bin
estimate is within `RELATIVE_ERROR` of it whatever its magnitude; a bucket that holds a million
durations between 1 ms and 15 minutes needs about 700 bins at most, and usually a few dozen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

#: Every estimate is within this fraction of the value it stands for.
RELATIVE_ERROR = 0.01
# A hair under the promise, so float rounding at a bin's edges cannot push an estimate past it.
_ALPHA = RELATIVE_ERROR * 0.99
_GAMMA = (1 + _ALPHA) / (1 - _ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
#: Durations at or below this many milliseconds share one bin, estimated as 0.
FLOOR_MS = 1e-3
_FLOOR_BIN = -(2**31)

Histogram = dict[int, int]


def bin_of(value: float) -> int:
    """The bin holding `value`: bin i covers (gamma**(i-1), gamma**i]."""
    if value <= FLOOR_MS:
        return _FLOOR_BIN
    return math.ceil(math.log(value) / _LOG_GAMMA)


def estimate(index: int) -> float:
    """The value bin `index` stands for, within RELATIVE_ERROR of anything in it."""
    if index == _FLOOR_BIN:
        return 0.0
    return 2 * _GAMMA**index / (_GAMMA + 1)


def add(histogram: Histogram, value: float) -> None:
    """Count `value` in `histogram`."""
    index = bin_of(value)
    histogram[index] = histogram.get(index, 0) + 1


def merge(into: Histogram, other: Mapping[int, int]) -> None:
    """Add every count of `other` to `into`."""
    for index, count in other.items():
        into[index] = into.get(index, 0) + count


def _rank(p: float, n: int) -> int:
    """The 1-based nearest rank of percentile `p` among `n` values."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    return max(1, math.ceil(p / 100 * n))


def nearest_rank(ordered: Sequence[float], ps: Iterable[float]) -> list[float | None]:
    """The nearest-rank percentiles `ps` of `ordered` (sorted ascending); None each when empty."""
    n = len(ordered)
    return [ordered[_rank(p, n) - 1] if n else None for p in ps]


def histogram_percentiles(histogram: Mapping[int, int], ps: Iterable[float]) -> list[float | None]:
    """Estimate the nearest-rank percentiles `ps` of the values counted in `histogram`.

    The value of rank k lies in the bin where the running count reaches k, so each answer is
    within RELATIVE_ERROR of the exact nearest-rank percentile.
    """
    wanted = list(ps)
    total = sum(histogram.values())
    if total == 0:
        return [None for _ in wanted]
    ranks = [_rank(p, total) for p in wanted]
    answers: list[float | None] = [None] * len(wanted)
    # Answer the ranks in increasing order during one walk over the bins.
    order = sorted(range(len(wanted)), key=ranks.__getitem__)
    position = 0
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        while position < len(order) and ranks[order[position]] <= seen:
            answers[order[position]] = estimate(index)
            position += 1
        if position == len(order):
            break
    return answers
