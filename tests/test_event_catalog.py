"""Every built-in event template renders, and its events have the real shape.

Each template is rendered with its defaults and with every parameter changed, and both events
are validated against aws-lambda-powertools' model of that event source (see event_validation).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest

from lambench.core.events.catalog import Catalog, EventError, EventTemplate, Param
from tests.event_validation import validate

CATALOG = Catalog.builtin()
TEMPLATES = CATALOG.templates()
PINNED = datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=timezone.utc)

#: Keys whose values must be fresh on every render (ids a real service generates per event).
FRESH_KEYS = frozenset(
    {"messageId", "MessageId", "requestId", "RequestId", "eventID", "x-amz-request-id", "invocationId"}
)

#: Filled by the validation tests; conftest prints it at the end of the run.
VALIDATED: dict[str, str] = {}


def changed_value(param: Param) -> Any:
    """A value other than the default that the parameter accepts."""
    if param.example is not None:
        return param.example
    if param.choices:
        others = [choice for choice in param.choices if choice != param.default]
        return others[-1]
    if param.kind == "boolean":
        return not param.default
    if param.kind in ("integer", "number"):
        candidate = param.default + 2
        if param.maximum is not None and candidate > param.maximum:
            candidate = param.default - 1
        return candidate
    if param.kind == "string":
        return f"{param.default}-2" if param.default else "lambench"
    return param.default


def changed_values(template: EventTemplate) -> dict[str, Any]:
    values = {param.name: changed_value(param) for param in template.params}
    values.update(region="eu-west-2", account="210987654321", time="2024-02-29T23:59:59.5Z")
    return values


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template.key)
def test_template_renders_with_defaults_and_validates(template: EventTemplate) -> None:
    event = template.render()
    assert json.loads(json.dumps(event)) == event
    if template.validated_by:
        VALIDATED[template.key] = validate(template.validated_by, event)
    else:
        VALIDATED[template.key] = "none"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template.key)
def test_template_renders_with_every_parameter_changed(template: EventTemplate) -> None:
    values = changed_values(template)
    event = template.render({name: _as_cli_text(value) for name, value in values.items()})
    if template.validated_by:
        validate(template.validated_by, event)
    text = json.dumps(event)
    default_text = json.dumps(template.render())
    # Regions and accounts come from the parameters, never from text typed into the template.
    if "us-east-1" in default_text:
        assert "us-east-1" not in text and "eu-west-2" in text
    if "123456789012" in default_text:
        assert "123456789012" not in text and "210987654321" in text


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template.key)
def test_template_time_comes_from_the_time_parameter(template: EventTemplate) -> None:
    now = datetime.now(timezone.utc)
    today = {now.strftime("%Y-%m-%d"), now.strftime("%d/%b/%Y"), str(int(now.timestamp()))[:6]}
    default_text = json.dumps(template.render())
    if any(mark in default_text for mark in today):
        pinned_text = json.dumps(template.render(now=PINNED))
        assert not any(mark in pinned_text for mark in today), "a timestamp ignores the time parameter"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template.key)
def test_template_ids_are_fresh_on_every_render(template: EventTemplate) -> None:
    defaults = {json.dumps(param.default) for param in template.all_params}
    first = dict(_fresh_ids(template.render(now=PINNED)))
    second = dict(_fresh_ids(template.render(now=PINNED)))
    for path, value in first.items():
        if json.dumps(value) in defaults:
            continue
        assert second.get(path) != value, f"{path} is the same in two renders"


def _fresh_ids(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FRESH_KEYS and isinstance(value, str):
                found.append((f"{path}.{key}", value))
            found.extend(_fresh_ids(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_fresh_ids(item, f"{path}[{index}]"))
    return found


def _as_cli_text(value: Any) -> str:
    # Parameters arrive from the command line as text; render them the way a user types them.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def test_every_template_has_metadata() -> None:
    for template in TEMPLATES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", template.name), template.key
        assert template.description.endswith("."), template.key
        assert len(template.description) <= 120, template.key
        for param in template.params:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", param.name), (template.key, param.name)
            assert param.help, (template.key, param.name)
            param.coerce(param.default)
            if param.example is not None:
                param.coerce(param.example)


def test_catalog_covers_at_least_seventy_templates_across_twenty_six_services() -> None:
    assert len(TEMPLATES) >= 70
    assert len(CATALOG.services) >= 26
    required = {
        "apigateway/rest-proxy",
        "apigateway/http-api-proxy",
        "apigateway/token-authorizer",
        "apigateway/request-authorizer",
        "apigateway/websocket-message",
        "alb/request",
        "alb/request-multi-value",
        "lambda/function-url",
        "s3/object-created",
        "s3/object-removed",
        "s3/object-restore-completed",
        "s3/eventbridge-object-created",
        "s3/batch-operations",
        "sqs/receive-message",
        "sqs/receive-message-fifo",
        "sns/notification",
        "sqs/sns-notification",
        "dynamodb/insert",
        "dynamodb/modify",
        "dynamodb/remove",
        "kinesis/get-records",
        "firehose/transformation",
        "eventbridge/scheduled",
        "eventbridge/custom",
        "cloudwatch/logs-subscription",
        "cloudwatch/alarm-state-change",
        "cognito/pre-sign-up",
        "cognito/post-confirmation",
        "cognito/pre-authentication",
        "cognito/post-authentication",
        "cognito/pre-token-generation",
        "cognito/custom-message",
        "cognito/define-auth-challenge",
        "cognito/create-auth-challenge",
        "cognito/verify-auth-challenge-response",
        "cognito/user-migration",
        "cloudfront/viewer-request",
        "cloudfront/origin-request",
        "cloudfront/origin-response",
        "cloudfront/viewer-response",
        "cloudformation/create",
        "cloudformation/update",
        "cloudformation/delete",
        "codecommit/repository-trigger",
        "codepipeline/job",
        "config/configuration-change",
        "iot/rule",
        "msk/event",
        "kafka/self-managed",
        "mq/activemq",
        "mq/rabbitmq",
        "ses/email-receiving",
        "lex/fulfillment",
        "alexa/intent-request",
        "appsync/resolver",
        "stepfunctions/task-input",
        "secretsmanager/rotation",
        "connect/contact-flow",
        "bedrock/agent-action-group",
    }
    assert required <= {template.key for template in TEMPLATES}


def test_delivery_matches_how_lambda_receives_each_source() -> None:
    delivery = {template.key: template.delivery.value for template in TEMPLATES}
    assert delivery["apigateway/rest-proxy"] == "sync"
    assert delivery["s3/object-created"] == "async"
    assert delivery["sns/notification"] == "async"
    for key in ("sqs/receive-message", "kinesis/get-records", "dynamodb/insert", "msk/event", "mq/rabbitmq"):
        assert delivery[key] == "poll", key


def test_builtin_template_reads_one_file_and_matches_the_catalog() -> None:
    from lambench.core.events.catalog import builtin_template

    catalog = Catalog.builtin()
    for template in catalog.templates():
        assert builtin_template(template.service, template.name) == template
        assert builtin_template(f"{template.service}/{template.name}") == template


@pytest.mark.parametrize(
    ("service", "name", "message"),
    [
        ("sqs", "receive-mesage", "did you mean 'receive-message'"),
        ("sqs", "_service", "unknown template sqs/_service"),
        ("..", "sqs/receive-message", "unknown service '..'"),
        ("sqs", "../s3/object-created", "unknown template sqs/../s3/object-created"),
    ],
)
def test_builtin_template_leaves_bad_names_to_the_catalog(service: str, name: str, message: str) -> None:
    from lambench.core.events.catalog import builtin_template

    with pytest.raises(EventError, match=re.escape(message)):
        builtin_template(service, name)
