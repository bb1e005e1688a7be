"""Push sources: S3 object events, SNS messages and EventBridge events invoke functions asynchronously.

The embedded account tells the `Notifier` what happened (an object was put, a message published,
events put on a bus) once moto has accepted it; the notifier finds the sources that match (S3
event type and key filters, SNS filter policies, EventBridge patterns), builds AWS's event for
each (lambda-facts, and the event catalog's s3/sns/eventbridge shapes) and makes an `Event`
invoke, on its own thread so the request that caused it is never held up.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

from lambench.core.diagnostics import logger
from lambench.core.record import field, record
from lambench.core.runtime import errors
from lambench.core.runtime.destinations import timestamp, timestamp_seconds
from lambench.core.runtime.identifiers import LOCAL_ACCOUNT_ID as ACCOUNT_ID
from lambench.core.runtime.records import SourceStep
from lambench.core.sources.context import SourceContext, SourceCounters
from lambench.core.sources.model import RuleSource, S3Source, SnsSource, arn_name
from lambench.core.sources.patterns import matches, sns_attributes


@record(frozen=True)
class ObjectEvent:
    """An object was created or removed: `event_name` is `ObjectCreated:Put`, `ObjectRemoved:Delete`..."""

    bucket: str
    key: str
    event_name: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    request_id: str = ""
    source_ip: str = "127.0.0.1"


@record(frozen=True)
class Publication:
    """A message published to an SNS topic."""

    topic_arn: str
    message_id: str
    message: str
    subject: str | None = None
    attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@record(frozen=True)
class BusEvent:
    """One entry of a PutEvents call, with the id the account gave it."""

    event_id: str
    bus: str
    source: str
    detail_type: str
    detail: object
    resources: tuple[str, ...] = ()
    time: str | None = None


class Notifier:
    """Matches account events against push sources and invokes their functions asynchronously."""

    def __init__(self, context: SourceContext) -> None:
        self._context = context
        self._s3: list[tuple[S3Source, SourceCounters]] = []
        self._sns: list[tuple[SnsSource, SourceCounters]] = []
        self._rules: list[tuple[RuleSource, SourceCounters]] = []
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def add(self, source: S3Source | SnsSource | RuleSource, counters: SourceCounters) -> None:
        """Route matching account events to `source`'s function."""
        if isinstance(source, S3Source):
            self._s3.append((source, counters))
        elif isinstance(source, SnsSource):
            self._sns.append((source, counters))
        else:
            self._rules.append((source, counters))

    @property
    def wanted(self) -> bool:
        """Whether any source listens (the account need not look at requests otherwise)."""
        return bool(self._s3 or self._sns or self._rules)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lambench-notifier", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        """Deliver what was already reported, then stop (after `stopping` is set)."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def report(self, event: ObjectEvent | Publication | BusEvent) -> None:
        """Tell the notifier what the account did; returns at once."""
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._dispatch(event)
            except Exception:
                logger(__name__).exception("could not route %r", event)

    def _dispatch(self, event: ObjectEvent | Publication | BusEvent) -> None:
        region = self._context.region
        if isinstance(event, ObjectEvent):
            for s3_source, counters in self._s3:
                if (
                    s3_source.enabled
                    and s3_source.bucket == event.bucket
                    and s3_source.matches(event.event_name, event.key)
                ):
                    self._invoke(counters, s3_event(event, s3_source, region))
        elif isinstance(event, Publication):
            for sns_source, counters in self._sns:
                if sns_source.enabled and sns_source.topic_arn == event.topic_arn:
                    if sns_source.filter_policy is not None and not _sns_matches(sns_source, event):
                        counters.add(filtered=1)
                        continue
                    self._invoke(counters, sns_event(event, sns_source))
        else:
            envelope = bus_envelope(event, region)
            for rule, counters in self._rules:
                if rule.enabled and rule.bus == event.bus and matches(rule.pattern, envelope):
                    self._invoke(counters, rule_payload(rule, envelope))

    def _invoke(self, counters: SourceCounters, payload: str) -> None:
        counters.add(polled=1)
        try:
            result = self._context.invoke(counters.source.function, payload.encode(), "Event")
        except errors.LambdaServiceError as exc:
            counters.add(failed=1)
            counters.announce(SourceStep.FAILED, count=1, failed=1, message=exc.message)
            return
        counters.add(delivered=1)
        counters.announce(SourceStep.TRIGGERED, request_id=result.request_id, count=1)


