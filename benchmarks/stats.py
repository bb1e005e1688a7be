"""What every `make bench` section computes the same way (kept apart so the sections can import it
without importing `benchmarks.run`, which imports them)."""

from __future__ import annotations


def percentile(samples: list[float], pct: float) -> float:
    """The `pct` percentile of `samples` (nearest rank)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
