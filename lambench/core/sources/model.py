"""The event sources of a project, as its SAM template's `Events:` declare them.

Each kind has its own record, with AWS's defaults (lambda-facts §8.1): the template reader makes
them, `lambench sources` lists them and `runner.EventSources` runs them. Values are in real
seconds; `LAMBENCH_TIME_SCALE` applies only where they are waited on.
"""

from __future__ import annotations

from collections.abc import Mapping

from lambench.core.record import record

SQS = "SQS"
S3 = "S3"
SNS = "SNS"
DYNAMODB = "DynamoDB"
KINESIS = "Kinesis"
EVENTBRIDGE = "EventBridgeRule"
SCHEDULE = "Schedule"
SCHEDULE_V2 = "ScheduleV2"

#: `ReportBatchItemFailures`, the one `FunctionResponseTypes` value.
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def arn_name(arn: str) -> str:
    """The last part of an ARN: a queue's, topic's or stream's name."""
    tail = arn.rsplit(":", 1)[-1]
    if "/" in tail:
        parts = tail.split("/")
        # table/<name>/stream/<label> and stream/<name>: the resource's own name.
        return parts[1] if len(parts) > 1 else parts[0]
    return tail


@record(frozen=True)
class SqsSource:
    """An SQS event source mapping: a poller hands batches of the queue's messages to the function."""

    function: str
    name: str
    queue_arn: str
    batch_size: int = 10
    batching_window_s: int = 0
    maximum_concurrency: int | None = None
    report_failures: bool = False
    filters: tuple[Mapping[str, object], ...] = ()
    enabled: bool = True
    kind = SQS
    polled = True

    def target(self) -> str:
        """What the source reads, for listings."""
        return f"queue {arn_name(self.queue_arn)}"

    def settings(self) -> str:
        """Its settings, in a few words."""
        parts = [f"batch {self.batch_size}"]
        if self.batching_window_s:
            parts.append(f"window {self.batching_window_s} s")
        if self.maximum_concurrency:
            parts.append(f"max concurrency {self.maximum_concurrency}")
        if self.report_failures:
            parts.append(REPORT_BATCH_ITEM_FAILURES)
        if self.filters:
            parts.append(f"{len(self.filters)} filter(s)")
        return ", ".join(parts)


@record(frozen=True)
class StreamSource:
    """A DynamoDB Streams or Kinesis event source mapping: one poller per shard, in order."""

    function: str
    name: str
    kind: str  # DYNAMODB or KINESIS
    stream_arn: str
    starting_position: str = "LATEST"
    starting_timestamp: float | None = None
    batch_size: int = 100
    batching_window_s: int = 0
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    report_failures: bool = False
    on_failure: str | None = None
    filters: tuple[Mapping[str, object], ...] = ()
    enabled: bool = True
    polled = True

    def target(self) -> str:
        noun = "table" if self.kind == DYNAMODB else "stream"
        return f"{noun} {arn_name(self.stream_arn)}"

    def settings(self) -> str:
        parts = [self.starting_position, f"batch {self.batch_size}"]
        if self.batching_window_s:
            parts.append(f"window {self.batching_window_s} s")
        if self.bisect_on_error:
            parts.append("bisect")
        if self.maximum_retry_attempts >= 0:
            parts.append(f"{self.maximum_retry_attempts} retries")
        if self.maximum_record_age_s >= 0:
            parts.append(f"max age {self.maximum_record_age_s} s")
        if self.report_failures:
            parts.append(REPORT_BATCH_ITEM_FAILURES)
        if self.on_failure:
            parts.append(f"on failure {arn_name(self.on_failure)}")
        return ", ".join(parts)


@record(frozen=True)
class S3Source:
    """An S3 bucket notification: object events invoke the function asynchronously."""

    function: str
    name: str
    bucket: str
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)
    prefix: str = ""
    suffix: str = ""
    enabled: bool = True
    kind = S3
    polled = False

    def target(self) -> str:
        return f"bucket {self.bucket}"

    def settings(self) -> str:
        parts = [", ".join(self.events)]
        if self.prefix:
            parts.append(f"prefix {self.prefix}")
        if self.suffix:
            parts.append(f"suffix {self.suffix}")
        return ", ".join(parts)

    def matches(self, event_name: str, key: str) -> bool:
        """Whether an object event (`ObjectCreated:Put`) on `key` is one this notification sends."""
        if not (key.startswith(self.prefix) and key.endswith(self.suffix)):
            return False
        full = "s3:" + event_name
        for wanted in self.events:
            if wanted == full or (wanted.endswith(":*") and full.startswith(wanted[:-1])):
                return True
        return False


@record(frozen=True)
class SnsSource:
    """An SNS subscription: each message published to the topic invokes the function asynchronously."""

    function: str
    name: str
    topic_arn: str
    filter_policy: Mapping[str, object] | None = None
    filter_scope: str = "MessageAttributes"
    enabled: bool = True
    kind = SNS
    polled = False

    def target(self) -> str:
        return f"topic {arn_name(self.topic_arn)}"

    def settings(self) -> str:
        return f"filter on {self.filter_scope}" if self.filter_policy else "every message"

    @property
    def subscription_arn(self) -> str:
        """The subscription's ARN: the topic's with a stable id for this function and event."""
        return f"{self.topic_arn}:lambench-{self.function}-{self.name}"


@record(frozen=True)
class RuleSource:
    """An EventBridge rule with an event pattern; matching events invoke the function asynchronously."""

    function: str
    name: str
    rule_name: str
    pattern: Mapping[str, object]
    bus: str = "default"
    input: str | None = None
    input_path: str | None = None
    enabled: bool = True
    kind = EVENTBRIDGE
    polled = False

    def target(self) -> str:
        return f"bus {self.bus}"

    def settings(self) -> str:
        keys = ", ".join(str(key) for key in self.pattern)
        return f"rule {self.rule_name}, pattern on {keys}"


@record(frozen=True)
class ScheduleSource:
    """A schedule: an EventBridge rule (`Schedule`) or an EventBridge Scheduler schedule (`ScheduleV2`)."""

    function: str
    name: str
    schedule_name: str
    expression: str
    timezone: str = "UTC"
    input: str | None = None
    scheduler: bool = False  # ScheduleV2
    enabled: bool = True
    polled = False

    @property
    def kind(self) -> str:
        return SCHEDULE_V2 if self.scheduler else SCHEDULE

    def target(self) -> str:
        return self.expression

    def settings(self) -> str:
        where = f" ({self.timezone})" if self.timezone != "UTC" else ""
        return f"{'schedule' if self.scheduler else 'rule'} {self.schedule_name}{where}"


Source = SqsSource | StreamSource | S3Source | SnsSource | RuleSource | ScheduleSource


@record(frozen=True)
class SourceStatus:
    """One source's state and counters, as `lambench sources` shows them.

    `state` is `Enabled`, `Disabled`, `Needs serve` (nothing runs it in this process) or a
    problem (`Backing off: ...`). `polled` counts records (messages, stream records, events)
    read or received; `delivered` the invocations that succeeded (batches for pollers, accepted
    async events otherwise); `failed` those that failed; `in_flight` those running now.
    """

    function: str
    name: str
    kind: str
    target: str
    settings: str
    state: str
    polled: int = 0
    delivered: int = 0
    failed: int = 0
    in_flight: int = 0
    filtered: int = 0
    last_error: str | None = None