def s3_event(event: ObjectEvent, source: S3Source, region: str) -> str:
    """The S3 notification event (version 2.1) for one object event."""
    obj: dict[str, Any] = {"key": quote_plus(event.key, safe="/")}
    if event.size is not None:
        obj["size"] = event.size
    if event.etag:
        obj["eTag"] = event.etag.strip('"')
    if event.version_id:
        obj["versionId"] = event.version_id
    obj["sequencer"] = f"{time.time_ns():018X}"[-18:]
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": timestamp(time.time()),
        "eventName": event.event_name,
        "userIdentity": {"principalId": "AWS:LAMBENCHLOCALUSER"},
        "requestParameters": {"sourceIPAddress": event.source_ip},
        "responseElements": {
            "x-amz-request-id": event.request_id or uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": "",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": f"{source.function}-{source.name}",
            "bucket": {
                "name": event.bucket,
                "ownerIdentity": {"principalId": "LAMBENCHOWNER"},
                "arn": f"arn:aws:s3:::{event.bucket}",
            },
            "object": obj,
        },
    }
    return json.dumps({"Records": [record]})


def sns_event(event: Publication, source: SnsSource) -> str:
    """The SNS event Lambda receives for one published message."""
    region = event.topic_arn.split(":")[3]
    attributes = {
        name: {
            "Type": value.get("DataType", "String"),
            "Value": value.get("StringValue", value.get("BinaryValue", "")),
        }
        for name, value in event.attributes.items()
    }
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": source.subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": event.message_id,
            "TopicArn": event.topic_arn,
            "Subject": event.subject,
            "Message": event.message,
            "Timestamp": timestamp(time.time()),
            "SignatureVersion": "1",
            "Signature": "TGFtYmVuY2ggZG9lcyBub3Qgc2lnbiBtZXNzYWdlcw==",
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-lambench.pem",
            "UnsubscribeUrl": (
                f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={source.subscription_arn}"
            ),
            "MessageAttributes": attributes,
        },
    }
    return json.dumps({"Records": [record]})


def _sns_matches(source: SnsSource, event: Publication) -> bool:
    assert source.filter_policy is not None
    if source.filter_scope == "MessageBody":
        try:
            body = json.loads(event.message)
        except ValueError:
            return False
        return matches(source.filter_policy, body)
    return matches(source.filter_policy, sns_attributes(event.attributes))


def bus_envelope(event: BusEvent, region: str) -> dict[str, Any]:
    """The event as EventBridge delivers it (and as patterns see it)."""
    return {
        "version": "0",
        "id": event.event_id,
        "detail-type": event.detail_type,
        "source": event.source,
        "account": ACCOUNT_ID,
        "time": event.time or timestamp_seconds(time.time()),
        "region": region,
        "resources": list(event.resources),
        "detail": event.detail,
    }


def rule_payload(rule: RuleSource, envelope: Mapping[str, Any]) -> str:
    """What the rule's target gets: its Input, the part InputPath picks, or the whole event."""
    if rule.input is not None:
        return rule.input
    if rule.input_path is not None:
        return json.dumps(json_path(envelope, rule.input_path))
    return json.dumps(envelope)


def json_path(document: object, path: str) -> object:
    """The value at a simple JSONPath (`$`, `$.detail`, `$.detail.items[0]`); None when absent."""
    value = document
    for part in _path_parts(path):
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and -len(value) <= part < len(value) else None
        else:
            value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _path_parts(path: str) -> Sequence[str | int]:
    parts: list[str | int] = []
    for piece in path.lstrip("$").split("."):
        if not piece:
            continue
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index))
            rest = rest.lstrip("[")
    return parts


__all__ = ["BusEvent", "Notifier", "ObjectEvent", "Publication", "arn_name"]
