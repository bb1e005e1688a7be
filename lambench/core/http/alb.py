"""An Application Load Balancer in front of Lambda: listener rules, the ALB event and its answers.

Facts from the Elastic Load Balancing User Guide ("Lambda functions as targets"): the event has
`requestContext.elb.targetGroupArn`, `httpMethod`, `path`, `queryStringParameters` (as sent: the
load balancer does not decode them), `headers` (lower-case names, with `x-forwarded-for`,
`x-forwarded-port`, `x-forwarded-proto` and `x-amzn-trace-id`), `body` (an empty string when there
is none) and `isBase64Encoded`; with the target group attribute
`lambda.multi_value_headers.enabled` the last two maps become `multiValueHeaders` and
`multiValueQueryStringParameters`. The answer needs `statusCode`; `statusDescription`, `headers`
(or `multiValueHeaders`), `body` and `isBase64Encoded` are optional. An answer the load balancer
cannot use, a function error or a timeout is a 502, a throttled function a 503, with the load
balancer's own small HTML page.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import os
from typing import Any

from lambench.core.http.model import AlbRule
from lambench.core.http.proxy_responses import HttpResponse, Malformed
from lambench.core.http.request_events import HttpRequest, body_is_text


def rule_matches(rule: AlbRule, request: HttpRequest) -> bool:
    """Whether the request meets every condition of `rule` (all conditions, any of their values)."""
    if rule.paths and not any(fnmatch.fnmatchcase(request.raw_path, pattern) for pattern in rule.paths):
        return False
    if rule.hosts:
        host = (request.header("host") or "").split(":")[0].lower()
        if not any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in rule.hosts):
            return False
    return not rule.methods or request.method in rule.methods


def pick_rule(rules: tuple[AlbRule, ...], request: HttpRequest) -> AlbRule | None:
    """The first rule by priority whose conditions hold, else the default action's, else None."""
    ordered = sorted((r for r in rules if r.priority is not None), key=lambda r: r.priority or 0)
    for rule in ordered:
        if rule_matches(rule, request):
            return rule
    return next((r for r in rules if r.priority is None), None)


def _raw_query(query_string: str) -> list[tuple[str, str]]:
    # Not decoded: the load balancer passes the query string's values as the client sent them.
    pairs = []
    for part in query_string.split("&") if query_string else []:
        name, _, value = part.partition("=")
        pairs.append((name, value))
    return pairs


def alb_event(request: HttpRequest, rule: AlbRule, port: int) -> dict[str, Any]:
    """The event a Lambda target gets for `request`."""
    headers = [*request.headers]
    headers += [
        ("x-forwarded-for", request.source_ip),
        ("x-forwarded-port", str(port)),
        ("x-forwarded-proto", "http"),
        ("x-amzn-trace-id", f"Root=1-{int(request.time):08x}-{os.urandom(12).hex()}"),
    ]
    text = body_is_text(request.header("content-type"), request.body)
    body = request.body.decode("utf-8") if text else base64.b64encode(request.body).decode("ascii")
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": rule.target_group_arn}},
        "httpMethod": request.method,
        "path": request.raw_path,
    }
    query = _raw_query(request.query_string)
    if rule.multi_value:
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = multi_headers
    else:
        event["queryStringParameters"] = dict(query)
        event["headers"] = dict(headers)
    event["body"] = body
    event["isBase64Encoded"] = not text and bool(request.body)
    return event


_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    404: "Not Found",
    413: "Request Entity Too Large",
}


def alb_error(status: int, problem: str | None = None) -> HttpResponse:
    """The load balancer's own answer: a small HTML page."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return HttpResponse(status, (("content-type", "text/html"),), page.encode(), problem or title)


def alb_response(payload: bytes, rule: AlbRule) -> HttpResponse:
    """A Lambda target's answer as the load balancer sends it on; `Malformed` when it cannot."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise Malformed("the answer is not JSON") from None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        raise Malformed("the answer has no statusCode")
    status = answer["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise Malformed(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    if rule.multi_value and isinstance(answer.get("multiValueHeaders"), dict):
        for name, values in answer["multiValueHeaders"].items():
            listed = values if isinstance(values, list) else [values]
            headers += [(str(name), str(value)) for value in listed]
    elif isinstance(answer.get("headers"), dict):
        headers += [(str(name), str(value)) for name, value in answer["headers"].items()]
    body = answer.get("body") or ""
    if not isinstance(body, str):
        raise Malformed("body is not a string")
    if answer.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed("isBase64Encoded is true but body is not base64") from None
    else:
        data = body.encode("utf-8")
    return HttpResponse(status, tuple(headers), data)
