"""The on-disk log store: segments per process, rotation, pruning, drops, and followers across processes."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambench.core.logs.local_store import (
    LocalLogStore,
    decode_line,
    dropped_marker,
    encode_line,
    log_dir,
)
from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from tests.helpers import REPO, wait_for

STREAM = "2026/11/22/[$LATEST]" + "b" * 32
REQUEST = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"


def line(
    n: int,
    *,
    function: str = "fn",
    text: str | None = None,
    level: str | None = None,
    request_id: str | None = None,
    t0: float = 1_800_000_000.0,
) -> LogLine:
    return LogLine(
        time=t0 + n / 1000,
        function=function,
        stream=STREAM,
        request_id=request_id,
        level=level,
        text=text if text is not None else f"line {n}",
    )


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl")) if directory.exists() else []


def disk_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in segment_files(directory))


class Follower:
    """Follows a store on a thread and keeps every batch, until stopped."""

    def __init__(self, batches: Iterator[LogBatch], stop: threading.Event) -> None:
        self.stop = stop
        self.batches: list[LogBatch] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(batches,))
        self._thread.start()

    def _run(self, batches: Iterator[LogBatch]) -> None:
        try:
            for batch in batches:
                with self._lock:
                    self.batches.append(batch)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def lines(self) -> list[LogLine]:
        with self._lock:
            return [entry for batch in self.batches for entry in batch.lines]

    def texts(self) -> list[str]:
        return [entry.text for entry in self.lines()]

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()
        assert self.error is None, self.error


def test_encoding_round_trips_and_rejects_junk() -> None:
    original = LogLine(1_800_000_000.123456, "fn", STREAM, REQUEST, "INFO", 'tab\tquote" \u00e9 \U0001f600')
    encoded = encode_line(original)
    assert "\n" not in encoded and encoded.startswith('{"t":1800000000.123456,"f":"fn"')
    assert decode_line(encoded) == original
    bare = line(1)
    assert '"r"' not in encode_line(bare) and '"l"' not in encode_line(bare)
    assert decode_line(encode_line(bare)) == bare
    for junk in (
        "",
        "{",
        "[]",
        '{"t":1}',
        '{"t":"x","f":"a","s":"b","x":"c"}',
        '{"t":1,"f":2,"s":"b","x":"c"}',
    ):
        assert decode_line(junk) is None


def test_lines_round_trip_and_the_directory_appears_on_first_write(tmp_path: Path) -> None:
    directory = log_dir(tmp_path)
    assert directory == tmp_path / ".lambench" / "logs"
    with LocalLogStore.for_project(tmp_path) as store:
        assert store.read() == []
        assert not directory.exists()
        lines = [line(1, request_id=REQUEST, level="ERROR"), line(0), line(2, text="é\ttab")]
        store.append(lines)
        assert store.flush()
        assert directory.is_dir()
        assert store.read() == sorted(lines, key=lambda entry: entry.time)
        [segment] = segment_files(directory)
        start_ms, pid, _ = segment.stem.split("-")
        assert len(start_ms) == 13 and int(pid) == os.getpid()
    assert store.written == 3 and store.dropped == 0


def test_read_filters_and_keeps_the_newest(tmp_path: Path) -> None:
    t0 = time.time() - 60

    def at(
        n: int,
        function: str = "fn",
        text: str | None = None,
        level: str | None = None,
        request_id: str | None = None,
    ) -> LogLine:
        return line(n, function=function, text=text, level=level, request_id=request_id, t0=t0)

    with LocalLogStore(tmp_path / "logs") as store:
        store.append(
            at(n, function="a" if n % 2 else "b", level="ERROR" if n % 3 == 0 else None) for n in range(30)
        )
        store.append([at(100, function="a", request_id=REQUEST, text="needle here")])
        store.flush()
        assert len(store.read(LogQuery(function="a"))) == 16
        assert [entry.time for entry in store.read(LogQuery(function="b"), limit=2)] == [
            at(26).time,
            at(28).time,
        ]
        assert [entry.text for entry in store.read(LogQuery(text="needle"))] == ["needle here"]
        assert [entry.text for entry in store.read(LogQuery(request_id=REQUEST))] == ["needle here"]
        assert len(store.read(LogQuery(level="ERROR"))) == 10
        since = LogQuery(since=at(28).time)
        assert [entry.text for entry in store.read(since)] == ["line 28", "line 29", "needle here"]
        assert store.read(limit=0) == []
        # A segment last written before `since` is not even opened.
        [segment] = segment_files(tmp_path / "logs")
        os.utime(segment, (t0 - 10, t0 - 10))
        assert store.read(since) == []
        assert len(store.read()) == 31


def test_segments_rotate_and_pruning_bounds_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    segment, cap = 20_000, 100_000
    with LocalLogStore(directory, segment_bytes=segment, max_total_bytes=cap) as store:
        for batch in range(40):
            store.append(
                line(batch * 100 + n, text=f"line {batch * 100 + n} " + "x" * 100) for n in range(100)
            )
            store.flush()
            assert disk_bytes(directory) <= cap + segment
        files = segment_files(directory)
        assert len(files) > 3
        assert all(path.stat().st_size <= segment for path in files)
        kept = store.read(limit=None)
        # The newest lines survive, in order, with no gap among them.
        numbers = [int(entry.text.split()[1]) for entry in kept]
        assert numbers == list(range(numbers[0], 4000))
        assert numbers[0] > 0


def test_a_full_queue_drops_lines_and_leaves_a_marker_per_function(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path / "logs", queue_lines=100) as store:
        # One call, so the writer cannot drain the queue half way through.
        store.append(line(n, function="even" if n % 2 == 0 else "odd") for n in range(10_000))
        store.flush()
        assert store.dropped == 9_900
        kept = store.read(limit=None)
    assert len(kept) == 102
    markers = {entry.function: entry for entry in kept if entry.text.startswith("lambench:")}
    assert set(markers) == {"even", "odd"}
    text = "lambench: dropped 4,950 log lines (the log writer fell behind)"
    assert markers["even"].text == markers["odd"].text == dropped_marker(4_950) == text
    assert markers["even"].level == "WARN" and markers["even"].stream == STREAM
    assert markers["even"].time == line(9_998).time and markers["odd"].time == line(9_999).time


def test_close_writes_everything_queued(tmp_path: Path) -> None:
    store = LocalLogStore(tmp_path / "logs")
    store.append(line(n) for n in range(5_000))
    store.close()
    store.close()
    assert len(store.read(limit=None)) == 5_000
    store.append([line(1)])  # after close: ignored
    assert len(store.read(limit=None)) == 5_000


def test_an_absent_directory_reads_as_empty_and_is_followed_once_it_appears(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    reader = LocalLogStore(directory)
    assert reader.read() == []
    stop = threading.Event()
    follower = Follower(reader.follow(LogQuery(), stop), stop)
    try:
        with LocalLogStore(directory) as writer:
            writer.append([line(1)])
            assert wait_for(lambda: follower.texts() == ["line 1"], timeout=5)
    finally:
        follower.close()


def test_partial_and_corrupt_lines_are_not_parsed(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    segment = directory / "0000000000001-1-0.jsonl"
    whole = encode_line(line(1)) + "\n"
    partial = encode_line(line(2))
    segment.write_text(whole + "not json\n" + '{"t": 1}\n' + partial[:20])
    reader = LocalLogStore(directory)
    assert reader.read() == [line(1)]
    stop = threading.Event()
    follower = Follower(reader.follow(LogQuery(), stop), stop)
    try:
        assert wait_for(lambda: follower.texts() == ["line 1"], timeout=5)
        with segment.open("a") as handle:
            handle.write(partial[20:])
            handle.flush()
            # Still no newline: the line is not complete yet.
            assert not wait_for(lambda: len(follower.texts()) > 1, timeout=0.3)
            handle.write("\n")
        assert wait_for(lambda: follower.texts() == ["line 1", "line 2"], timeout=5)
    finally:
        follower.close()


WRITER_SCRIPT = """
import sys, time
from lambench.core.logs.local_store import LocalLogStore
from lambench.core.logs.model import LogLine

