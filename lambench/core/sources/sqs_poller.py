"""The SQS event source mapping: pollers that hand batches of a queue's messages to a function.

Like Lambda's (lambda-facts §8.2): each poller long-polls the queue, gathers up to `BatchSize`
messages (waiting up to `MaximumBatchingWindowInSeconds` for a full batch), invokes the function
synchronously and deletes what succeeded. A failed batch, or the items a partial batch response
names, stay in the queue and become visible again after the queue's visibility timeout, so the
queue's own redrive policy moves them to its dead-letter queue after `maxReceiveCount` receives.
Messages a filter does not match are deleted without invoking. A FIFO queue gets one poller, so
every message group is handled in order.
"""

from __future__ import annotations

import base64
import heapq
import json
import threading
import time
from typing import Any

from lambench.core.diagnostics import logger
from lambench.core.runtime import errors
from lambench.core.runtime.records import SourceStep
from lambench.core.sources.batch_response import failed_items
from lambench.core.sources.context import SourceContext, SourceCounters
from lambench.core.sources.model import SqsSource, arn_name
from lambench.core.sources.patterns import matches

#: Concurrent batches for a standard queue without MaximumConcurrency: Lambda starts with five.
DEFAULT_POLLERS = 5
#: lambench runs at most this many pollers per mapping (Lambda scales to 1,000).
MAX_POLLERS = 32
#: How long one ReceiveMessage waits for a message, so a poller notices it should stop.
LONG_POLL_S = 1
DEFAULT_VISIBILITY_TIMEOUT_S = 30


