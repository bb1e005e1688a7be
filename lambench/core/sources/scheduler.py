"""Schedules: `Schedule` (an EventBridge rule) and `ScheduleV2` (EventBridge Scheduler) events.

Each firing is an asynchronous invoke, so the async retry rules apply. With a time scale, a
schedule keeps its own clock: `rate(1 minute)` at `LAMBENCH_TIME_SCALE=0.01` fires every 0.6 s,
and a cron fires at each of its times in turn, the wait between two of them scaled; the event
carries the scheduled time, as on AWS.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
import uuid
from datetime import datetime, timezone

from lambench.core.runtime import errors
from lambench.core.runtime.destinations import timestamp_seconds
from lambench.core.runtime.identifiers import LOCAL_ACCOUNT_ID as ACCOUNT_ID
from lambench.core.runtime.records import SourceStep
from lambench.core.sources.context import SourceContext, SourceCounters
from lambench.core.sources.model import ScheduleSource
from lambench.core.sources.schedule import Schedule, parse_schedule


class Scheduler:
    """Fires every enabled schedule of a project from one thread."""

    def __init__(self, context: SourceContext) -> None:
        self._context = context
        self._entries: list[tuple[float, int, datetime, ScheduleSource, Schedule, SourceCounters]] = []
        self._thread: threading.Thread | None = None
        self._sequence = 0
        self._lock = threading.Condition()

    def add(self, source: ScheduleSource, counters: SourceCounters) -> None:
        """Schedule `source`'s first firing (from now, on its own clock)."""
        schedule = parse_schedule(source.expression, source.timezone)
        self._push(source, schedule, counters, datetime.now(timezone.utc), time.monotonic())

    def _push(
        self,
        source: ScheduleSource,
        schedule: Schedule,
        counters: SourceCounters,
        after: datetime,
        now: float,
    ) -> None:
        moment = schedule.next_after(after)
        if moment is None:
            counters.state = "Finished"
            return
        wait_s = max(0.0, (moment - after).total_seconds()) * self._context.scale
        with self._lock:
            self._sequence += 1
            heapq.heappush(self._entries, (now + wait_s, self._sequence, moment, source, schedule, counters))
            self._lock.notify_all()

    def start(self) -> None:
        """Start the firing thread, if any schedule was added."""
        if self._entries:
            self._thread = threading.Thread(target=self._run, name="lambench-scheduler", daemon=True)
            self._thread.start()

    def join(self, timeout_s: float) -> None:
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def next_firing(self, source: ScheduleSource) -> datetime | None:
        """When `source` fires next, in its own clock's time."""
        with self._lock:
            for _due, _seq, moment, entry, _schedule, _counters in self._entries:
                if entry is source:
                    return moment
        return None

    def _run(self) -> None:
        stopping = self._context.stopping
        while not stopping.is_set():
            with self._lock:
                while not stopping.is_set() and self._entries and self._entries[0][0] > time.monotonic():
                    self._lock.wait(self._entries[0][0] - time.monotonic())
                if stopping.is_set() or not self._entries:
                    return
                due, _seq, moment, source, schedule, counters = heapq.heappop(self._entries)
            self._fire(source, moment, counters)
            self._push(source, schedule, counters, moment, due)

    def _fire(self, source: ScheduleSource, moment: datetime, counters: SourceCounters) -> None:
        payload = event_payload(source, moment, self._context.region)
        counters.add(polled=1)
        try:
            result = self._context.invoke(source.function, payload.encode(), "Event")
        except errors.LambdaServiceError as exc:
            counters.add(failed=1)
            counters.announce(SourceStep.FAILED, count=1, failed=1, message=exc.message)
            return
        counters.add(delivered=1)
        counters.announce(SourceStep.TRIGGERED, request_id=result.request_id, count=1, message=_iso(moment))


def event_payload(source: ScheduleSource, moment: datetime, region: str) -> str:
    """What one firing sends the function: the Input, or the service's own event."""
    if not source.scheduler:
        if source.input is not None:
            return source.input
        return json.dumps(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT_ID,
                "time": _iso(moment),
                "region": region,
                "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{source.schedule_name}"],
                "detail": {},
            }
        )
    schedule_arn = f"arn:aws:scheduler:{region}:{ACCOUNT_ID}:schedule/default/{source.schedule_name}"
    if source.input is None:
        # "If you do not specify anything for this field, EventBridge Scheduler delivers a default
        # notification to the target" (API Target.Input). Its exact shape is unconfirmed; lambench
        # sends an EventBridge-style envelope with source aws.scheduler.
        return json.dumps(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": ACCOUNT_ID,
                "time": _iso(moment),
                "region": region,
                "resources": [schedule_arn],
                "detail": "{}",
            }
        )
    context = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": _iso(moment),
        "<aws.scheduler.execution-id>": uuid.uuid4().hex,
        "<aws.scheduler.attempt-number>": "1",
    }
    text = source.input
    for placeholder, value in context.items():
        text = text.replace(placeholder, value)
    return text


def _iso(moment: datetime) -> str:
    return timestamp_seconds(moment.timestamp())
