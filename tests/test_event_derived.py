"""Derived values stay consistent with what they derive from, in every template that has them."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest

from lambench.core.events import Catalog, EventTemplate

CATALOG = Catalog.builtin()


def _rendered(template: EventTemplate) -> Any:
    # Batches of three show per-record derivations (ids, sequence numbers) as well as single ones.
    names = {param.name for param in template.params}
    return template.render({"records": 3} if "records" in names else {})


RENDERED = {template.key: _rendered(template) for template in CATALOG.templates()}


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _objects(item)


def _with(*keys: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (key, obj)
        for key, event in RENDERED.items()
        for obj in _objects(event)
        if all(k in obj for k in keys)
    ]


def test_md5_of_body_matches_the_body_everywhere() -> None:
    records = _with("md5OfBody", "body")
    assert len(records) >= 5
    for key, record in records:
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest(), key


def test_md5_of_message_attributes_matches_moto_everywhere() -> None:
    from moto.sqs.models import Message

    records = [
        (key, record)
        for key, record in _with("md5OfBody", "messageAttributes")
        if record["messageAttributes"]
    ]
    records += [
        (key, record)
        for key, record in _with("md5OfMessageAttributes")
        if record not in (r for _, r in records)
    ]
    for key, record in records:
        message = Message("id", record["body"])
        message.message_attributes = {
            name: {
                "DataType": value["dataType"],
                **({"StringValue": value["stringValue"]} if value.get("stringValue") is not None else {}),
                **(
                    {"BinaryValue": base64.b64decode(value["binaryValue"])}
                    if value.get("binaryValue")
                    else {}
                ),
            }
            for name, value in record["messageAttributes"].items()
        }
        assert record.get("md5OfMessageAttributes") == message.attribute_md5, key


def test_base64_bodies_decode() -> None:
    flagged = _with("isBase64Encoded", "body")
    assert flagged
    for key, obj in flagged:
        if obj["isBase64Encoded"] and obj["body"] is not None:
            base64.b64decode(obj["body"], validate=True)  # raises if it is not base64
            assert obj["body"] != "", key


def test_s3_keys_are_url_encoded_and_sizes_follow_the_parameter() -> None:
    template = CATALOG.get("s3/object-created")
    event = template.render({"key": "in box/a+b=c.txt", "size": "77"})
    obj = event["Records"][0]["s3"]["object"]
    assert obj["key"] == "in+box/a%2Bb%3Dc.txt" and unquote_plus(obj["key"]) == "in box/a+b=c.txt"
    assert obj["size"] == 77
    for key, record in _with("s3"):
        s3_object = record["s3"].get("object") if isinstance(record["s3"], dict) else None
        if isinstance(s3_object, dict) and "key" in s3_object:
            decoded = unquote_plus(s3_object["key"])
            assert quote_plus(decoded, safe="/") == s3_object["key"], key


def _sequence_numbers(event: Any) -> list[int]:
    numbers = []
    for obj in _objects(event):
        for holder, field in (("kinesis", "sequenceNumber"), ("dynamodb", "SequenceNumber")):
            if isinstance(obj.get(holder), dict) and field in obj[holder]:
                numbers.append(int(obj[holder][field]))
        if isinstance(obj.get("attributes"), dict) and "SequenceNumber" in obj["attributes"]:
            numbers.append(int(obj["attributes"]["SequenceNumber"]))
    return numbers


@pytest.mark.parametrize(
    "key",
    [key for key, event in RENDERED.items() if len(_sequence_numbers(event)) > 1],
)
def test_sequence_numbers_increase_within_a_batch(key: str) -> None:
    numbers = _sequence_numbers(RENDERED[key])
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers


def test_some_templates_have_increasing_sequence_numbers() -> None:
    keys = {key for key, event in RENDERED.items() if len(_sequence_numbers(event)) > 1}
    assert {"sqs/receive-message-fifo"} <= keys


def test_cloudwatch_logs_payload_decodes_back_to_the_messages() -> None:
    messages = ["one", "two ü", '{"json": true}']
    event = CATALOG.get("cloudwatch/logs-subscription").render({"messages": messages, "log_group": "/g"})
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert [entry["message"] for entry in payload["logEvents"]] == messages
    assert payload["logGroup"] == "/g" and payload["messageType"] == "DATA_MESSAGE"
    ids = [int(entry["id"]) for entry in payload["logEvents"]]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_batch_size_parameter_sets_the_number_of_records() -> None:
    for template in CATALOG.templates():
        if not any(param.name == "records" for param in template.params):
            continue
        five = json.dumps(template.render({"records": 5}))
        one = json.dumps(template.render({"records": 1}))
        assert len(five) > len(one), template.key


def test_sns_envelope_in_sqs_parses_and_carries_the_message() -> None:
    from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

    event = CATALOG.get("sqs/sns-notification").render({"message": 'say "hi"\nü', "subject": "S"})
    record = event["Records"][0]
    envelope = SnsNotificationModel.model_validate_json(record["body"])
    assert envelope.Message == 'say "hi"\nü' and envelope.Subject == "S"
