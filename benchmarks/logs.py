"""Speed figures of the local log tail, for `make bench` (`lambench/bench.py` prints them).

- `tail_latency`: from a handler's `print` to the LogLine reaching a follower of the in-memory
  ring and a follower of the on-disk store (polling), both in this process.
- `flood_figures`: lines per second a flooding handler gets through the engine and the
  `EngineLogFeed` into the ring and the store, how many were dropped, and the memory it took,
  beside the same flood with nobody listening.
Goal (from the backends issue): a flood of 50,000 lines per second neither stalls the engine nor
grows memory without bound.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lambench.core.config import FunctionConfig
from lambench.core.logs.engine_feed import EngineLogFeed
from lambench.core.logs.local_store import LocalLogStore
from lambench.core.logs.model import LogBatch, LogQuery
from lambench.core.logs.ring import LogRing
from lambench.core.runtime.service import LocalLambda
from lambench.core.timeline.histogram import nearest_rank

#: Prints `lines` lines `gap` seconds apart, each stamped with the time it was printed.
STAMP_HANDLER = """
import time

def handler(event, context):
    for n in range(event["lines"]):
        print(f"stamp {n} {time.time():.6f}", flush=True)
        time.sleep(event["gap"])
    return event["lines"]
"""

#: Writes `lines` lines as fast as it can, a thousand per write.
FLOOD_HANDLER = """
import sys

def handler(event, context):
    write = sys.stdout.write
    total = event["lines"]
    for start in range(0, total, 1000):
        end = min(total, start + 1000)
        write("".join(f"flood line {i} padded to look like a log message\\n" for i in range(start, end)))
    return total
"""


def _function(root: Path, name: str, code: str, timeout_s: int = 60) -> FunctionConfig:
    code_dir = root / name
    code_dir.mkdir()
    (code_dir / "app.py").write_text(code)
    return FunctionConfig.create(name=name, handler="app.handler", code_dir=code_dir, timeout_s=timeout_s)


def _collect_latency(batches: Iterator[LogBatch], samples: list[float]) -> None:
    """Milliseconds from each stamp's print to its arrival here."""
    for batch in batches:
        now = time.time()
        for line in batch.lines:
            if line.text.startswith("stamp "):
                samples.append((now - float(line.text.split()[2])) * 1000)


def tail_latency(lines: int = 200, gap_s: float = 0.005) -> dict[str, float]:
    """p50/p95 ms from a handler's print to a follower of the ring and of the store."""
    with tempfile.TemporaryDirectory(prefix="lambench-bench-logs-") as tmp:
        root = Path(tmp)
        config = _function(root, "stamp", STAMP_HANDLER)
        ring = LogRing()
        writer = LocalLogStore(root / "logs")
        reader = LocalLogStore(root / "logs")
        stop = threading.Event()
        ring_ms: list[float] = []
        store_ms: list[float] = []
        with LocalLambda([config]) as service:
            service.invoke("stamp", json.dumps({"lines": 1, "gap": 0}).encode())
            feed = EngineLogFeed(service, ring=ring, store=writer)
            query = LogQuery(function="stamp", text="stamp ", since=time.time())
            followers = [
                threading.Thread(target=_collect_latency, args=(ring.follow(query, stop), ring_ms)),
                threading.Thread(target=_collect_latency, args=(reader.follow(query, stop), store_ms)),
            ]
            for follower in followers:
                follower.start()
            try:
                service.invoke("stamp", json.dumps({"lines": lines, "gap": gap_s}).encode())
                deadline = time.monotonic() + 10
                while (len(ring_ms) < lines or len(store_ms) < lines) and time.monotonic() < deadline:
                    time.sleep(0.01)
            finally:
                stop.set()
                for follower in followers:
                    follower.join()
                feed.close()
                writer.close()
    ring_p50, ring_p95 = nearest_rank(sorted(ring_ms), (50, 95))
    store_p50, store_p95 = nearest_rank(sorted(store_ms), (50, 95))
    return {
        "lines": float(lines),
        "ring_received": float(len(ring_ms)),
        "ring_p50_ms": ring_p50 or 0.0,
        "ring_p95_ms": ring_p95 or 0.0,
        "store_received": float(len(store_ms)),
        "store_p50_ms": store_p50 or 0.0,
        "store_p95_ms": store_p95 or 0.0,
    }


