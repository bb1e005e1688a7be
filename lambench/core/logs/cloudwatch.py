"""Log lines of one function from CloudWatch Logs: a window of history, or a live follow.

Without `follow`, `CloudWatchTail` pages through FilterLogEvents from `query.since` (default: the
last hour) to now. With `follow` it prefers CloudWatch Logs Live Tail (StartLiveTail), and falls
back to polling FilterLogEvents once per `poll_interval_s` when live tail is not allowed, not
implemented, or ends at once without a real session (moto answers one update and closes). A live
session that ends after a long time (AWS ends them after three hours) is started again.

Two sources can overlap when the tail switches from one to the other (moto's live tail also
replays the whole group), so each switch remembers the newest ingestion time already shown and
the next source skips events ingested no later; within polling, events are de-duplicated by id.
Throttling and network errors become `reconnecting in N s` notices with exponential backoff;
a missing log group while following is waited for. Every wait goes through `stop.wait`, so
setting `stop` ends the iterator within a fraction of a second, and memory stays bounded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from lambench.core.aws_errors import UNSUPPORTED, BackendError, aws_call, translate
from lambench.core.logs.model import LogBatch, LogLine, LogQuery
from lambench.core.logs.parse import make_line, matches
from lambench.core.record import replace

#: How far back a tail that is not following looks when the query gives no `since`.
DEFAULT_HISTORY_S = 3600.0
_MAX_SEEN_IDS = 20_000
_NON_FOLLOW_ATTEMPTS = 5
_LIVE_FAILURES_BEFORE_POLLING = 3
_QUEUE_POLL_S = 0.1
_NOT_FOUND = frozenset({"ResourceNotFoundException", "ResourceNotFound"})

# Outcomes of one live-tail session or one polling pass.
_STOPPED = "stopped"
_MISSING = "missing"
_RETRY = "retry"
_OK = "ok"
_ENDED = "ended"


def filter_pattern(query: LogQuery) -> str | None:
    """The CloudWatch filterPattern that pre-selects lines for `query`, or None.

    Only a plain phrase is sent, quoted (`"text"`): anything CloudWatch's pattern syntax could
    read differently is left to the local check, which always runs. A request id is a plain
    phrase too and is used when there is no text. Never both: moto reads two quoted terms as one.
    """
    for phrase in (query.text, query.request_id):
        if phrase and phrase.strip() and _is_plain(phrase):
            return f'"{phrase}"'
    return None


def _is_plain(phrase: str) -> bool:
    return '"' not in phrase and "\\" not in phrase and phrase.isprintable()


class CloudWatchTail:
    """Yields LogBatches of one function's log group; see the module docstring.

    `logs_client_factory` returns a boto3 CloudWatch Logs client (called once, lazily).
    """

    def __init__(
        self,
        logs_client_factory: Callable[[], Any],
        function: str,
        log_group: str,
        query: LogQuery,
        *,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 30.0,
        use_live_tail: bool = True,
        live_tail_min_session_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        profile: str | None = None,
        region: str | None = None,
    ) -> None:
        self._factory = logs_client_factory
        self._client: Any = None
        self.function = function
        self.log_group = log_group
        self.query = query
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._use_live_tail = use_live_tail
        self._live_min_s = live_tail_min_session_s
        self._clock = clock
        self._profile = profile
        self._region = region
        self._pattern = filter_pattern(query)
        self._match_query = replace(query, function=None)
        self._delay = 0.0
        # Follow state: newest event time shown (FilterLogEvents' next startTime), newest
        # ingestion time shown, the floor a source skips after a switch, recent event ids.
        self._cursor_ms = 0
        self._watermark_ms: int | None = None
        self._floor_ms: int | None = None
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._waiting = False

    # -- entry point -------------------------------------------------------------------------

    def batches(self, stop: threading.Event) -> Iterator[LogBatch]:
        """Batches of matching lines in time order; with `query.follow`, until `stop` is set.

        "Now" (where a follow without `since` starts, where history ends) is taken here, when
        the tail is asked for, not when iteration begins.
        """
        now = self._clock()
        if self.query.follow:
            return self._follow(stop, self.query.since if self.query.since is not None else now)
        return self._history(stop, now)

    @property
    def remembered_event_ids(self) -> int:
        """How many event ids polling keeps for de-duplication (bounded; for diagnostics)."""
        return len(self._seen)

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> Any:
        call = f"logs {''.join(part.title() for part in operation.split('_'))}"
        with aws_call(
            call, profile=self._profile, region=self._region, resource=f"log group '{self.log_group}'"
        ):
            if self._client is None:
                self._client = self._factory()
            return getattr(self._client, operation)(**kwargs)

    def _line(self, event: Mapping[str, Any]) -> LogLine:
        return make_line(
            self.function,
            str(event.get("logStreamName", "")),
            int(event.get("timestamp", 0)) / 1000,
            str(event.get("message", "")).rstrip("\n"),
        )

    def _batch(self, events: list[Mapping[str, Any]]) -> LogBatch | None:
        lines = [line for line in map(self._line, events) if matches(line, self._match_query)]
        lines.sort(key=lambda line: line.time)
        return LogBatch(tuple(lines)) if lines else None

    def _note(self, event: Mapping[str, Any]) -> None:
        stamp = int(event.get("timestamp", 0))
        self._cursor_ms = max(self._cursor_ms, stamp)
        ingested = event.get("ingestionTime")
        if isinstance(ingested, int):
            self._watermark_ms = ingested if self._watermark_ms is None else max(self._watermark_ms, ingested)

    def _above_floor(self, event: Mapping[str, Any]) -> bool:
        ingested = event.get("ingestionTime")
        return self._floor_ms is None or not isinstance(ingested, int) or ingested > self._floor_ms

    def _backoff(self, stop: threading.Event, error: BackendError) -> Iterator[LogBatch]:
        self._delay = min(self._max_backoff_s, self._delay * 2 if self._delay else 1.0)
        yield LogBatch((), notice=f"reconnecting in {self._delay:g} s: {error.message}")
        stop.wait(self._delay)

    # -- history -----------------------------------------------------------------------------

    def _history(self, stop: threading.Event, now: float) -> Iterator[LogBatch]:
        since = self.query.since if self.query.since is not None else now - DEFAULT_HISTORY_S
        request: dict[str, Any] = {
            "logGroupName": self.log_group,
            "startTime": int(since * 1000),
            "endTime": int(now * 1000),
        }
        if self._pattern:
            request["filterPattern"] = self._pattern
        failures = 0
        while not stop.is_set():
            try:
                page = self._call("filter_log_events", **request)
            except BackendError as error:
                failures += 1
                if not error.retryable or failures >= _NON_FOLLOW_ATTEMPTS:
                    raise
                yield from self._backoff(stop, error)
                continue
            failures, self._delay = 0, 0.0
            batch = self._batch(list(page.get("events", ())))
            if batch:
                yield batch
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token

    # -- follow ------------------------------------------------------------------------------

    def _follow(self, stop: threading.Event, start: float) -> Iterator[LogBatch]:
        self._cursor_ms = int(start * 1000)
        self._match_query = replace(self.query, function=None, since=start)
        live = self._use_live_tail
        # With --since, show the window first (one polling pass), then follow.
        backfill = self.query.since is not None
        # Live tail could not start because the group did not exist yet: try again once it does.
        live_when_found = False
        live_failures = 0
        while not stop.is_set():
            if not live or backfill:
                outcome = yield from self._poll_pass(stop)
                if outcome == _STOPPED:
                    return
                if outcome == _RETRY:
                    continue
                backfill = False
                if outcome == _MISSING and live:
                    live, live_when_found = False, True
                elif outcome == _OK and live_when_found:
                    live, live_when_found = True, False
                if not live or outcome == _MISSING:
                    stop.wait(self._poll_interval_s)
                    continue
            self._floor_ms = self._watermark_ms
            outcome = yield from self._live_session(stop)
            if outcome == _STOPPED:
                return
            if outcome == _ENDED:
                live_failures = 0
                continue
            if outcome == _MISSING:
                live, live_when_found = False, True
            elif outcome == _RETRY:
                live_failures += 1
                if live_failures < _LIVE_FAILURES_BEFORE_POLLING:
                    continue
                live = False
                yield LogBatch((), notice=self._polling_notice("live tail keeps failing"))
            else:
                live = False
                yield LogBatch((), notice=self._polling_notice(outcome))
            self._floor_ms = self._watermark_ms

    def _polling_notice(self, why: str) -> str:
        return f"{why}: polling FilterLogEvents every {self._poll_interval_s:g} s"

    def _missing(self) -> Iterator[LogBatch]:
        if not self._waiting:
            self._waiting = True
            yield LogBatch(
                (),
                notice=f"waiting for log group {self.log_group} (it appears with the first log line)",
            )

    def _fresh(self, event: Mapping[str, Any]) -> bool:
        key = (str(event.get("logStreamName", "")), str(event.get("eventId", "")))
        if key in self._seen:
            return False
        self._seen[key] = int(event.get("timestamp", 0))
        return self._above_floor(event)

    def _prune(self, *, by_time: bool) -> None:
        # Between passes, only events at or after the cursor (the next startTime) can come back.
        if by_time:
            for key in [key for key, stamp in self._seen.items() if stamp < self._cursor_ms]:
                del self._seen[key]
        while len(self._seen) > _MAX_SEEN_IDS:
            self._seen.popitem(last=False)

    def _poll_pass(self, stop: threading.Event) -> Generator[LogBatch, None, str]:
        """One FilterLogEvents pass from the cursor over every page."""
        request: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self._cursor_ms}
        if self._pattern:
            request["filterPattern"] = self._pattern
        while True:
            if stop.is_set():
                return _STOPPED
            try:
                page = self._call("filter_log_events", **request)
            except BackendError as error:
                outcome = yield from self._recover(stop, error)
                if outcome is None:
                    raise
                return outcome
            self._delay, self._waiting = 0.0, False
            fresh = [event for event in page.get("events", ()) if self._fresh(event)]
            for event in fresh:
                self._note(event)
            token = page.get("nextToken")
            self._prune(by_time=not token)
            batch = self._batch(fresh)
            if batch:
                yield batch
            if not token:
                return _OK
            request["nextToken"] = token

    def _group_arn(self) -> str | None:
        request: dict[str, Any] = {"logGroupNamePrefix": self.log_group}
        while True:
            page = self._call("describe_log_groups", **request)
            for group in page.get("logGroups", ()):
                if group.get("logGroupName") == self.log_group:
                    arn = group.get("logGroupArn") or str(group.get("arn", "")).removesuffix(":*")
                    return str(arn) or None
            token = page.get("nextToken")
            if not token:
                return None
            request["nextToken"] = token

    def _start_live(self, stop: threading.Event) -> Generator[LogBatch, None, Any]:
        """StartLiveTail's event stream, or the outcome (a str) when it could not start."""
        try:
            arn = self._group_arn()
            if arn is None:
                yield from self._missing()
                return _MISSING
            request: dict[str, Any] = {"logGroupIdentifiers": [arn]}
            if self._pattern:
                request["logEventFilterPattern"] = self._pattern
            return self._call("start_live_tail", **request)["responseStream"]
        except BackendError as error:
            outcome = yield from self._recover(stop, error)
            if outcome is not None:
                return outcome
            why = "not implemented" if error.code == UNSUPPORTED else error.code
            return f"live tail is not available ({why})"

    def _recover(self, stop: threading.Event, error: BackendError) -> Generator[LogBatch, None, str | None]:
        """A missing log group (_MISSING, after its notice) or a retryable error (_RETRY, after the
        backoff); None for any other error, which the caller handles."""
        if error.code in _NOT_FOUND:
            yield from self._missing()
            return _MISSING
        if error.retryable:
            yield from self._backoff(stop, error)
            return _RETRY
        return None

    def _live_session(self, stop: threading.Event) -> Generator[LogBatch, None, str]:
        """One StartLiveTail session: _STOPPED, _ENDED (start another), _MISSING, _RETRY, or why not."""
        stream = yield from self._start_live(stop)
        if isinstance(stream, str):
            return stream
        started = time.monotonic()
        with _StreamReader(stream, name=f"lambench-live-tail-{self.function}") as reader:
            while not stop.is_set():
                item = reader.next(_QUEUE_POLL_S)
                if item is None:
                    continue
                kind, payload = item
                if kind == "event":
                    batch = self._live_update(payload.get("sessionUpdate"))
                    if batch:
                        yield batch
                    continue
                if kind == "error":
                    error = translate(
                        payload, "logs StartLiveTail", profile=self._profile, region=self._region
                    )
                    if error.code == "SessionTimeoutException":
                        return _ENDED
                    if error.retryable or error.code == "SessionStreamingException":
                        yield from self._backoff(stop, error)
                        return _RETRY
                    return f"live tail failed ({error.code})"
                lasted = time.monotonic() - started
                return _ENDED if lasted >= self._live_min_s else f"live tail ended after {lasted:.1f} s"
            return _STOPPED

    def _live_update(self, update: Mapping[str, Any] | None) -> LogBatch | None:
        if not update:
            return None
        self._delay, self._waiting = 0.0, False
        events = [event for event in update.get("sessionResults", ()) if self._above_floor(event)]
        for event in events:
            self._note(event)
        return self._batch(events)


class _StreamReader:
    """Reads a live-tail event stream on its own thread, since a blocking read cannot watch `stop`.

    Items are ("event", dict), ("error", exception) or ("end", None); the queue is small, so a
    slow consumer holds the reader back instead of letting memory grow.
    """

    def __init__(self, stream: Any, *, name: str) -> None:
        self._stream = stream
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=16)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._read, name=name, daemon=True)

    def __enter__(self) -> _StreamReader:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._halt.set()
        # Closing only releases the connection early; the reader ends on its own regardless.
        with contextlib.suppress(Exception):
            self._stream.close()
        self._thread.join(timeout=0.2)

    def next(self, timeout: float) -> tuple[str, Any] | None:
        """The next item, or None if none came within `timeout` seconds."""
        try:
            return self._items.get(timeout=timeout)
        except queue.Empty:
            return None

    def _offer(self, item: tuple[str, Any]) -> bool:
        while not self._halt.is_set():
            try:
                self._items.put(item, timeout=_QUEUE_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for event in self._stream:
                if not self._offer(("event", event)):
                    return
        except Exception as exc:
            if not self._halt.is_set():
                self._offer(("error", exc))
            return
        self._offer(("end", None))
