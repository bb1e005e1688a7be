"""Destinations and dead-letter queues in the embedded account, read from a SAM template.

A real moto server over HTTP; the messages are read back with a user's boto3 client, as a
developer checking their on-failure queue would.
"""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambench.core.backends.build import build_local_backend
from lambench.core.backends.local import LocalBackend
from lambench.core.runtime.async_config import AsyncConfig
from lambench.core.template import TemplateError, load_project
from tests.helpers import account_client, wait_for

ACCOUNT = "123456789012"
BUS_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Handler: app.handler
      Runtime: python3.12
      CodeUri: worker/
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        MaximumEventAgeInSeconds: 3600
        DestinationConfig:
          OnSuccess:
            Type: SQS
            Destination: !GetAtt SuccessQueue.Arn
          OnFailure:
            Type: SNS
            Destination: !Ref FailureTopic
      DeadLetterQueue:
        Type: SQS
        TargetArn: !GetAtt DeadLetters.Arn
  SuccessQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: success-queue
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: dead-letters
  TopicQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: topic-queue
  BusQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: bus-queue
  FailureTopic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: failures
"""

HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("x" * 1500)
    return {"ok": event.get("n")}
"""


def write_project(root: Path, template: str = TEMPLATE) -> Path:
    (root / "worker").mkdir(parents=True)
    (root / "worker" / "app.py").write_text(HANDLER)
    (root / "template.yaml").write_text(textwrap.dedent(template))
    return root


user_client = account_client


def receive(backend: LocalBackend, queue: str, timeout: float = 15) -> dict[str, Any]:
    """The next message on `queue` (waits for it), with its attributes."""
    sqs = user_client(backend, "sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        answer = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=0)
        found.extend(answer.get("Messages", []))
        return bool(found)

    assert wait_for(arrived, timeout=timeout, interval=0.1), f"nothing arrived on {queue}"
    return found[0]


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalBackend]:
    monkeypatch.setenv("LAMBENCH_TIME_SCALE", "0.01")
    project = load_project(write_project(tmp_path / "project"))
    built = build_local_backend(project, share=False)
    built.account.start()
    assert built.account.problems == []
    yield built
    built.close()


def test_the_template_settings_reach_the_engine(backend: LocalBackend) -> None:
    settings = backend.service.get_event_invoke_config("worker")
    assert settings == AsyncConfig(
        maximum_retry_attempts=0,
        maximum_event_age_s=3600,
        on_success=f"arn:aws:sqs:us-east-1:{ACCOUNT}:success-queue",
        on_failure=f"arn:aws:sns:us-east-1:{ACCOUNT}:failures",
        dead_letter_arn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:dead-letters",
    )


def test_a_success_record_lands_on_the_sqs_destination(backend: LocalBackend) -> None:
    result = backend.service.invoke("worker", json.dumps({"n": 7}), invocation_type="Event")
    record = json.loads(receive(backend, "success-queue")["Body"])
    assert record["requestContext"] == {
        "requestId": result.request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"n": 7}
    assert record["responsePayload"] == {"ok": 7}


