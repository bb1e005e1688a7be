"""The engine's log lines into the ring and the on-disk store, and a flood that must not hurt."""

from __future__ import annotations

import json
import resource
import threading
import time
from pathlib import Path

from lambench.core.logs.engine_feed import EngineLogFeed, feed_dropped_marker
from lambench.core.logs.local_store import LocalLogStore
from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.logs.ring import LogRing
from lambench.core.runtime.service import LocalLambda
from tests.helpers import python_function, wait_for

CHATTY = """
    import logging

    logger = logging.getLogger()
    logger.setLevel(logging.INFO)
    print("init line")

    def handler(event, context):
        print("plain", event["n"])
        logger.warning("careful %s", event["n"])
        return event["n"]
"""

FLOOD = """
    import sys

    def handler(event, context):
        write = sys.stdout.write
        total, chunk = event["lines"], 1000
        for start in range(0, total, chunk):
            end = min(total, start + chunk)
            write("".join(f"flood line {i} padded like a real log message\\n" for i in range(start, end)))
        return total
"""

QUICK = """
    def handler(event, context):
        return "quick"
"""


def test_the_engines_lines_reach_the_ring_and_the_store(tmp_path: Path) -> None:
    config = python_function(tmp_path, CHATTY)
    ring = LogRing()
    store = LocalLogStore(tmp_path / "logs")
    with LocalLambda([config]) as service:
        feed = EngineLogFeed(service, ring=ring, store=store)
        try:
            result = service.invoke("fn", b'{"n": 7}')
            assert wait_for(
                lambda: any(line.text.startswith("REPORT") for line in ring.snapshot()), timeout=10
            )
        finally:
            feed.close()
            store.close()
    lines = ring.snapshot(LogQuery(function="fn"))
    texts = [line.text for line in lines]
    assert texts[0].startswith("INIT_START Runtime Version:")
    assert "init line" in texts and "plain 7" in texts
    start = next(line for line in lines if line.text.startswith("START RequestId:"))
    assert start.request_id == result.request_id
    warning = next(line for line in lines if "careful 7" in line.text)
    assert warning.level == "WARN" and warning.request_id == result.request_id
    assert all(line.stream.endswith(lines[0].stream[-32:]) and "[$LATEST]" in line.stream for line in lines)
    assert store.read(LogQuery(function="fn")) == sorted(lines, key=lambda line: line.time)
    assert feed.received == feed.delivered == len(lines) and feed.dropped == 0


def test_tail_follows_new_lines_and_close_unsubscribes(tmp_path: Path) -> None:
    config = python_function(tmp_path, CHATTY)
    ring = LogRing()
    with LocalLambda([config]) as service:
        feed = EngineLogFeed(service, ring=ring, store=None)
        stop = threading.Event()
        received: list[LogLine] = []

        def follow() -> None:
            for batch in feed.tail(LogQuery(text="plain"), stop):
                received.extend(batch.lines)

        follower = threading.Thread(target=follow)
        follower.start()
        try:
            for n in range(3):
                service.invoke("fn", json.dumps({"n": n}).encode())
            assert wait_for(lambda: [line.text for line in received] == ["plain 0", "plain 1", "plain 2"])
        finally:
            stop.set()
            follower.join(5)
            feed.close()
        seen = feed.received
        service.invoke("fn", b'{"n": 9}')
        assert feed.received == seen
        assert not any(line.text == "plain 9" for line in ring.snapshot())


def test_a_feed_with_only_a_store_tails_the_store(tmp_path: Path) -> None:
    config = python_function(tmp_path, CHATTY)
    with LocalLogStore(tmp_path / "logs") as store, LocalLambda([config]) as service:
        feed = EngineLogFeed(service, ring=None, store=store)
        stop = threading.Event()
        batches: list[LogBatch] = []

        def follow() -> None:
            batches.extend(feed.tail(LogQuery(text="plain"), stop))

        follower = threading.Thread(target=follow)
        follower.start()
        try:
            service.invoke("fn", b'{"n": 1}')
            assert wait_for(lambda: any(line.text == "plain 1" for batch in batches for line in batch.lines))
        finally:
            stop.set()
            follower.join(5)
            feed.close()


