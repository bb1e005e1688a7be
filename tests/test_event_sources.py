"""Event sources from a SAM template, run against the real embedded account over HTTP.

Every trigger is exercised the way a developer would: boto3 against the account sends the
message, puts the object or the item, publishes, puts the event; the handler (a real child
process) writes what it received to a file the test reads back. Waits are scaled with
LAMBENCH_TIME_SCALE=0.01, so a 30-second visibility timeout is 0.3 s.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambench.core.backends.build import build_local_backend
from lambench.core.backends.local import LocalBackend
from lambench.core.runtime.records import SourceRecord, SourceStep
from lambench.core.sources.runner import EventSources
from lambench.core.template import load_project
from tests.helpers import account_client, wait_for

ACCOUNT = "123456789012"

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: recorder/
    Handler: app.handler
    Timeout: 5
    Environment:
      Variables:
        OUT_DIR: {out}
Resources:
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: consumer
      Environment:
        Variables:
          MODE: sqs-partial
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt JobsQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  Uploads:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: uploads
      Events:
        Put:
          Type: S3
          Properties:
            Bucket: !Ref Bucket
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: incoming/
  Alerts:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: alerts
      Events:
        Topic:
          Type: SNS
          Properties:
            Topic: !Ref AlertsTopic
            FilterPolicy:
              severity: [high]
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: orders
      Events:
        Placed:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [shop]
              detail:
                total: [{{numeric: [">", 100]}}]
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: ticker
      Events:
        Every:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
  Changes:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: changes
      Environment:
        Variables:
          MODE: fail-bad
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 1
            DestinationConfig:
              OnFailure:
                Destination: !GetAtt StreamFailures.Arn
  Clicks:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: clicks
      Environment:
        Variables:
          MODE: fail-bad
      Events:
        Stream:
          Type: Kinesis
          Properties:
            Stream: !GetAtt ClickStream.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 5
  Idle:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: idle
      Events:
        Paused:
          Type: SQS
          Properties:
            Queue: !GetAtt IdleQueue.Arn
            Enabled: false
  JobsQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDeadLetters.Arn
        maxReceiveCount: 2
  JobsDeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs-dlq
  IdleQueue:
    Type: AWS::SQS::Queue
  StreamFailures:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: stream-failures
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: uploads
  AlertsTopic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: alerts
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: things
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  ClickStream:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: clicks
      ShardCount: 1
"""

RECORDER = """
import base64
import json
import os


def handler(event, context):
    with open(os.path.join(os.environ["OUT_DIR"], context.function_name + ".jsonl"), "a") as out:
        out.write(json.dumps(event) + "\\n")
    mode = os.environ.get("MODE")
    if mode == "sqs-partial":
        failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("fail")]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
    data = [base64.b64decode(r["kinesis"]["data"]) for r in event.get("Records", []) if "kinesis" in r]
    if mode == "fail-bad" and ("bad" in json.dumps(event) or b"bad" in data):
        raise RuntimeError("a bad record")
    return {}
"""


def write_project(root: Path, out: Path) -> Path:
    (root / "recorder").mkdir(parents=True)
    (root / "recorder" / "app.py").write_text(textwrap.dedent(RECORDER))
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE.format(out=out)))
    return root


def received(out: Path, function: str) -> list[Any]:
    """The events `function` was invoked with, in order."""
    path = out / f"{function}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Running:
    """A backend with its event sources running, and the source records it published."""

    def __init__(self, backend: LocalBackend, sources: EventSources, out: Path) -> None:
        self.backend = backend
        self.sources = sources
        self.out = out
        self.records: list[SourceRecord] = []
        self._lock = threading.Lock()
        backend.service.subscribe(self._on_record)

    def _on_record(self, record: object) -> None:
        if isinstance(record, SourceRecord):
            with self._lock:
                self.records.append(record)

    def client(self, service: str) -> Any:
        return account_client(self.backend, service)

    def steps(self, function: str) -> list[SourceStep]:
        with self._lock:
            return [r.kind for r in self.records if r.function == function]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("sources")
    out = root / "out"
    out.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMBENCH_TIME_SCALE", "0.01")
        project = load_project(write_project(root / "project", out))
        backend = build_local_backend(project, share=False)
        try:
            backend.account.start()
            assert backend.account.problems == []
            sources = backend.start_event_sources(project.sources)
            assert sources is not None
            yield Running(backend, sources, out)
        finally:
            backend.close()