class SqsMapping:
    """The pollers of one SQS event source mapping."""

    def __init__(self, source: SqsSource, context: SourceContext, counters: SourceCounters) -> None:
        self.source = source
        self._context = context
        self._counters = counters
        self._threads: list[threading.Thread] = []
        self._url: str | None = None
        self._visibility_s = DEFAULT_VISIBILITY_TIMEOUT_S
        self._fifo = source.queue_arn.endswith(".fifo")
        # Receipt handles of failed messages, made visible again after the (scaled) visibility timeout.
        self._releases: list[tuple[float, int, str]] = []
        self._release_lock = threading.Condition()
        self._sequence = 0
        # moto's ReceiveMessage is not safe against itself: two at once can hand out the same
        # message. The pollers take turns receiving (and run their batches side by side).
        self._receiving = threading.Lock()

    def start(self) -> None:
        """Start the pollers (and the thread that returns failed messages to the queue)."""
        count = 1 if self._fifo else min(MAX_POLLERS, self.source.maximum_concurrency or DEFAULT_POLLERS)
        for index in range(count):
            thread = threading.Thread(
                target=self._poll, name=f"lambench-sqs-{self.source.function}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self._context.scale != 1.0:
            releaser = threading.Thread(target=self._release_loop, name="lambench-sqs-release", daemon=True)
            releaser.start()
            self._threads.append(releaser)

    def join(self, timeout_s: float) -> None:
        """Wait for the pollers to stop (after the context's `stopping` is set)."""
        with self._release_lock:
            self._release_lock.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- polling --------------------------------------------------------------------------------

    def _poll(self) -> None:
        context = self._context
        sqs: Any = None
        while not context.stopping.is_set():
            try:
                if sqs is None:
                    sqs = context.clients("sqs")  # one client per poller, made once
                if self._url is None:
                    self._url = self._queue_url(sqs)
                batch = self._gather(sqs, self._url)
                self._counters.reached()
            except Exception as exc:  # the account is gone or the queue does not exist: wait, retry
                self._url = None
                sqs = None
                if self._counters.failed_to_reach(exc):
                    return
                continue
            if batch:
                try:
                    self._handle(sqs, self._url, batch)
                except Exception:
                    # The messages stay in the queue and return after their visibility timeout.
                    logger(__name__).exception("SQS batch for %s failed", self.source.function)

    def _queue_url(self, sqs: Any) -> str:
        account = self.source.queue_arn.split(":")[4]
        url: str = sqs.get_queue_url(
            QueueName=arn_name(self.source.queue_arn), QueueOwnerAWSAccountId=account
        )["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        self._visibility_s = int(
            attributes.get("Attributes", {}).get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_S)
        )
        return url

    def _gather(self, sqs: Any, url: str) -> list[dict[str, Any]]:
        """Up to BatchSize messages: one long poll, then more until the batching window closes."""
        source, context = self.source, self._context
        batch = self._receive(sqs, url, source.batch_size, LONG_POLL_S)
        if not batch or not source.batching_window_s:
            return batch
        deadline = time.monotonic() + source.batching_window_s * context.scale
        while len(batch) < source.batch_size and not context.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            messages = self._receive(
                sqs, url, source.batch_size - len(batch), int(min(remaining, LONG_POLL_S))
            )
            batch += messages
            if not messages:
                # A wait below a second cannot be a long poll: look again shortly.
                context.stopping.wait(min(remaining, 0.05))
        return batch

    def _receive(self, sqs: Any, url: str, wanted: int, wait_s: int) -> list[dict[str, Any]]:
        with self._receiving:
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, wanted),
                WaitTimeSeconds=wait_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _handle(self, sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
        source, counters = self.source, self._counters
        received_at = time.monotonic()
        counters.add(polled=len(messages))
        records = [self._record(message) for message in messages]
        if source.filters:
            kept = [r for r in records if any(matches(f, _filterable(r)) for f in source.filters)]
            dropped = [r for r in records if r not in kept]
            if dropped:
                # Lambda deletes the messages of an SQS mapping that no filter matches.
                self._delete(sqs, url, dropped)
                counters.add(filtered=len(dropped))
            records = kept
            if not records:
                return
        count = len(records)
        counters.add(in_flight=count)
        try:
            payload = json.dumps({"Records": records}).encode()
            try:
                result = self._context.invoke(source.function, payload, "RequestResponse")
            except errors.LambdaServiceError as exc:
                counters.add(failed=count)
                step = SourceStep.THROTTLED if exc.status_code == 429 else SourceStep.FAILED
                counters.announce(step, count=count, failed=count, message=exc.error_code)
                self._release_later(records, received_at)
                return
        finally:
            counters.add(in_flight=-count)
        if result.function_error is not None:
            failed: list[str] | None = None
        elif source.report_failures:
            failed = failed_items(result.payload, {r["messageId"] for r in records})
        else:
            failed = []
        if failed is None:
            counters.add(failed=count)
            error = result.function_error and result.figures.error_type
            detail = error or "the partial batch response is not valid"
            counters.announce(
                SourceStep.FAILED, request_id=result.request_id, count=count, failed=count, message=detail
            )
            self._release_later(records, received_at)
            return
        succeeded = [r for r in records if r["messageId"] not in failed]
        returned = [r for r in records if r["messageId"] in failed]
        self._delete(sqs, url, succeeded)
        counters.add(delivered=len(succeeded), failed=len(returned))
        if returned:
            counters.announce(
                SourceStep.PARTIAL_FAILURE, request_id=result.request_id, count=count, failed=len(returned)
            )
            self._release_later(returned, received_at)
        else:
            counters.announce(SourceStep.SUCCEEDED, request_id=result.request_id, count=count)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The event record of one message (lambda-facts §8.2)."""
        attributes = message.get("Attributes", {})
        wanted = ["ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"]
        if self._fifo:
            wanted += ["SequenceNumber", "MessageGroupId", "MessageDeduplicationId"]
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": {key: str(attributes[key]) for key in wanted if key in attributes},
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.source.queue_arn,
            "awsRegion": self._context.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _delete(self, sqs: Any, url: str, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": r["receiptHandle"]} for index, r in enumerate(chunk)
                ],
            )

    # -- returning failed messages --------------------------------------------------------------

    def _release_later(self, records: list[dict[str, Any]], received_at: float) -> None:
        """Failed messages come back after the visibility timeout; with a time scale, sooner."""
        if self._context.scale == 1.0:
            return  # the queue's own visibility timeout does it
        due = received_at + self._visibility_s * self._context.scale
        with self._release_lock:
            for record in records:
                self._sequence += 1
                heapq.heappush(self._releases, (due, self._sequence, record["receiptHandle"]))
            self._release_lock.notify_all()

    def _release_loop(self) -> None:
        stopping = self._context.stopping
        while not stopping.is_set():
            with self._release_lock:
                while not stopping.is_set() and (
                    not self._releases or self._releases[0][0] > time.monotonic()
                ):
                    timeout = self._releases[0][0] - time.monotonic() if self._releases else None
                    self._release_lock.wait(timeout if timeout is None else max(0.0, timeout))
                due: list[str] = []
                while self._releases and self._releases[0][0] <= time.monotonic() and len(due) < 10:
                    due.append(heapq.heappop(self._releases)[2])
            if due and self._url is not None:
                try:
                    self._context.clients("sqs").change_message_visibility_batch(
                        QueueUrl=self._url,
                        Entries=[
                            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                            for index, handle in enumerate(due)
                        ],
                    )
                except Exception as exc:  # they come back after the queue's own timeout instead
                    logger(__name__).debug("could not return messages early: %s", exc)


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    # Filters see the body as JSON when it is a JSON object (lambda-facts §8.1 FilterCriteria).
    view = dict(record)
    try:
        body = json.loads(record["body"])
    except ValueError:
        body = record["body"]
    view["body"] = body
    return view
