"""The rules event sources follow, without an account: patterns, schedules, batch responses,
and how a template's `Events:` are read (located errors, warnings for what is ignored)."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lambench.core.sources.batch_response import failed_items
from lambench.core.sources.model import ScheduleSource, SqsSource, StreamSource
from lambench.core.sources.patterns import PatternError, check_pattern, matches, sns_attributes
from lambench.core.sources.schedule import ScheduleError, parse_schedule
from lambench.core.sources.scheduler import event_payload
from lambench.core.template import TemplateError, load_project

# -- patterns -----------------------------------------------------------------------------------

ORDER = {"source": "shop", "detail": {"total": 120, "items": ["book", "pen"], "state": "NEW", "ip": "a"}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["shop"]}, True),
        ({"source": ["other", "shop"]}, True),
        ({"source": ["Shop"]}, False),
        ({"source": [{"equals-ignore-case": "SHOP"}]}, True),
        ({"detail": {"total": [120]}}, True),
        ({"detail": {"total": ["120"]}}, False),  # JSON types are kept apart
        ({"detail": {"total": [{"numeric": [">", 100, "<=", 120]}]}}, True),
        ({"detail": {"total": [{"numeric": ["<", 100]}]}}, False),
        ({"detail": {"items": ["pen"]}}, True),  # any element of a list
        ({"detail": {"state": [{"prefix": "NE"}]}}, True),
        ({"detail": {"state": [{"suffix": "EW"}]}}, True),
        ({"detail": {"state": [{"anything-but": ["NEW", "OLD"]}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "X"}}]}}, True),
        ({"detail": {"state": [{"wildcard": "N*W"}]}}, True),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"missing": [{"exists": True}]}}, False),
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"missing": ["x"]}}, False),
        ({"$or": [{"source": ["x"]}, {"detail": {"total": [120]}}]}, True),
        ({"$or": [{"source": ["x"]}, {"detail": {"total": [1]}}]}, False),
    ],
)
def test_patterns_match_as_eventbridge_does(pattern: dict[str, object], expected: bool) -> None:
    check_pattern(pattern)
    assert matches(pattern, ORDER) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({}, "pattern: is empty; give at least one field to match"),
        ({"source": "shop"}, "pattern.source: expected a list of values or an object, got 'shop'"),
        ({"source": []}, "pattern.source: an empty list matches nothing; give at least one value"),
        (
            {"n": [{"numeric": [">"]}]},
            'pattern.n: numeric takes operator/number pairs, such as [">", 0, "<=", 5]',
        ),
        ({"n": [{"regex": "a"}]}, "pattern.n: 'regex' is not a matching rule lambench knows"),
    ],
)
def test_bad_patterns_say_what_is_wrong(pattern: dict[str, object], message: str) -> None:
    with pytest.raises(PatternError) as caught:
        check_pattern(pattern)
    assert str(caught.value).startswith(message)


def test_sns_attributes_are_matched_by_type() -> None:
    values = sns_attributes(
        {
            "level": {"DataType": "String", "StringValue": "high"},
            "count": {"DataType": "Number", "StringValue": "3"},
            "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
        }
    )
    assert values == {"level": "high", "count": 3, "tags": ["a", "b"]}
    assert matches({"count": [{"numeric": [">=", 3]}], "tags": ["b"]}, values)


# -- schedules ----------------------------------------------------------------------------------

NOW = datetime(2026, 12, 7, 23, 20, 30, tzinfo=timezone.utc)  # a Monday


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    [
        ("rate(5 minutes)", "UTC", "2026-12-07T23:25:30+00:00"),
        ("rate(1 day)", "UTC", "2026-12-08T23:20:30+00:00"),
        ("cron(0/15 * * * ? *)", "UTC", "2026-12-07T23:30:00+00:00"),
        ("cron(0 12 * * ? *)", "UTC", "2026-12-08T12:00:00+00:00"),
        ("cron(0 9 ? * MON-FRI *)", "UTC", "2026-12-08T09:00:00+00:00"),
        ("cron(0 9 ? * SAT *)", "UTC", "2026-12-12T09:00:00+00:00"),
        ("cron(0 0 L * ? *)", "UTC", "2026-12-31T00:00:00+00:00"),
        ("cron(0 10 ? * 6#3 *)", "UTC", "2026-12-18T10:00:00+00:00"),
        ("cron(0 8 1W * ? *)", "UTC", "2027-01-01T08:00:00+00:00"),
        ("cron(0 9 * * ? *)", "Europe/Paris", "2026-12-08T09:00:00+01:00"),
        ("cron(0 0 1 1 ? 2025)", "UTC", None),  # its only year has passed
        ("at(2027-03-01T06:30:00)", "America/New_York", "2027-03-01T06:30:00-05:00"),
    ],
)
def test_schedules_fire_at_the_next_time(expression: str, zone: str, expected: str | None) -> None:
    following = parse_schedule(expression, zone).next_after(NOW)
    assert (following.isoformat() if following else None) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 minutes)", "'rate(1 minutes)': write rate(1 minute)"),
        ("rate(5 minute)", "'rate(5 minute)': write rate(5 minutes)"),
        ("cron(0 12 * * *)", "'cron(0 12 * * *)': a cron expression has six fields"),
        (
            "cron(0 12 * * * *)",
            "'cron(0 12 * * * *)': exactly one of day-of-month and day-of-week must be '?'",
        ),
        ("cron(99 12 * * ? *)", "'cron(99 12 * * ? *)': minutes must be within 0-59"),
        ("every day", "'every day' is not a schedule expression"),
    ],
)
def test_bad_schedules_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expression)
    assert str(caught.value).startswith(message)


def test_an_unknown_time_zone_is_an_error() -> None:
    with pytest.raises(ScheduleError, match="'Mars/Olympus' is not a time zone"):
        parse_schedule("rate(1 hour)", "Mars/Olympus")


def test_a_scheduler_input_gets_its_context_attributes() -> None:
    source = ScheduleSource(
        function="fn",
        name="Nightly",
        schedule_name="nightly",
        expression="cron(0 2 * * ? *)",
        input='{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>"}',
        scheduler=True,
    )
    payload = json.loads(event_payload(source, NOW, "eu-west-1"))
    assert payload == {
        "arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly",
        "at": "2026-12-07T23:20:30Z",
    }


# -- partial batch responses --------------------------------------------------------------------

IDS = {"a", "b", "c"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", []),
        (b"null", []),
        (b"{}", []),
        (b'{"batchItemFailures": []}', []),
        (b'{"batchItemFailures": null}', []),
        (b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', ["b"]),
        (b'{"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}', ["c", "a"]),
        (b"not json", None),
        (b'{"batchItemFailures": "b"}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        (b'{"batchItemFailures": [{"itemId": "b"}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', None),
    ],
)
def test_partial_batch_responses_follow_aws_rules(payload: bytes, expected: list[str] | None) -> None:
    assert failed_items(payload, IDS) == expected


# -- reading Events: ----------------------------------------------------------------------------


def at(line: int) -> str:
    """The start of a located message about the test function's Events."""
    return f"template.yaml:{line}: Resources.Fn.Properties.Events."


TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: fn/
      Events:
{events}
  Queue:
    Type: AWS::SQS::Queue
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_IMAGE}}
"""


def project_with(tmp_path: Path, events: str) -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return None\n")
    body = textwrap.indent(textwrap.dedent(events).strip("\n"), " " * 8)
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(events=body))
    return tmp_path


def test_sources_get_aws_defaults(tmp_path: Path) -> None:
    project = load_project(
        project_with(
            tmp_path,
            """
            Jobs:
              Type: SQS
              Properties:
                Queue: !GetAtt Queue.Arn
            Changes:
              Type: DynamoDB
              Properties:
                Stream: !GetAtt Table.StreamArn
                StartingPosition: LATEST
            """,
        )
    )
    sqs, stream = project.sources
    assert sqs == SqsSource(function="fn", name="Jobs", queue_arn="arn:aws:sqs:us-east-1:123456789012:Queue")
    assert isinstance(stream, StreamSource)
    assert (
        stream.batch_size == 100 and stream.maximum_retry_attempts == -1 and stream.maximum_record_age_s == -1
    )
    assert stream.stream_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/Table/stream/latest"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            "E:\n  Type: SQSS\n  Properties: {Queue: x}",
            at(14) + "E.Type: 'SQSS' is not an event type lambench knows",
        ),
        (
            "E:\n  Type: SQS\n  Properties: {}",
            at(15) + "E.Properties.Queue: missing; give the queue's ARN",
        ),
        (
            "E:\n  Type: SQS\n  Properties:\n    Queue: !GetAtt Queue.Arn\n    BatchSize: 50",
            at(17) + "E.Properties.BatchSize: a BatchSize above 10 needs "
            "MaximumBatchingWindowInSeconds of 1 or more",
        ),
        (
            "E:\n  Type: SQS\n  Properties:\n    Queue: !GetAtt Queue.Arn\n    Bogus: 1",
            at(17) + "E.Properties.Bogus: unknown property of SQS events",
        ),
        (
            "E:\n  Type: Schedule\n  Properties:\n    Schedule: rate(1 minutes)",
            at(16) + "E.Properties.Schedule: 'rate(1 minutes)': write rate(1 minute)",
        ),
        (
            "E:\n  Type: DynamoDB\n  Properties:\n    Stream: !GetAtt Table.StreamArn\n"
            "    StartingPosition: AT_TIMESTAMP",
            at(17) + "E.Properties.StartingPosition: 'AT_TIMESTAMP' is not a "
            "starting position; use TRIM_HORIZON, LATEST",
        ),
        (
            "E:\n  Type: EventBridgeRule\n  Properties:\n    Pattern: {source: shop}",
            at(16) + "E.Properties.Pattern: Pattern.source: expected a list "
            "of values or an object, got 'shop'",
        ),
        (
            "E:\n  Type: S3\n  Properties:\n    Bucket: b\n    Events: s3:ObjectTagging:Put",
            at(17) + "E.Properties.Events: 's3:ObjectTagging:Put': lambench "
            "sends s3:ObjectCreated:* and s3:ObjectRemoved:* events only",
        ),
    ],
)
def test_mistakes_in_events_are_located(tmp_path: Path, events: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        load_project(project_with(tmp_path, events))
    assert str(caught.value).startswith(message)


def test_events_lambench_does_not_run_are_warnings(tmp_path: Path) -> None:
    project = load_project(
        project_with(
            tmp_path,
            """
            Web:
              Type: MQ
              Properties: {Broker: b}
            Jobs:
              Type: SQS
              Properties:
                Queue: !GetAtt Queue.Arn
                MetricsConfig: {Metrics: [EventCount]}
            """,
        )
    )
    assert [s.name for s in project.sources] == ["Jobs"]
    assert project.warnings == [
        at(14) + "Web.Type: MQ events are ignored: lambench has no Amazon MQ",
        at(20) + "Jobs.Properties.MetricsConfig: is ignored by lambench",
    ]