def test_sqs_partial_failure_redelivers_only_the_failed_message_then_redrives_it(running: Running) -> None:
    sqs = running.client("sqs")
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(n), "MessageBody": json.dumps({"n": n, "fail": n == 2})} for n in range(4)],
    )

    def bodies() -> list[int]:
        return [json.loads(r["body"])["n"] for e in received(running.out, "consumer") for r in e["Records"]]

    # The failing message comes back once (receive 2 = maxReceiveCount), then goes to the DLQ.
    dlq = sqs.get_queue_url(QueueName="jobs-dlq")["QueueUrl"]
    dead: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        dead.extend(sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", []))
        return bool(dead)

    assert wait_for(dead_lettered, timeout=20, interval=0.1), bodies()
    assert sorted(bodies()) == [0, 1, 2, 2, 3]
    assert json.loads(dead[0]["Body"]) == {"n": 2, "fail": True}
    first = received(running.out, "consumer")[0]["Records"][0]
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    assert first["awsRegion"] == "us-east-1"
    assert set(first["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId"}
    assert SourceStep.PARTIAL_FAILURE in running.steps("consumer")
    status = running.sources.counters("consumer", "Jobs").status()
    assert status.delivered == 3 and status.failed == 2 and status.in_flight == 0


def test_an_s3_put_under_the_prefix_invokes_the_function_and_others_do_not(running: Running) -> None:
    s3 = running.client("s3")
    s3.put_object(Bucket="uploads", Key="other/skip.txt", Body=b"no")
    s3.put_object(Bucket="uploads", Key="incoming/a file.txt", Body=b"hello")
    assert wait_for(lambda: len(received(running.out, "uploads")) >= 1, timeout=15)
    record = received(running.out, "uploads")[0]["Records"][0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"] == {
        "name": "uploads",
        "ownerIdentity": {"principalId": "LAMBENCHOWNER"},
        "arn": "arn:aws:s3:::uploads",
    }
    assert record["s3"]["object"]["key"] == "incoming/a+file.txt"  # URL-encoded, as S3 sends it
    assert record["s3"]["object"]["size"] == 5
    assert len(received(running.out, "uploads")) == 1


def test_sns_honours_the_filter_policy(running: Running) -> None:
    sns = running.client("sns")
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    sns.publish(TopicArn=topic, Message="ignore me", MessageAttributes=_severity("low"))
    answer = sns.publish(
        TopicArn=topic, Message="page someone", Subject="Disk", MessageAttributes=_severity("high")
    )
    assert wait_for(lambda: len(received(running.out, "alerts")) >= 1, timeout=15)
    record = received(running.out, "alerts")[0]["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["MessageId"] == answer["MessageId"]
    assert record["Sns"]["Message"] == "page someone"
    assert record["Sns"]["Subject"] == "Disk"
    assert record["Sns"]["MessageAttributes"] == {"severity": {"Type": "String", "Value": "high"}}
    assert wait_for(lambda: running.sources.counters("alerts", "Topic").status().filtered == 1, timeout=5)
    assert len(received(running.out, "alerts")) == 1


def _severity(value: str) -> dict[str, Any]:
    return {"severity": {"DataType": "String", "StringValue": value}}


def test_an_eventbridge_rule_delivers_matching_events(running: Running) -> None:
    events = running.client("events")
    answer = events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"total": 50})},
            {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"total": 250})},
            {"Source": "elsewhere", "DetailType": "Order Placed", "Detail": json.dumps({"total": 900})},
        ]
    )
    assert wait_for(lambda: len(received(running.out, "orders")) >= 1, timeout=15)
    event = received(running.out, "orders")[0]
    assert event["id"] == answer["Entries"][1]["EventId"]
    assert event["detail"] == {"total": 250}
    assert event["detail-type"] == "Order Placed"
    assert event["account"] == ACCOUNT
    assert len(received(running.out, "orders")) == 1


