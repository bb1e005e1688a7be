"""CloudWatchTail against a real moto server: history, follow by polling, live-tail fallback, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambench.core.aws_errors import BackendError
from lambench.core.logs.cloudwatch import CloudWatchTail, filter_pattern
from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from tests.helpers import wait_for
from tests.moto_fixtures import REGION, MotoServer, user_keys

GROUP = "/aws/lambda/orders"
STREAM_A = "2026/11/22/[$LATEST]aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
STREAM_B = "2026/11/22/[$LATEST]bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
RID_1 = "11111111-1111-4111-8111-111111111111"
RID_2 = "22222222-2222-4222-8222-222222222222"


def _factory(moto: MotoServer, **session: Any) -> Callable[[], Any]:
    # As AwsBackend builds it for an endpoint: no `stream-` host prefix, one attempt.
    config = Config(inject_host_prefix=False, retries={"mode": "standard", "max_attempts": 1})

    def make() -> Any:
        return boto3.Session(region_name=REGION, **session).client(
            "logs", endpoint_url=moto.url, config=config
        )

    return make


def _tail(moto: MotoServer, query: LogQuery, **options: Any) -> CloudWatchTail:
    options.setdefault("poll_interval_s", 0.05)
    return CloudWatchTail(_factory(moto), "orders", GROUP, query, **options)


def _put(logs: Any, stream: str, *events: tuple[int, str]) -> None:
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": stamp, "message": message} for stamp, message in events],
    )


def _group(logs: Any, *streams: str) -> None:
    logs.create_log_group(logGroupName=GROUP)
    for stream in streams:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Follower:
    """Consumes a following tail on its own thread, as the CLI or the TUI would."""

    def __init__(self, tail: CloudWatchTail, stop: threading.Event | None = None) -> None:
        self.stop_event = stop or threading.Event()
        self._batches = tail.batches(self.stop_event)
        self._lock = threading.Lock()
        self._lines: list[LogLine] = []
        self._notices: list[str] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for batch in self._batches:
                with self._lock:
                    self._lines.extend(batch.lines)
                    if batch.notice:
                        self._notices.append(batch.notice)
        except BaseException as exc:
            self.error = exc

    def texts(self) -> list[str]:
        with self._lock:
            return [line.text for line in self._lines]

    def notices(self) -> list[str]:
        with self._lock:
            return list(self._notices)

    def stop(self, within: float = 2.0) -> float:
        """Set stop; how long the iterator took to end (fails if it did not end within `within`)."""
        started = time.monotonic()
        self.stop_event.set()
        self._thread.join(within)
        assert not self._thread.is_alive(), "the tail did not end after stop was set"
        return time.monotonic() - started

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


def _lines(batches: Iterator[LogBatch]) -> list[LogLine]:
    return [line for batch in batches for line in batch.lines]


# -- history -----------------------------------------------------------------------------------


@pytest.fixture
def history(moto: MotoServer) -> int:
    """A group with two streams: platform lines, Python records, a print, one old event."""
    logs = moto.client("logs")
    _group(logs, STREAM_A, STREAM_B)
    now = _now_ms()
    _put(logs, STREAM_A, (now - 3 * 3600 * 1000, "ancient history\n"))
    _put(
        logs,
        STREAM_A,
        (now - 5000, f"START RequestId: {RID_1} Version: $LATEST\n"),
        (now - 4990, f"[INFO]\t2026-11-22T10:00:00.000Z\t{RID_1}\tcharging card 42\n"),
        (now - 4980, f"[ERROR]\t2026-11-22T10:00:00.010Z\t{RID_1}\tcard 42 declined\n"),
        (now - 4970, f"END RequestId: {RID_1}\n"),
    )
    _put(
        logs,
        STREAM_B,
        (now - 4000, f"START RequestId: {RID_2} Version: $LATEST\n"),
        (now - 3995, 'a bare print with "quotes"\n'),
        (now - 3990, f"[WARNING]\t2026-11-22T10:00:01.000Z\t{RID_2}\tslow card 7\n"),
    )
    return now


def test_history_reads_the_last_hour_in_time_order(moto: MotoServer, history: int) -> None:
    lines = _lines(_tail(moto, LogQuery(function="orders")).batches(threading.Event()))
    assert [line.text.split("\t")[-1] for line in lines] == [
        f"START RequestId: {RID_1} Version: $LATEST",
        "charging card 42",
        "card 42 declined",
        f"END RequestId: {RID_1}",
        f"START RequestId: {RID_2} Version: $LATEST",
        'a bare print with "quotes"',
        "slow card 7",
    ]
    assert [line.stream for line in lines] == [STREAM_A] * 4 + [STREAM_B] * 3
    assert lines[0].time == (history - 5000) / 1000 and lines[0].function == "orders"
    assert (lines[2].level, lines[2].request_id) == ("ERROR", RID_1)
    assert (lines[6].level, lines[6].request_id) == ("WARN", RID_2)


def test_history_filters_by_text_level_request_id_and_since(moto: MotoServer, history: int) -> None:
    def texts(**query: Any) -> list[str]:
        tail = _tail(moto, LogQuery(function="orders", **query))
        return [line.text.split("\t")[-1] for line in _lines(tail.batches(threading.Event()))]

    assert texts(text="card 42") == ["charging card 42", "card 42 declined"]
    # Not a plain phrase: nothing goes to CloudWatch, the local check still filters.
    assert texts(text='"quotes"') == ['a bare print with "quotes"']
    assert texts(level="WARN") == ["card 42 declined", "slow card 7"]
    assert texts(request_id=RID_2) == [f"START RequestId: {RID_2} Version: $LATEST", "slow card 7"]
    assert texts(request_id=RID_1, level="ERROR") == ["card 42 declined"]
    assert texts(since=(history - 4000) / 1000) == [
        f"START RequestId: {RID_2} Version: $LATEST",
        'a bare print with "quotes"',
        "slow card 7",
    ]
    assert texts(since=(history - 4 * 3600 * 1000) / 1000)[0] == "ancient history"


def test_filter_pattern_is_a_quoted_plain_phrase_or_nothing() -> None:
    assert filter_pattern(LogQuery(text="card 42")) == '"card 42"'
    assert filter_pattern(LogQuery(request_id=RID_1)) == f'"{RID_1}"'
    assert filter_pattern(LogQuery(text="card", request_id=RID_1)) == '"card"'
    assert filter_pattern(LogQuery(text='say "hi"', request_id=RID_1)) == f'"{RID_1}"'
    assert filter_pattern(LogQuery(text="a\\b")) is None
    assert filter_pattern(LogQuery(text="tab\there")) is None
    assert filter_pattern(LogQuery(level="ERROR")) is None


def test_history_pages_through_more_than_one_answer(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A)
    base = _now_ms() - 60_000
    for chunk in range(3):  # moto answers at most 10,000 events per page
        _put(logs, STREAM_A, *[(base + chunk * 5000 + i, f"line {chunk * 5000 + i}") for i in range(5000)])
    tail = _tail(moto, LogQuery(function="orders"))
    batches = list(tail.batches(threading.Event()))
    assert len(batches) >= 2
    assert [line.text for batch in batches for line in batch.lines] == [f"line {i}" for i in range(15000)]


def test_history_of_a_missing_group_is_an_error_naming_it(moto: MotoServer) -> None:
    with pytest.raises(BackendError) as caught:
        list(_tail(moto, LogQuery(function="orders")).batches(threading.Event()))
    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.message.startswith(f"logs FilterLogEvents: log group '{GROUP}' not found")


# -- follow ------------------------------------------------------------------------------------


def test_follow_by_polling_picks_up_new_events_once(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A, STREAM_B)
    _put(logs, STREAM_A, (_now_ms() - 2000, "before the tail started"))
    tail = _tail(moto, LogQuery(function="orders", follow=True), use_live_tail=False)
    follower = Follower(tail)
    try:
        now = _now_ms()
        _put(logs, STREAM_A, (now, "first"), (now, "first"))  # same millisecond, twice: both kept
        assert wait_for(lambda: len(follower.texts()) == 2, timeout=10)
        _put(logs, STREAM_B, (now + 1, "second"))
        _put(logs, STREAM_A, (now + 2, "third"))
        assert wait_for(lambda: len(follower.texts()) == 4, timeout=10)
        # Several more polls (every 0.05 s) see the same events again; none may be repeated.
        assert not wait_for(lambda: len(follower.texts()) > 4, timeout=0.3)
    finally:
        follower.stop()
    assert follower.texts() == ["first", "first", "second", "third"]
    assert follower.notices() == [] and follower.error is None
    # Only events at the newest timestamp can come back, so only they are remembered.
    assert tail.remembered_event_ids == 1


def test_follow_with_filters_keeps_only_matching_lines(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A)
    follower = Follower(
        _tail(moto, LogQuery(function="orders", follow=True, text="card", level="ERROR"), use_live_tail=False)
    )
    try:
        now = _now_ms()
        _put(
            logs,
            STREAM_A,
            (now, f"[INFO]\t2026-11-22T10:00:00.000Z\t{RID_1}\tcard ok"),
            (now + 1, f"[ERROR]\t2026-11-22T10:00:00.000Z\t{RID_1}\tcard declined"),
            (now + 2, f"[ERROR]\t2026-11-22T10:00:00.000Z\t{RID_1}\tdatabase down"),
        )
        assert wait_for(lambda: len(follower.texts()) >= 1, timeout=10)
    finally:
        follower.stop()
    assert [text.split("\t")[-1] for text in follower.texts()] == ["card declined"]


def test_live_tail_that_ends_at_once_falls_back_to_polling_without_repeats(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A)
    start = time.time() - 10
    now = _now_ms()
    _put(
        logs, STREAM_A, (now - 20_000, "older than the tail"), (now - 5000, "replayed"), (now - 4000, "also")
    )
    # The tail "started" ten seconds ago; moto's live tail replays the whole group, then closes.
    follower = Follower(_tail(moto, LogQuery(function="orders", follow=True), clock=lambda: start))
    try:
        assert wait_for(lambda: any("polling FilterLogEvents" in notice for notice in follower.notices()))
        assert wait_for(lambda: follower.texts() == ["replayed", "also"])
        _put(logs, STREAM_A, (_now_ms(), "new"))
        assert wait_for(lambda: follower.texts()[-1:] == ["new"], timeout=10)
        assert not wait_for(lambda: len(follower.texts()) > 3, timeout=0.3)
    finally:
        follower.stop()
    assert follower.texts() == ["replayed", "also", "new"]
    assert follower.notices()[0].startswith("live tail ended after ")
    assert follower.notices()[0].endswith(": polling FilterLogEvents every 0.05 s")


def test_follow_since_shows_the_window_first_then_follows(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A)
    now = _now_ms()
    _put(logs, STREAM_A, (now - 120_000, "too old"), (now - 30_000, "in the window"), (now - 1000, "recent"))
    follower = Follower(_tail(moto, LogQuery(function="orders", follow=True, since=(now - 60_000) / 1000)))
    try:
        assert wait_for(lambda: any("polling" in notice for notice in follower.notices()))
        _put(logs, STREAM_A, (_now_ms(), "new"))
        assert wait_for(lambda: "new" in follower.texts(), timeout=10)
        assert not wait_for(lambda: len(follower.texts()) > 3, timeout=0.3)
    finally:
        follower.stop()
    # Backfilled by polling, replayed again by moto's live tail, shown once.
    assert follower.texts() == ["in the window", "recent", "new"]


def test_live_tail_denied_falls_back_to_polling(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A)
    key, secret = user_keys(
        moto, "reader", ["logs:FilterLogEvents", "logs:DescribeLogGroups", "logs:PutLogEvents"]
    )
    moto.set_iam_checks(True)
    session = {"aws_access_key_id": key, "aws_secret_access_key": secret}
    writer = boto3.Session(region_name=REGION, **session).client("logs", endpoint_url=moto.url)
    tail = CloudWatchTail(
        _factory(moto, **session),
        "orders",
        GROUP,
        LogQuery(function="orders", follow=True),
        poll_interval_s=0.05,
    )
    follower = Follower(tail)
    try:
        assert wait_for(lambda: bool(follower.notices()))
        _put(writer, STREAM_A, (_now_ms(), "seen by polling"))
        assert wait_for(lambda: follower.texts() == ["seen by polling"], timeout=10)
    finally:
        follower.stop()
    assert follower.notices() == [
        "live tail is not available (AccessDenied): polling FilterLogEvents every 0.05 s"
    ]


def test_follow_waits_for_a_missing_log_group(moto: MotoServer) -> None:
    logs = moto.client("logs")
    follower = Follower(_tail(moto, LogQuery(function="orders", follow=True)))
    try:
        assert wait_for(lambda: bool(follower.notices()))
        assert follower.notices() == [f"waiting for log group {GROUP} (it appears with the first log line)"]
        # Several polls while the group is missing: still one notice.
        assert not wait_for(lambda: len(follower.notices()) > 1, timeout=0.2)
        _group(logs, STREAM_A)
        _put(logs, STREAM_A, (_now_ms(), "hello"))
        assert wait_for(lambda: follower.texts() == ["hello"], timeout=10)
        # The group exists now, so live tail was tried again (and moto's ended at once).
        assert wait_for(lambda: len(follower.notices()) == 2)
        _put(logs, STREAM_A, (_now_ms() + 1, "again"))
        assert wait_for(lambda: follower.texts() == ["hello", "again"], timeout=10)
    finally:
        follower.stop()
    assert follower.notices()[1].startswith("live tail ended after")
    assert follower.error is None


def test_stop_ends_a_follow_promptly_even_with_a_long_poll_interval(moto: MotoServer) -> None:
    logs = moto.client("logs")
    _group(logs, STREAM_A)
    follower = Follower(_tail(moto, LogQuery(function="orders", follow=True), poll_interval_s=5.0))
    assert wait_for(lambda: bool(follower.notices()))  # polling now, sleeping 5 s between polls
    assert follower.stop() < 1.0
    assert follower.error is None


# -- throttling and failures (a tiny fake client: moto cannot throttle) -------------------------


class _ThrottlingLogs:
    """A logs client that throttles `throttles` times, then answers with one event per call."""

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.calls = 0

    def filter_log_events(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "throttle":
            error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "FilterLogEvents"
            )
        if step == "denied":
            error = {"Code": "AccessDeniedException", "Message": "not allowed"}
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "FilterLogEvents"
            )
        stamp = request["startTime"] + self.calls
        event = {
            "logStreamName": STREAM_A,
            "timestamp": stamp,
            "message": f"call {self.calls}",
            "eventId": str(stamp),
        }
        return {"events": [event]}


class _RecordingStop(threading.Event):
    """A stop event whose waits return at once and are recorded, so backoff runs in no time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def test_throttling_backs_off_with_notices_and_resets_after_success() -> None:
    client = _ThrottlingLogs(["throttle", "throttle", "throttle", "throttle", "ok", "throttle", "ok"])
    tail = CloudWatchTail(
        lambda: client,
        "orders",
        GROUP,
        LogQuery(function="orders", follow=True),
        use_live_tail=False,
        poll_interval_s=0.25,
        max_backoff_s=3.0,
        clock=lambda: 1000.0,
    )
    stop = _RecordingStop()
    seen: list[LogBatch] = []
    for batch in tail.batches(stop):
        seen.append(batch)
        if sum(len(b.lines) for b in seen) == 2:
            stop.set()
    notices = [batch.notice for batch in seen if batch.notice]
    assert [notice.split(":")[0] for notice in notices] == [
        "reconnecting in 1 s",
        "reconnecting in 2 s",
        "reconnecting in 3 s",
        "reconnecting in 3 s",
        "reconnecting in 1 s",
    ]
    assert notices[0] == (
        "reconnecting in 1 s: logs FilterLogEvents: throttled by AWS (ThrottlingException) "
        "(AWS said: Rate exceeded): wait and retry, or raise the limit"
    )
    assert [line.text for batch in seen for line in batch.lines] == ["call 5", "call 7"]
    assert stop.waits == [1.0, 2.0, 3.0, 3.0, 0.25, 1.0, 0.25]


def test_access_denied_to_filter_log_events_raises_even_when_following() -> None:
    client = _ThrottlingLogs(["throttle", "denied"])
    tail = CloudWatchTail(
        lambda: client, "orders", GROUP, LogQuery(function="orders", follow=True), use_live_tail=False
    )
    stop = _RecordingStop()
    batches = tail.batches(stop)
    assert next(batches).notice is not None
    with pytest.raises(BackendError) as caught:
        next(batches)
    assert caught.value.code == "AccessDeniedException"
    assert "grant logs:FilterLogEvents" in caught.value.message


def test_history_gives_up_after_repeated_throttling() -> None:
    client = _ThrottlingLogs(["throttle"] * 10)
    tail = CloudWatchTail(lambda: client, "orders", GROUP, LogQuery(function="orders"))
    notices = []
    with pytest.raises(BackendError) as caught:
        for batch in tail.batches(_RecordingStop()):
            notices.append(batch.notice)
    assert caught.value.retryable and len(notices) == 4 and client.calls == 5
