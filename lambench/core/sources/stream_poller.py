"""DynamoDB Streams and Kinesis event source mappings: one poller per shard, records in order.

As on Lambda (lambda-facts §8.3): a batch is retried until it succeeds, its records are older
than `MaximumRecordAgeInSeconds`, or `MaximumRetryAttempts` is used up, and meanwhile the shard
does not advance (a bad record blocks it, with the defaults for as long as the stream keeps it).
`BisectBatchOnFunctionError` splits a failing batch in two, without counting a retry. A partial
batch response checkpoints at the lowest failed sequence number. A batch given up on sends the
on-failure record (pointers to the records, not the records) to the `OnFailure` destination.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from lambench.core.cloud_resources import STREAM_LABEL
from lambench.core.runtime import errors
from lambench.core.runtime.async_config import destination_kind
from lambench.core.runtime.destinations import Delivery, timestamp
from lambench.core.runtime.identifiers import function_arn
from lambench.core.runtime.records import SourceStep
from lambench.core.sources.batch_response import failed_items
from lambench.core.sources.context import SourceContext, SourceCounters
from lambench.core.sources.model import DYNAMODB, StreamSource
from lambench.core.sources.patterns import matches

#: Lambda reads each shard about once a second.
POLL_INTERVAL_S = 1.0
#: Retries of a failing batch wait 1 s, doubling to a minute. AWS does not document its backoff for
#: stream retries; this is lambench's choice (unconfirmed).
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
#: The role a stream's records name as `invokeIdentityArn`.
INVOKE_IDENTITY_ARN = "arn:aws:iam::123456789012:role/lambench-local-function"


class StreamMapping:
    """The shard pollers of one stream event source mapping."""

    def __init__(self, source: StreamSource, context: SourceContext, counters: SourceCounters) -> None:
        self.source = source
        self._context = context
        self._counters = counters
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Find the shards (in a thread: the account may not be up yet) and poll each one."""
        thread = threading.Thread(
            target=self._discover, name=f"lambench-stream-{self.source.function}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _discover(self) -> None:
        context, counters = self._context, self._counters
        while not context.stopping.is_set():
            try:
                arn, shards = self._shards()
                counters.reached()
                break
            except Exception as exc:
                if counters.failed_to_reach(exc):
                    return
        else:
            return
        for shard in shards:
            poller = _ShardPoller(self.source, arn, shard, context, counters)
            thread = threading.Thread(target=poller.run, name=f"lambench-shard-{shard[-12:]}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _shards(self) -> tuple[str, list[str]]:
        source, clients = self.source, self._context.clients
        if source.kind == DYNAMODB:
            arn = source.stream_arn
            if arn.endswith("/stream/" + STREAM_LABEL):
                table = arn.split(":table/", 1)[1].split("/", 1)[0]
                description = clients("dynamodb").describe_table(TableName=table)["Table"]
                if "LatestStreamArn" not in description:
                    raise RuntimeError(f"table {table} has no stream; give it a StreamSpecification")
                arn = description["LatestStreamArn"]
            stream = clients("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]
            return arn, [shard["ShardId"] for shard in stream["Shards"]]
        name = source.stream_arn.rsplit("/", 1)[-1]
        shards = clients("kinesis").list_shards(StreamName=name)["Shards"]
        return source.stream_arn, [shard["ShardId"] for shard in shards]


class _ShardPoller:
    def __init__(
        self, source: StreamSource, arn: str, shard: str, context: SourceContext, counters: SourceCounters
    ) -> None:
        self.source = source
        self.arn = arn
        self.shard = shard
        self._context = context
        self._counters = counters
        self._kinesis = source.kind != DYNAMODB
        self._client: Any = None
        self._iterator: str | None = None
        self._pending: list[dict[str, Any]] = []
        # The last invocation's request id, for the on-failure record of a batch given up on.
        self._last_request_id: str | None = None

    def run(self) -> None:
        context, counters = self._context, self._counters
        interval = max(0.02, POLL_INTERVAL_S * context.scale)
        while not context.stopping.is_set():
            try:
                read = self._read()
                counters.reached()
            except Exception as exc:
                self._client = None
                if counters.failed_to_reach(exc):
                    return
                continue
            if not self._pending:
                if context.stopping.wait(interval):
                    return
                continue
            if not read and len(self._pending) < self.source.batch_size and self.source.batching_window_s:
                context.wait(min(self.source.batching_window_s, POLL_INTERVAL_S))
                try:
                    self._read()
                except Exception:
                    # The records read so far go now; the next round's read backs off and says so.
                    self._client = None
            batch = self._pending[: self.source.batch_size]
            self._process(batch, attempts=0)
            # Whatever happened (success, given up), the shard moves past this batch.
            self._pending = self._pending[len(batch) :]

    def _read(self) -> int:
        if self._client is None:
            self._client = self._context.clients("kinesis" if self._kinesis else "dynamodbstreams")
            self._iterator = None
        if self._iterator is None:
            self._iterator = self._first_iterator()
        if self._iterator is None:
            return 0
        response = self._client.get_records(
            ShardIterator=self._iterator, Limit=min(10000, self.source.batch_size)
        )
        self._iterator = response.get("NextShardIterator")
        records = [self._record(raw) for raw in response.get("Records", [])]
        if self.source.filters:
            kept = [r for r in records if any(matches(f, _filterable(r)) for f in self.source.filters)]
            self._counters.add(filtered=len(records) - len(kept))
            records = kept
        self._counters.add(polled=len(records))
        self._pending += records
        return len(records)

    def _first_iterator(self) -> str | None:
        source = self.source
        options: dict[str, Any] = {"ShardId": self.shard, "ShardIteratorType": source.starting_position}
        if self._kinesis:
            options["StreamName"] = self.arn.rsplit("/", 1)[-1]
            if source.starting_timestamp is not None:
                options["Timestamp"] = source.starting_timestamp
        else:
            options["StreamArn"] = self.arn
        iterator: str | None = self._client.get_shard_iterator(**options).get("ShardIterator")
        return iterator

    def _record(self, raw: dict[str, Any]) -> dict[str, Any]:
        region = self._context.region
        if not self._kinesis:
            record: dict[str, Any] = _json_ready(raw)
            record.setdefault("eventSourceARN", self.arn)
            record.setdefault("awsRegion", region)
            return record
        arrival = raw.get("ApproximateArrivalTimestamp")
        sequence = raw["SequenceNumber"]
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw.get("PartitionKey", ""),
                "sequenceNumber": sequence,
                "data": base64.b64encode(raw.get("Data", b"")).decode(),
                "approximateArrivalTimestamp": arrival.timestamp()
                if isinstance(arrival, datetime)
                else time.time(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.shard}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": INVOKE_IDENTITY_ARN,
            "awsRegion": region,
            "eventSourceARN": self.arn,
        }

    # -- one batch, with retries, bisection and partial failures --------------------------------

    def _process(self, batch: list[dict[str, Any]], attempts: int) -> None:
        """Run `batch` until it succeeds or is given up on; `attempts` failed invocations so far."""
        source, counters, context = self.source, self._counters, self._context
        while batch and not context.stopping.is_set():
            expired = self._expired(batch)
            if expired:
                counters.add(failed=len(expired))
                self._give_up(expired, "RecordAgeExceeded", attempts, None)
                batch = [r for r in batch if r not in expired]
                continue
            failed = self._invoke(batch)
            if failed == []:
                return
            attempts += 1
            if failed is None and source.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                self._process(batch[:half], attempts - 1)
                self._process(batch[half:], attempts - 1)
                return
            if failed is not None:
                # Checkpoint at the lowest failed sequence number; retry from there on.
                sequences = [_sequence(r) for r in batch]
                lowest = min(sequences.index(item) for item in failed)
                batch = batch[lowest:]
            if 0 <= source.maximum_retry_attempts < attempts:
                counters.add(failed=len(batch))
                self._give_up(batch, "RetryAttemptsExhausted", attempts, self._last_request_id)
                return
            if context.wait(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (attempts - 1))):
                return

    def _invoke(self, batch: list[dict[str, Any]]) -> list[str] | None:
        """Invoke with `batch`: [] when it succeeded, the failed sequence numbers, or None (all failed)."""
        source, counters = self.source, self._counters
        count = len(batch)
        counters.add(in_flight=count)
        try:
            payload = json.dumps({"Records": batch}).encode()
            result = self._context.invoke(source.function, payload, "RequestResponse")
        except errors.LambdaServiceError as exc:
            step = SourceStep.THROTTLED if exc.status_code == 429 else SourceStep.FAILED
            counters.announce(step, count=count, failed=count, message=exc.error_code)
            return None
        finally:
            counters.add(in_flight=-count)
        self._last_request_id = result.request_id
        failed: list[str] | None
        if result.function_error is not None:
            failed = None
        elif source.report_failures:
            failed = failed_items(result.payload, {_sequence(r) for r in batch})
        else:
            failed = []
        if failed == []:
            counters.add(delivered=count)
            counters.announce(SourceStep.SUCCEEDED, request_id=result.request_id, count=count)
        elif failed is None:
            counters.announce(
                SourceStep.FAILED,
                request_id=result.request_id,
                count=count,
                failed=count,
                message=result.function_error,
            )
        else:
            lowest = min(_sequence_number(item) for item in failed)
            done = sum(1 for r in batch if _sequence_number(_sequence(r)) < lowest)
            counters.add(delivered=done)
            counters.announce(
                SourceStep.PARTIAL_FAILURE, request_id=result.request_id, count=count, failed=len(failed)
            )
        return failed

    def _expired(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = self.source.maximum_record_age_s
        if limit < 0:
            return []
        now = time.time()
        return [r for r in batch if (now - _arrival(r)) / self._context.scale > limit]

    def _give_up(
        self, batch: list[dict[str, Any]], condition: str, attempts: int, request_id: str | None
    ) -> None:
        """Skip `batch`: tell the bus, and send the on-failure record when there is a destination."""
        source, counters = self.source, self._counters
        destination = source.on_failure
        message = f"{condition}; on-failure record sent to {destination}" if destination else condition
        if destination:
            info_key = "KinesisBatchInfo" if self._kinesis else "DDBStreamBatchInfo"
            body = {
                "requestContext": {
                    "requestId": request_id or str(uuid.uuid4()),
                    "functionArn": function_arn(self._context.region, source.function),
                    "condition": condition,
                    "approximateInvokeCount": attempts,
                },
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "version": "1.0",
                "timestamp": timestamp(time.time()),
                info_key: {
                    "shardId": self.shard,
                    "startSequenceNumber": _sequence(batch[0]),
                    "endSequenceNumber": _sequence(batch[-1]),
                    "approximateArrivalOfFirstRecord": timestamp(_arrival(batch[0])),
                    "approximateArrivalOfLastRecord": timestamp(_arrival(batch[-1])),
                    "batchSize": len(batch),
                    "streamArn": self.arn,
                },
            }
            try:
                delivery = Delivery(
                    arn=destination, kind=destination_kind(destination), body=json.dumps(body)
                )
                self._context.send(delivery)
            except Exception as exc:
                message = f"{condition}; could not send the on-failure record to {destination}: {exc}"
        counters.announce(
            SourceStep.DISCARDED, request_id=request_id, count=len(batch), failed=len(batch), message=message
        )


def _sequence(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record.get("dynamodb", {}).get("SequenceNumber", ""))


def _sequence_number(sequence: str) -> int:
    return int(sequence) if sequence.isdigit() else 0


def _arrival(record: dict[str, Any]) -> float:
    if "kinesis" in record:
        return float(record["kinesis"]["approximateArrivalTimestamp"])
    return float(record.get("dynamodb", {}).get("ApproximateCreationDateTime", time.time()))


def _json_ready(value: Any) -> Any:
    """boto3's decoded record back into the event's JSON: datetimes as epoch seconds, bytes as base64."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set | frozenset):
        return sorted(_json_ready(item) for item in value)
    return value


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    if "kinesis" not in record:
        return record
    # Kinesis filters see `data` decoded when it is JSON.
    view: dict[str, Any] = json.loads(json.dumps(record))
    with contextlib.suppress(ValueError):
        view["kinesis"]["data"] = json.loads(base64.b64decode(record["kinesis"]["data"]))
    return view
