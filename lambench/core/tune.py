"""Power tuning: run a function at several memory sizes and find the cheapest and the fastest.

With CPU scaled to memory (`runtime/cpu_limit.py`), a CPU-bound handler is slower at 128 MB than
at 1,024 MB, as on AWS; the cost per invocation is the request price plus memory x billed
duration at the first tier's price per GB-second (lambda-facts §6), for x86_64 and arm64.

Strategies (after AWS Lambda Power Tuning's): `cost` takes the cheapest x86_64 invocation,
`speed` the lowest warm p50, and `balanced` the lowest sum of both, each divided by its best.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambench.core.config import FunctionConfig
from lambench.core.limits import MEMORY_MAX_MB, MEMORY_MIN_MB
from lambench.core.record import record, replace
from lambench.core.timeline.cost import ARM64, DURATION_TIERS, REQUEST_USD_PER_MILLION, X86_64, gb_seconds
from lambench.core.timeline.histogram import nearest_rank

if TYPE_CHECKING:
    from lambench.core.runtime.service import LocalLambda

DEFAULT_SIZES = (128, 256, 512, 1024, 1769, 3008)
#: Columns of each bar in the terminal chart.
_CHART_WIDTH = 36
STRATEGIES = ("cost", "speed", "balanced")


class TuneError(ValueError):
    """A bad tuning request (memory sizes, counts, strategy); the message is one line."""


def parse_sizes(text: str) -> tuple[int, ...]:
    """`128,256,1024` -> (128, 256, 1024); TuneError for anything Lambda would refuse."""
    sizes: list[int] = []
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        try:
            size = int(item)
        except ValueError:
            raise TuneError(f"--memory: {item!r} is not a number of MB") from None
        if not MEMORY_MIN_MB <= size <= MEMORY_MAX_MB:
            raise TuneError(f"--memory: {size} MB is out of range; use {MEMORY_MIN_MB}-{MEMORY_MAX_MB} MB")
        if size not in sizes:
            sizes.append(size)
    if not sizes:
        raise TuneError("--memory: give at least one size, such as 128,512,1024")
    return tuple(sorted(sizes))


def first_tier_price(architecture: str) -> float:
    """Dollars per GB-second in the first monthly tier."""
    return DURATION_TIERS[architecture][0][1]


def invocation_cost(memory_mb: int, billed_ms: float, architecture: str) -> float:
    """One invocation's list price: the request plus its GB-seconds at the first tier."""
    return REQUEST_USD_PER_MILLION / 1_000_000 + gb_seconds(memory_mb, billed_ms) * first_tier_price(
        architecture
    )


@record(frozen=True)
class SizeResult:
    """What one memory size did: the cold invocation apart, the warm ones summarised."""

    memory_mb: int
    cpu_vcpus: float
    cold_ms: float | None
    cold_init_ms: float | None
    warm: int
    errors: int
    p50_ms: float
    p95_ms: float
    billed_ms: float
    cost_x86: float
    cost_arm: float

    @property
    def cost_x86_per_million(self) -> float:
        """The x86_64 cost of a million invocations like these."""
        return self.cost_x86 * 1_000_000

    @property
    def cost_arm_per_million(self) -> float:
        """The arm64 cost of a million invocations like these."""
        return self.cost_arm * 1_000_000


@record(frozen=True)
class TuneReport:
    """Every size's result, the strategy and the size it recommends."""

    function: str
    strategy: str
    cpu_mechanism: str
    results: tuple[SizeResult, ...]
    recommended_mb: int | None


def recommend(results: tuple[SizeResult, ...], strategy: str) -> int | None:
    """The size the strategy picks among those whose invocations all succeeded."""
    usable = [r for r in results if r.errors == 0 and r.warm > 0]
    if not usable:
        return None
    if strategy == "cost":
        return min(usable, key=lambda r: (r.cost_x86, r.p50_ms)).memory_mb
    if strategy == "speed":
        return min(usable, key=lambda r: (r.p50_ms, r.cost_x86)).memory_mb
    if strategy == "balanced":
        cheapest = min(r.cost_x86 for r in usable) or 1e-18
        fastest = min(r.p50_ms for r in usable) or 1e-9
        return min(usable, key=lambda r: (r.cost_x86 / cheapest + r.p50_ms / fastest, r.memory_mb)).memory_mb
    raise TuneError(f"--strategy: {strategy!r}; use cost, speed or balanced")


def summarise(
    memory_mb: int,
    cpu: float,
    cold: tuple[float, float | None] | None,
    warm: list[tuple[float, float]],
    errors: int,
) -> SizeResult:
    """One size's result from (duration, billed) of its warm invocations and its cold one."""
    durations = sorted(d for d, _ in warm) or [0.0]
    p50, p95 = nearest_rank(durations, (50, 95))
    billed = statistics.fmean(b for _, b in warm) if warm else 0.0
    return SizeResult(
        memory_mb=memory_mb,
        cpu_vcpus=cpu,
        cold_ms=cold[0] if cold else None,
        cold_init_ms=cold[1] if cold else None,
        warm=len(warm),
        errors=errors,
        p50_ms=p50 or 0.0,
        p95_ms=p95 or 0.0,
        billed_ms=billed,
        cost_x86=invocation_cost(memory_mb, billed, X86_64),
        cost_arm=invocation_cost(memory_mb, billed, ARM64),
    )