def _rss_mb() -> float:
    """The process's resident memory now (Linux), or its peak so far elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _PeakRss:
    """Samples the resident memory every 20 ms on a thread, keeping the highest."""

    def __init__(self) -> None:
        self.before = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def growth_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss_mb()) - self.before


def flood_figures(lines: int = 500_000) -> dict[str, float]:
    """A handler writes `lines` lines flat out: lines per second without and with the log tail."""
    with tempfile.TemporaryDirectory(prefix="lambench-bench-logs-") as tmp:
        root = Path(tmp)
        config = _function(root, "flood", FLOOD_HANDLER, timeout_s=300)
        payload = json.dumps({"lines": lines}).encode()
        with LocalLambda([config]) as service:
            service.invoke("flood", json.dumps({"lines": 1}).encode())
            start = time.perf_counter()
            service.invoke("flood", payload)
            alone_s = time.perf_counter() - start

            ring = LogRing()
            store = LocalLogStore(root / "logs")
            memory = _PeakRss()
            feed = EngineLogFeed(service, ring=ring, store=store)
            try:
                start = time.perf_counter()
                result = service.invoke("flood", payload)
                tailed_s = time.perf_counter() - start
                assert result.function_error is None, result.payload
            finally:
                feed.close()
                store.close()
            drained_s = time.perf_counter() - start
            rss_growth = memory.growth_mb()
            disk = sum(path.stat().st_size for path in (root / "logs").glob("*.jsonl"))
            return {
                "lines": float(lines),
                "alone_lines_per_s": lines / alone_s,
                "tailed_lines_per_s": lines / tailed_s,
                "drained_s": drained_s,
                "feed_dropped": float(feed.dropped),
                "store_dropped": float(store.dropped),
                "ring_lines": float(len(ring)),
                "ring_mb": ring.bytes / 2**20,
                "store_written": float(store.written),
                "disk_mb": disk / 2**20,
                "rss_growth_mb": rss_growth,
            }


def log_figures(quick: bool) -> None:
    """Print the log tail's figures in `make bench`'s style."""
    latency = tail_latency(lines=100 if quick else 200)
    print(f"\nLog tail latency ({latency['lines']:.0f} lines printed 5 ms apart, print to follower)")
    for label, key in (("in-memory ring          ", "ring"), ("on-disk store (polling) ", "store")):
        p50, p95, received = latency[f"{key}_p50_ms"], latency[f"{key}_p95_ms"], latency[f"{key}_received"]
        print(f"  {label} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({received:.0f} received)")
    flood = flood_figures(lines=100_000 if quick else 500_000)
    print(f"\nLog flood ({flood['lines']:,.0f} lines written flat out by one handler)")
    print(f"  engine, nobody listening {flood['alone_lines_per_s']:9.0f} lines/s")
    print(
        f"  engine -> ring + store   {flood['tailed_lines_per_s']:9.0f} lines/s   (goal: >= 50,000); "
        f"all on disk after {flood['drained_s']:.2f} s"
    )
    print(
        f"  dropped: feed {flood['feed_dropped']:,.0f}, store {flood['store_dropped']:,.0f}; "
        f"ring {flood['ring_lines']:,.0f} lines / {flood['ring_mb']:.1f} MB, "
        f"disk {flood['disk_mb']:.1f} MB, peak RSS growth {flood['rss_growth_mb']:.1f} MB"
    )


if __name__ == "__main__":
    log_figures(quick=False)