def test_a_schedule_fires_at_the_scaled_rate(running: Running) -> None:
    # rate(1 minute) at LAMBENCH_TIME_SCALE=0.01: every 0.6 s.
    assert wait_for(lambda: len(received(running.out, "ticker")) >= 3, timeout=15)
    event = received(running.out, "ticker")[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ticker-Every"]


def test_a_dynamodb_stream_keeps_order_and_bisects_to_the_bad_record(running: Running) -> None:
    table = running.client("dynamodb")
    for n in range(6):
        item: dict[str, Any] = {"id": {"S": f"item-{n}"}}
        if n == 3:
            item["bad"] = {"BOOL": True}
        table.put_item(TableName="things", Item=item)
    sqs = running.client("sqs")
    url = sqs.get_queue_url(QueueName="stream-failures")["QueueUrl"]
    found: list[dict[str, Any]] = []

    def failure_arrived() -> bool:
        found.extend(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []))
        return bool(found)

    assert wait_for(failure_arrived, timeout=30, interval=0.1)
    record = json.loads(found[0]["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1  # bisected down to the one bad record
    assert info["streamArn"].startswith(f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/things/stream/")
    # Every good record was delivered, in order, each exactly once in a successful batch.
    assert wait_for(lambda: len(_delivered_ids(running.out)) == 5, timeout=10)
    assert _delivered_ids(running.out) == ["item-0", "item-1", "item-2", "item-4", "item-5"]


def _delivered_ids(out: Path) -> list[str]:
    ids = []
    for event in received(out, "changes"):
        keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
        if "bad" not in json.dumps(event):
            ids += keys
    return ids


def test_a_failing_kinesis_record_blocks_its_shard(running: Running) -> None:
    kinesis = running.client("kinesis")
    for n in range(8):
        data = b"bad" if n == 5 else f"click-{n}".encode()
        kinesis.put_record(StreamName="clicks", Data=data, PartitionKey="user-1")

    def batches() -> list[list[str]]:
        import base64

        return [
            [base64.b64decode(r["kinesis"]["data"]).decode() for r in e["Records"]]
            for e in received(running.out, "clicks")
        ]

    # The batch holding the bad record is retried forever (MaximumRetryAttempts defaults to -1),
    # so the records behind it, click-6 and click-7, never get past it.
    assert wait_for(lambda: sum("bad" in b for b in batches()) >= 3, timeout=30), batches()
    seen = [data for batch in batches() for data in batch]
    first_seen = list(dict.fromkeys(seen))
    in_order = [*(f"click-{n}" for n in range(5)), "bad", "click-6", "click-7"]
    # A retried batch is the same batch: records that arrived after it may not be in it.
    assert first_seen == in_order[: len(first_seen)] and "bad" in first_seen
    succeeded = [data for batch in batches() if "bad" not in batch for data in batch]
    assert "click-6" not in succeeded and "click-7" not in succeeded
    first = received(running.out, "clicks")[0]["Records"][0]
    assert first["eventSource"] == "aws:kinesis"
    assert first["eventID"].startswith("shardId-")
    assert first["kinesis"]["partitionKey"] == "user-1"


def test_a_disabled_mapping_does_not_poll(running: Running) -> None:
    sqs = running.client("sqs")
    url = sqs.get_queue_url(QueueName="IdleQueue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    status = running.sources.counters("idle", "Paused").status()
    assert status.state == "Disabled"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert received(running.out, "idle") == []


def test_pollers_back_off_while_the_account_is_away_and_resume_when_it_returns(tmp_path: Path) -> None:
    from lambench.core.embedded.provision import internal_client_factory
    from lambench.core.embedded.server import EmbeddedMoto
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.sources.model import SqsSource
    from tests.helpers import python_function

    function = python_function(tmp_path, "def handler(event, context):\n    return {}\n", name="drain")
    moto = EmbeddedMoto()
    moto.start()
    port = moto.port
    clients = internal_client_factory(moto.endpoint, "us-east-1")
    url = clients("sqs").create_queue(QueueName="outage-queue")["QueueUrl"]
    records: list[SourceRecord] = []
    service = LocalLambda([function])
    service.subscribe(lambda r: records.append(r) if isinstance(r, SourceRecord) else None)
    source = SqsSource(
        function="drain", name="Q", queue_arn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:outage-queue", batch_size=1
    )
    sources = EventSources(
        [source],
        invoke=lambda name, payload, kind: service.invoke(name, payload, invocation_type=kind),
        announce=service.announce,
        clients=clients,
        send=lambda delivery: None,
        region="us-east-1",
    )
    counters = sources.counters("drain", "Q")
    replacement: EmbeddedMoto | None = None
    try:
        sources.start()
        clients("sqs").send_message(QueueUrl=url, MessageBody="one")
        assert wait_for(lambda: counters.status().delivered == 1, timeout=20)
        moto.stop()
        assert wait_for(lambda: counters.status().state.startswith("Backing off"), timeout=20)
        assert SourceStep.BACKING_OFF in [r.kind for r in records]
        # moto keeps its state in the process: a server on the same port finds the queue again.
        replacement = EmbeddedMoto(port=port)
        replacement.start()
        clients("sqs").send_message(QueueUrl=url, MessageBody="two")
        assert wait_for(lambda: counters.status().delivered == 2, timeout=40), counters.status()
        assert counters.status().state == "Enabled"
        assert SourceStep.RECOVERED in [r.kind for r in records]
    finally:
        sources.close()
        service.close()
        moto.stop()
        if replacement is not None:
            replacement.stop()