class Tuner:
    """Runs the tuning on a local engine: `service` is a `LocalLambda` (with CPU scaling on)."""

    def __init__(
        self, service: LocalLambda, function: str, payload: bytes, *, requests: int, concurrency: int
    ) -> None:
        if requests < 2:
            raise TuneError("--requests: give at least 2 (one cold invocation, then warm ones)")
        if not 1 <= concurrency <= requests:
            raise TuneError(f"--concurrency: give 1-{requests}")
        self.service = service
        self.function = function
        self.payload = payload
        self.requests = requests
        self.concurrency = concurrency

    def run(
        self, sizes: tuple[int, ...], strategy: str, progress: Callable[[int, int, int], None] | None = None
    ) -> TuneReport:
        """Every size in turn; `progress(size, done, total)` after each invocation."""
        from lambench.core.runtime.cpu_limit import cpu_share

        service = self.service
        original: FunctionConfig = service.get_function(self.function)
        results = []
        try:
            for size in sizes:
                service.add_function(replace(original, memory_mb=size))
                results.append(self._one_size(size, cpu_share(size), progress))
        finally:
            service.add_function(original)
        recommended = recommend(tuple(results), strategy)
        mechanism = service.cpu.name
        return TuneReport(self.function, strategy, mechanism, tuple(results), recommended)

    def _one_size(
        self, size: int, cpu: float, progress: Callable[[int, int, int], None] | None
    ) -> SizeResult:
        service = self.service
        done = 0
        lock = threading.Lock()
        warm: list[tuple[float, float]] = []
        errors = 0
        first = service.invoke(self.function, self.payload)
        cold = (
            (first.figures.duration_ms, first.figures.init_duration_ms)
            if first.function_error is None
            else None
        )
        if first.function_error is not None:
            errors += 1
        done += 1
        if progress:
            progress(size, done, self.requests)
        left = [self.requests - 1]

        def worker() -> None:
            nonlocal done, errors
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                result = service.invoke(self.function, self.payload)
                with lock:
                    done += 1
                    if result.function_error is not None:
                        errors += 1
                    elif not result.figures.cold:
                        warm.append(
                            (result.figures.duration_ms, float(result.figures.billed_duration_ms or 0))
                        )
                    if progress:
                        progress(size, done, self.requests)

        threads = [threading.Thread(target=worker) for _ in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return summarise(size, cpu, cold, warm, errors)


def report_lines(report: TuneReport) -> list[str]:
    """The table, a chart of duration and cost against memory, and the recommendation, as text lines."""
    out: list[str] = []
    rows = [
        ("memory", "vCPU", "cold", "p50", "p95", "billed", "$/1M x86", "$/1M arm", "errors"),
        *(
            (
                f"{r.memory_mb} MB",
                f"{r.cpu_vcpus:.2f}",
                f"{r.cold_ms:.1f} ms" if r.cold_ms is not None else "-",
                f"{r.p50_ms:.1f} ms",
                f"{r.p95_ms:.1f} ms",
                f"{r.billed_ms:.0f} ms",
                f"{r.cost_x86_per_million:.4f}",
                f"{r.cost_arm_per_million:.4f}",
                str(r.errors),
            )
            for r in report.results
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.append(
            "  ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )
    slowest = max((r.p50_ms for r in report.results), default=0.0) or 1.0
    costs = [r.cost_x86 for r in report.results]
    cheapest, dearest = min(costs, default=0.0), max(costs, default=0.0)
    heading = "cost per invocation (x86_64, cheapest to dearest)"
    out.append(f"\n  {'duration (p50, from 0)':<{_CHART_WIDTH + 9}}  {heading}")
    for r in report.results:
        duration = "█" * max(1, round(r.p50_ms / slowest * _CHART_WIDTH))
        # Costs of nearby sizes differ by a few percent: drawn across their range, not from zero.
        spread = (r.cost_x86 - cheapest) / (dearest - cheapest) if dearest > cheapest else 0.0
        cost = "▒" * (1 + round(spread * (_CHART_WIDTH - 1)))
        out.append(
            f"  {r.memory_mb:>5} MB {duration:<{_CHART_WIDTH}}  {cost} ${r.cost_x86_per_million:.4f}/1M"
        )
    if report.recommended_mb is None:
        out.append("\nno recommendation: every size had failed invocations")
    else:
        out.append(f"\nrecommended for {report.strategy}: {report.recommended_mb} MB")
    return out