def test_a_flood_neither_stalls_the_engine_nor_grows_memory(tmp_path: Path) -> None:
    flood = python_function(tmp_path, FLOOD, name="flood", timeout_s=60, memory_mb=512)
    quick = python_function(tmp_path, QUICK, name="quick")
    ring = LogRing(max_lines=20_000, max_bytes=4 * 1024 * 1024)
    directory = tmp_path / "logs"
    segment, cap = 1024 * 1024, 8 * 1024 * 1024
    store = LocalLogStore(directory, segment_bytes=segment, max_total_bytes=cap, queue_lines=20_000)
    total = 200_000
    with LocalLambda([flood, quick]) as service:
        service.invoke("flood", b'{"lines": 1}')
        service.invoke("quick", b"{}")
        feed = EngineLogFeed(service, ring=ring, store=store, queue_records=10_000)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        quick_ms: list[float] = []
        flooding = threading.Event()

        def call_quick() -> None:
            # Another function keeps answering while the flood runs.
            flooding.wait(10)
            for _ in range(5):
                start = time.perf_counter()
                assert service.invoke("quick", b"{}").payload == b'"quick"'
                quick_ms.append((time.perf_counter() - start) * 1000)

        other = threading.Thread(target=call_quick)
        other.start()
        try:
            start = time.perf_counter()
            flooding.set()
            result = service.invoke("flood", json.dumps({"lines": total}).encode())
            elapsed = time.perf_counter() - start
            other.join(30)
            assert result.function_error is None and result.payload == str(total).encode()
        finally:
            feed.close()
            store.close()
        rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    produced = total + 3 + 5 * 3  # the flood's lines, its START/END/REPORT, the quick calls' lines
    assert feed.received == produced
    assert feed.delivered + feed.dropped == produced
    # The figure: at least 50,000 lines a second through the engine into ring and store.
    assert total / elapsed >= 50_000, f"{total / elapsed:.0f} lines/s"
    assert len(quick_ms) == 5 and max(quick_ms) < 2_000
    assert len(ring) <= 20_000 and ring.bytes <= 4 * 1024 * 1024
    assert ring.appended >= feed.delivered
    on_disk = sum(path.stat().st_size for path in directory.glob("*.jsonl"))
    assert on_disk <= cap + segment
    assert rss_growth_mb < 100
    newest = store.read(LogQuery(function="flood", text="flood line"), limit=1)
    assert newest and newest[0].text.startswith("flood line")


def test_a_full_feed_queue_drops_and_says_so(tmp_path: Path) -> None:
    config = python_function(tmp_path, FLOOD, timeout_s=30)
    ring = LogRing()
    with LocalLambda([config]) as service:
        service.invoke("fn", b'{"lines": 1}')
        # A queue of one record, so that a flood overflows it whatever the machine's speed.
        feed = EngineLogFeed(service, ring=ring, store=None, queue_records=1)
        try:
            service.invoke("fn", b'{"lines": 20000}')
        finally:
            feed.close()
    assert feed.dropped > 0 and feed.delivered + feed.dropped == feed.received == 20_003
    markers = [line for line in ring.snapshot() if line.text.startswith("lambench: dropped")]
    assert sum(int(line.text.split()[2].replace(",", "")) for line in markers) == feed.dropped
    assert all(line.level == "WARN" and line.function == "fn" for line in markers)
    assert markers[0].text == feed_dropped_marker(int(markers[0].text.split()[2].replace(",", "")))


def test_asynchronous_steps_are_lines_of_the_functions_log(tmp_path: Path) -> None:
    from lambench.core.logs.engine_feed import ASYNC_STREAM
    from lambench.core.runtime.async_config import AsyncConfig

    config = python_function(tmp_path, "def handler(event, context):\n    raise ValueError('no')\n")
    ring = LogRing()
    store = LocalLogStore(tmp_path / "logs")
    with LocalLambda([config], time_scale=0.01) as service:
        service.put_event_invoke_config("fn", AsyncConfig(maximum_retry_attempts=1))
        feed = EngineLogFeed(service, ring=ring, store=store)
        try:
            result = service.invoke("fn", b"{}", invocation_type="Event")
            assert wait_for(lambda: service.pending_events() == 0, timeout=15)
            assert wait_for(lambda: len([x for x in ring.snapshot() if x.stream == ASYNC_STREAM]) == 2)
        finally:
            feed.close()
            store.close()
    steps = [line for line in ring.snapshot(LogQuery(function="fn")) if line.stream == ASYNC_STREAM]
    short = result.request_id[:8]
    assert [(line.level, line.request_id, line.text) for line in steps] == [
        (
            "WARN",
            result.request_id,
            f"lambench: async {short} fn: attempt 1 failed; retry in 60 s (ValueError)",
        ),
        (
            "ERROR",
            result.request_id,
            f"lambench: async {short} fn: failed after 2 attempt(s): RetriesExhausted (ValueError)",
        ),
    ]
    assert [
        line.text
        for line in store.read(LogQuery(function="fn", request_id=result.request_id))
        if line.stream == ASYNC_STREAM
    ] == [line.text for line in steps]
