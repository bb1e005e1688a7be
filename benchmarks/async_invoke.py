"""Asynchronous invocation figures: how fast `Event` invokes are accepted, and how soon they run.

- accept rate: `Event` invokes answered 202 per second by one caller, with the durable journal
  (`.lambench/async`) and without it, beside the same handler invoked synchronously in the same
  run (each accepted event also runs, on the same two cores, while the caller keeps accepting);
- accept to handler start: from the 202 to the handler's first line, p50 / p95, beside a warm
  synchronous invoke's whole round trip.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks.stats import percentile
from lambench.core.config import FunctionConfig
from lambench.core.runtime.service import LocalLambda

_HANDLER = """
import time

def handler(event, context):
    return {"started": time.time()}
"""


def _accept_rate(config: FunctionConfig, count: int, journal: Path | None) -> tuple[float, int]:
    """Accepts per second for `count` Event invokes, and how many ran once all had finished."""
    with LocalLambda([config], async_dir=journal) as service:
        service.invoke("fn", b"{}")  # a warm environment, as a running project has
        start = time.perf_counter()
        for n in range(count):
            service.invoke("fn", json.dumps({"n": n}), invocation_type="Event")
        elapsed = time.perf_counter() - start
        deadline = time.monotonic() + 120
        while service.pending_events() and time.monotonic() < deadline:
            time.sleep(0.01)
        ran = service.stats("fn").invocations - 1
    return count / elapsed, ran


def _sync_rate(config: FunctionConfig, count: int) -> float:
    with LocalLambda([config]) as service:
        service.invoke("fn", b"{}")
        start = time.perf_counter()
        for n in range(count):
            service.invoke("fn", json.dumps({"n": n}))
        return count / (time.perf_counter() - start)


def _start_latency_ms(config: FunctionConfig, journal: Path, count: int) -> tuple[list[float], list[float]]:
    """Accept-to-handler-start for one event at a time, and warm synchronous round trips."""
    from lambench.core.runtime.records import AsyncRecord, AsyncStep

    latencies: list[float] = []
    sync: list[float] = []
    with LocalLambda([config], async_dir=journal) as service:
        service.invoke("fn", b"{}")
        finished: dict[str, float] = {}

        def ended(record: object) -> None:
            if isinstance(record, AsyncRecord) and record.kind is AsyncStep.SUCCEEDED:
                finished.setdefault(record.request_id, time.time())

        service.subscribe(ended)
        for _ in range(count):
            accepted = time.time()
            result = service.invoke("fn", b"{}", invocation_type="Event")
            while result.request_id not in finished:
                time.sleep(0.0002)
            started = finished[result.request_id]
            latencies.append((started - accepted) * 1000)
            begin = time.perf_counter()
            service.invoke("fn", b"{}")
            sync.append((time.perf_counter() - begin) * 1000)
    return latencies, sync


def async_figures(quick: bool) -> None:
    """Print the accept rates and the accept-to-run latency."""
    count = 500 if quick else 3000
    with tempfile.TemporaryDirectory(prefix="lambench-bench-async-") as tmp:
        code = Path(tmp) / "fn"
        code.mkdir()
        (code / "app.py").write_text(_HANDLER)
        config = FunctionConfig.create(name="fn", handler="app.handler", code_dir=code)
        durable, durable_ran = _accept_rate(config, count, Path(tmp) / "async")
        memory, memory_ran = _accept_rate(config, count, None)
        sync = _sync_rate(config, count)
        latency, round_trip = _start_latency_ms(config, Path(tmp) / "async-latency", 50 if quick else 300)
    print(f"\nAsynchronous invokes ({count:,} Event invokes from one caller, trivial handler)")
    print(f"  accepted (202) with the durable journal   {durable:9.0f} /s   ran {durable_ran:,}")
    print(f"  accepted (202) without a journal          {memory:9.0f} /s   ran {memory_ran:,}")
    print(f"  the same invokes synchronously            {sync:9.0f} /s")
    print(
        f"  ratio durable accepts / synchronous: {durable / sync:.2f}x; journal cost: {memory / durable:.2f}x"
    )
    l50, l95 = percentile(latency, 50), percentile(latency, 95)
    s50 = percentile(round_trip, 50)
    print(
        f"  202 to the attempt's end   p50 {l50:6.2f} ms   p95 {l95:6.2f} ms"
        f"   (a warm sync invoke: {s50:.2f} ms)"
    )