def test_a_failure_goes_to_the_sns_destination_and_the_dead_letter_queue(backend: LocalBackend) -> None:
    sns = user_client(backend, "sns")
    topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:failures"
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:topic-queue"
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    event = json.dumps({"fail": True, "n": 1})
    result = backend.service.invoke("worker", event, invocation_type="Event")
    record = json.loads(receive(backend, "topic-queue")["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"
    dead = receive(backend, "dead-letters")
    assert dead["Body"] == event  # the original event, unchanged
    attributes = {
        name: (value["DataType"], value["StringValue"]) for name, value in dead["MessageAttributes"].items()
    }
    assert attributes == {
        "RequestID": ("String", result.request_id),
        "ErrorCode": ("Number", "200"),
        "ErrorMessage": ("String", "x" * 1024),  # the first kilobyte of the error message
    }


def test_an_eventbridge_destination_sends_aws_detail_type_and_resources(backend: LocalBackend) -> None:
    events = user_client(backend, "events")
    events.put_rule(Name="results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(
        Rule="results", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:bus-queue"}]
    )
    backend.service.put_event_invoke_config("worker", AsyncConfig(on_success=BUS_ARN))
    result = backend.service.invoke("worker", json.dumps({"n": 3}), invocation_type="Event")
    delivered = json.loads(receive(backend, "bus-queue")["Body"])
    assert delivered["source"] == "lambda"
    assert delivered["detail-type"] == "Lambda Function Invocation Result - Success"
    assert delivered["resources"] == [BUS_ARN, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker:$LATEST"]
    assert delivered["detail"]["requestContext"]["requestId"] == result.request_id
    assert delivered["detail"]["responsePayload"] == {"ok": 3}


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        (
            "MaximumRetryAttempts: 0",
            "MaximumRetryAttempts: 5",
            "template.yaml:13: Resources.Worker.Properties.EventInvokeConfig.MaximumRetryAttempts: "
            "Member must have value less than or equal to 2",
        ),
        (
            "            Type: SNS\n",
            "            Type: S3Bucket\n",
            "template.yaml:20: Resources.Worker.Properties.EventInvokeConfig.DestinationConfig.OnFailure."
            "Type: 'S3Bucket' is not a destination type (lambench has no S3 destinations); "
            "use SQS, SNS, Lambda, EventBridge",
        ),
        (
            "            Destination: !GetAtt SuccessQueue.Arn\n",
            "",
            "template.yaml:16: Resources.Worker.Properties.EventInvokeConfig.DestinationConfig.OnSuccess."
            "Destination: missing; give the ARN (lambench does not create the resource for you)",
        ),
        (
            "        Type: SQS\n        TargetArn",
            "        Type: Lambda\n        TargetArn",
            "template.yaml:23: Resources.Worker.Properties.DeadLetterQueue.Type: 'Lambda' is not a "
            "destination type; use SQS, SNS",
        ),
        (
            "Destination: !Ref FailureTopic",
            "Destination: !GetAtt SuccessQueue.Arn",
            "template.yaml:21: Resources.Worker.Properties.EventInvokeConfig.DestinationConfig.OnFailure."
            "Destination: 'arn:aws:sqs:us-east-1:123456789012:success-queue' is not the ARN of an SNS topic",
        ),
    ],
)
def test_bad_async_settings_are_located_template_errors(
    tmp_path: Path, replace: str, by: str, message: str
) -> None:
    assert replace in TEMPLATE
    root = write_project(tmp_path, TEMPLATE.replace(replace, by))
    with pytest.raises(TemplateError) as caught:
        load_project(root)
    assert str(caught.value) == message


def test_the_event_invoke_config_api_reaches_the_engine(backend: LocalBackend) -> None:
    client = user_client(backend, "lambda")
    template = client.get_function_event_invoke_config(FunctionName="worker")
    assert template["MaximumRetryAttempts"] == 0
    assert template["DestinationConfig"]["OnSuccess"]["Destination"].endswith(":success-queue")
    put = client.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=1)
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"], put["DestinationConfig"]) == (
        1,
        21600,
        {},
    )
    # Put replaces everything but the function's own dead-letter queue.
    settings = backend.service.get_event_invoke_config("worker")
    assert (settings.maximum_retry_attempts, settings.on_success) == (1, None)
    assert settings.dead_letter_arn == f"arn:aws:sqs:us-east-1:{ACCOUNT}:dead-letters"
    client.update_function_event_invoke_config(
        FunctionName="worker", DestinationConfig={"OnFailure": {"Destination": BUS_ARN}}
    )
    merged = backend.service.get_event_invoke_config("worker")
    assert (merged.maximum_retry_attempts, merged.on_failure) == (1, BUS_ARN)
    # boto3 checks the bounds itself; a raw request (another SDK, curl) meets the engine's check.
    request = urllib.request.Request(
        backend.account.endpoint + "/2019-09-25/functions/worker/event-invoke-config",
        data=json.dumps({"MaximumEventAgeInSeconds": 30}).encode(),
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["Message"] == (
        "1 validation error detected: Value '30' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 60"
    )
    client.delete_function_event_invoke_config(FunctionName="worker")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="worker")
    assert backend.service.get_event_invoke_config("worker").dead_letter_arn is not None
