"""The in-memory log ring: bounded by lines and bytes, followers that batch, skip and stop."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.logs.parse import make_line
from lambench.core.logs.ring import LINE_OVERHEAD_BYTES, LogRing
from tests.helpers import wait_for


def line(n: int, *, function: str = "fn", text: str | None = None, level: str | None = None) -> LogLine:
    return LogLine(
        time=1_800_000_000.0 + n,
        function=function,
        stream="2026/11/22/[$LATEST]" + "a" * 32,
        request_id=None,
        level=level,
        text=text if text is not None else f"line {n}",
    )


class Collector:
    """Follows a ring on a thread and keeps every batch, until stopped."""

    def __init__(self, batches: Iterator[LogBatch], stop: threading.Event) -> None:
        self.stop = stop
        self.batches: list[LogBatch] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(batches,))
        self._thread.start()

    def _run(self, batches: Iterator[LogBatch]) -> None:
        for batch in batches:
            with self._lock:
                self.batches.append(batch)

    def texts(self) -> list[str]:
        with self._lock:
            return [line.text for batch in self.batches for line in batch.lines]

    def close(self) -> float:
        """Stop the follower; returns how long its thread took to end."""
        start = time.monotonic()
        self.stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()
        return time.monotonic() - start


def test_ring_keeps_the_newest_lines_up_to_its_line_cap() -> None:
    ring = LogRing(max_lines=100)
    ring.append_many(line(n) for n in range(250))
    kept = ring.snapshot()
    assert len(ring) == len(kept) == 100
    assert [entry.text for entry in kept] == [f"line {n}" for n in range(150, 250)]
    assert ring.appended == 250 and ring.evicted == 150
    ring.append(line(250))
    assert ring.snapshot()[0].text == "line 151" and ring.snapshot()[-1].text == "line 250"


def test_ring_keeps_its_byte_cap_and_always_the_newest_line() -> None:
    cost = LINE_OVERHEAD_BYTES + 1000
    ring = LogRing(max_lines=1000, max_bytes=10 * cost)
    ring.append_many(line(n, text=str(n % 10) * 1000) for n in range(25))
    assert len(ring) == 10 and ring.bytes == 10 * cost
    huge = "x" * (20 * cost)
    ring.append(line(99, text=huge))
    assert [entry.text for entry in ring.snapshot()] == [huge]
    ring.append(line(100))
    assert [entry.text for entry in ring.snapshot()] == ["line 100"]
    assert ring.bytes == LINE_OVERHEAD_BYTES + len("line 100")


def test_the_byte_count_follows_real_memory() -> None:
    stream = "2026/11/22/[$LATEST]" + "c" * 32
    ring = LogRing(max_lines=40_000, max_bytes=1 << 40)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(20_000):
            request = f"8476a536-e9f4-11e8-9739-{n:012d}"
            ring.append(make_line("fn", stream, 1_800_000_000.0 + n, f"print number {n} of a handler"))
            ring.append(
                make_line(
                    "fn", stream, 1_800_000_000.0 + n, f"[INFO]\t2026-01-01T00:00:00.000Z\t{request}\tm{n}"
                )
            )
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.75 < ring.bytes / (used - before) < 1.25


def test_snapshot_filters_and_limits() -> None:
    ring = LogRing()
    ring.append_many(
        [
            line(1, function="a", text="hello", level="INFO"),
            line(2, function="b", text="hello", level="ERROR"),
            line(3, function="a", text="bye", level="ERROR"),
            line(4, function="a", text="hello again"),
        ]
    )
    assert [entry.time for entry in ring.snapshot(LogQuery(function="a"))] == [
        1_800_000_001.0,
        1_800_000_003.0,
        1_800_000_004.0,
    ]
    assert [entry.text for entry in ring.snapshot(LogQuery(text="hello"), limit=2)] == [
        "hello",
        "hello again",
    ]
    assert [entry.function for entry in ring.snapshot(LogQuery(level="WARN"))] == ["b", "a"]
    assert ring.snapshot(LogQuery(since=1_800_000_003.5)) == [line(4, function="a", text="hello again")]
    assert ring.snapshot(limit=0) == []


def test_follow_yields_what_is_kept_then_new_lines_promptly() -> None:
    ring = LogRing()
    ring.append_many(line(n) for n in range(3))
    stop = threading.Event()
    collector = Collector(ring.follow(LogQuery(function="fn"), stop), stop)
    try:
        assert wait_for(lambda: collector.texts() == ["line 0", "line 1", "line 2"], timeout=5)
        ring.append(line(3, function="other"))
        ring.append(line(4))
        assert wait_for(lambda: len(collector.texts()) == 4, timeout=5)
        assert collector.texts()[-1] == "line 4"
        sent = time.monotonic()
        ring.append(line(5))
        assert wait_for(lambda: len(collector.texts()) == 5, timeout=5, interval=0.001)
        assert time.monotonic() - sent < 0.5
    finally:
        assert collector.close() < 0.5


def test_follow_from_since_skips_older_lines() -> None:
    ring = LogRing()
    ring.append_many(line(n) for n in range(5))
    stop = threading.Event()
    collector = Collector(ring.follow(LogQuery(since=1_800_000_003.0), stop), stop)
    try:
        ring.append(line(10))
        assert wait_for(lambda: collector.texts() == ["line 3", "line 4", "line 10"], timeout=5)
    finally:
        collector.close()


def test_a_follower_that_falls_behind_is_told_how_many_lines_it_skipped() -> None:
    ring = LogRing(max_lines=10)
    ring.append_many(line(n) for n in range(5))
    stop = threading.Event()
    batches = ring.follow(LogQuery(), stop)
    first = next(batches)
    assert [entry.text for entry in first.lines] == [f"line {n}" for n in range(5)]
    # The follower is paused inside its generator while the writer goes on: it never waits.
    ring.append_many(line(n) for n in range(5, 105))
    second = next(batches)
    assert second.notice is not None and "skipped 90 lines" in second.notice
    assert [entry.text for entry in second.lines] == [f"line {n}" for n in range(95, 105)]
    stop.set()
    assert list(batches) == []


def test_a_flood_reaches_a_follower_in_few_batches() -> None:
    ring = LogRing(max_lines=1_000_000)
    stop = threading.Event()
    collector = Collector(ring.follow(LogQuery(), stop), stop)
    total = 50_000
    try:
        for n in range(total):
            ring.append(line(n))
        assert wait_for(lambda: len(collector.texts()) == total, timeout=20)
    finally:
        collector.close()
    texts = collector.texts()
    assert texts == [f"line {n}" for n in range(total)]
    assert len(collector.batches) < total / 20


def test_writers_on_many_threads_lose_nothing() -> None:
    ring = LogRing(max_lines=1_000_000)
    per_thread = 5_000

    def write(index: int) -> None:
        for n in range(per_thread):
            ring.append(line(n, function=f"f{index}"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ring) == ring.appended == 4 * per_thread
    for index in range(4):
        texts = [entry.text for entry in ring.snapshot(LogQuery(function=f"f{index}"))]
        assert texts == [f"line {n}" for n in range(per_thread)]


def test_stop_ends_an_idle_follower_promptly() -> None:
    ring = LogRing()
    stop = threading.Event()
    collector = Collector(ring.follow(LogQuery(), stop), stop)
    assert collector.close() < 0.5
    assert collector.batches == []


def test_caps_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LogRing(max_lines=0)
    with pytest.raises(ValueError):
        LogRing(max_bytes=-1)
