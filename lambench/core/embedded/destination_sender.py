"""Delivering an asynchronous invocation's destination record or dead-letter message to the account.

The engine builds the message (`core/runtime/destinations.py`); this sends it with the account's
own boto3 clients: `SendMessage` to a queue, `Publish` to a topic, `PutEvents` to a bus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambench.core.runtime.async_config import resource_name
from lambench.core.runtime.destinations import Delivery


def send(client: Callable[[str], Any], delivery: Delivery) -> None:
    """Deliver `delivery` through `client(service_name)`; raises what boto3 raises."""
    if delivery.kind == "sqs":
        account = delivery.arn.split(":")[4]
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=resource_name(delivery.arn), QueueOwnerAWSAccountId=account)[
            "QueueUrl"
        ]
        request: dict[str, Any] = {"QueueUrl": url, "MessageBody": delivery.body}
        if delivery.attributes:
            request["MessageAttributes"] = _attributes(delivery)
        sqs.send_message(**request)
    elif delivery.kind == "sns":
        request = {"TopicArn": delivery.arn, "Message": delivery.body}
        if delivery.attributes:
            request["MessageAttributes"] = _attributes(delivery)
        client("sns").publish(**request)
    elif delivery.kind == "events":
        entry = {
            "Source": "lambda",
            "DetailType": delivery.detail_type or "",
            "Detail": delivery.body,
            "EventBusName": delivery.arn,
            "Resources": list(delivery.resources),
        }
        answer = client("events").put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused the entry: {answer['Entries'][0].get('ErrorMessage')}")
    else:
        raise ValueError(f"{delivery.arn} is not a queue, topic or event bus")


def _attributes(delivery: Delivery) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": kind, "StringValue": value} for name, (kind, value) in delivery.attributes.items()
    }