directory, count = sys.argv[1], int(sys.argv[2])
with LocalLogStore(directory, segment_bytes=4000, max_total_bytes=1_000_000) as store:
    for n in range(count):
        store.append([LogLine(time.time(), "child", "stream", None, None, f"child {n}")])
        if n % 10 == 0:
            store.flush()
"""


def test_a_follower_sees_another_process_write(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    reader = LocalLogStore(directory)
    stop = threading.Event()
    follower = Follower(reader.follow(LogQuery(function="child"), stop), stop)
    try:
        with LocalLogStore(directory, segment_bytes=4000) as mine:
            mine.append([line(0, text="mine", t0=time.time())])
            result = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(WRITER_SCRIPT), str(directory), "300"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
        assert wait_for(lambda: len(follower.texts()) == 300, timeout=10)
        assert follower.texts() == [f"child {n}" for n in range(300)]
        # Both processes wrote their own segments.
        pids = {path.stem.split("-")[1] for path in segment_files(directory)}
        assert str(os.getpid()) in pids and len(pids) == 2
    finally:
        follower.close()


def caught_up(follower: Follower, count: int) -> bool:
    return len(follower.lines()) >= count


def test_a_follower_survives_pruning_and_keeps_up(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    reader = LocalLogStore(directory)
    stop = threading.Event()
    follower = Follower(reader.follow(LogQuery(), stop), stop)
    total = 1_000
    try:
        # About 34 lines per segment and 4 segments on disk.
        with LocalLogStore(directory, segment_bytes=5_000, max_total_bytes=20_000) as writer:
            for n in range(total):
                writer.append([line(n, text=f"line {n} " + "y" * 40)])
                if n % 50 == 0:
                    # Slow enough that the follower reads each segment before it is pruned.
                    writer.flush()
                    assert wait_for(functools.partial(caught_up, follower, n - 20), timeout=5)
            writer.flush()
        assert wait_for(lambda: len(follower.lines()) == total, timeout=10)
        numbers = [int(text.split()[1]) for text in follower.texts()]
        assert numbers == list(range(total))
        assert len(segment_files(directory)) <= 5
    finally:
        follower.close()


def test_follow_starts_with_the_newest_lines_on_disk(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path / "logs") as store:
        store.append(line(n) for n in range(50))
        store.flush()
        stop = threading.Event()
        follower = Follower(store.follow(LogQuery(), stop, limit=10), stop)
        try:
            assert wait_for(lambda: len(follower.texts()) == 10, timeout=5)
            assert follower.texts() == [f"line {n}" for n in range(40, 50)]
            store.append([line(60)])
            assert wait_for(lambda: follower.texts()[-1:] == ["line 60"], timeout=5)
        finally:
            follower.close()


def test_a_segment_deleted_under_a_writer_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    with LocalLogStore(directory) as store:
        store.append([line(1)])
        store.flush()
        [first] = segment_files(directory)
        first.unlink()  # as another process's pruning would
        store.append([line(2)])
        store.flush()
        assert store.read() == [line(2)]
        assert len(segment_files(directory)) == 1


def test_options_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalLogStore(tmp_path, segment_bytes=0)
    with pytest.raises(ValueError):
        LocalLogStore(tmp_path, queue_lines=0)
