"""A request as API Gateway hands it to Lambda: payload format 1.0 (REST, and HTTP APIs that ask for
it) and 2.0 (HTTP APIs and function URLs).

Facts from AWS's API Gateway Developer Guide ("Lambda proxy integrations", "payload format
version") and the Lambda Developer Guide ("Invoking Lambda function URLs"): 1.0 keeps the last
value of a repeated header or query parameter in `headers` / `queryStringParameters` and all
of them in the `multiValue...` fields, and sends null for what a request lacks; 2.0 joins
repeated values with commas, moves cookies into `cookies`, and leaves out what a request lacks.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from lambench.core.digests import sha256_hex
from lambench.core.http.model import ACCOUNT_ID, DEFAULT_HTTP_STAGE, REST, Api
from lambench.core.http.routing import RouteMatch
from lambench.core.record import record

#: Content types whose bodies HTTP APIs and function URLs pass as text (the rest are base64).
_TEXT_PREFIX = "text/"
_TEXT_MARKERS = ("application/json", "application/xml", "application/javascript", "+json", "+xml")
_TEXT_TYPES_EXACT = ("application/x-www-form-urlencoded", "application/graphql", "application/yaml")


@record(frozen=True)
class HttpRequest:
    """One request as the server read it: lower-case header names in the order sent."""

    method: str
    raw_path: str
    query_string: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    time: float
    request_id: str
    protocol: str = "HTTP/1.1"
    host: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """The last value of header `name` (lower case), or None."""
        value = None
        for key, item in self.headers:
            if key == name:
                value = item
        return value

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name`, in order."""
        return [item for key, item in self.headers if key == name]


def request_time(t: float) -> str:
    """API Gateway's `requestTime`: `09/Apr/2015:12:34:56 +0000`."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def api_id_for(name: str, length: int = 10) -> str:
    """A stable API id (10 lower-case letters and digits) or function URL id (32) for a name."""
    digest = bytes.fromhex(sha256_hex(name.encode()))
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[byte % len(alphabet)] for byte in (digest * 2)[:length])


def _title(name: str) -> str:
    # ASGI servers hand header names in lower case; REST APIs pass them as the client wrote them,
    # which for the usual headers is this form (unconfirmed for unusual spellings).
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def body_is_binary_rest(api: Api, content_type: str | None) -> bool:
    """A REST API base64-encodes a body whose type is one of its binary media types."""
    if not api.binary_media_types:
        return False
    wanted = (content_type or "").split(";")[0].strip().lower()
    for media in api.binary_media_types:
        media = media.replace("~1", "/").lower()
        if media in ("*/*", wanted) or (media.endswith("/*") and wanted.startswith(media[:-1])):
            return True
    return False


def body_is_text(content_type: str | None, body: bytes) -> bool:
    """HTTP APIs pass a body as text when its type is textual and it is UTF-8."""
    kind = (content_type or "").split(";")[0].strip().lower()
    textual = (
        not kind
        or kind.startswith(_TEXT_PREFIX)
        or kind in _TEXT_TYPES_EXACT
        or any(marker in kind for marker in _TEXT_MARKERS)
    )
    if not textual:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """A query string's (name, value) pairs, decoded, blank values kept."""
    return parse_qsl(query_string, keep_blank_values=True)


def _encoded_body(body: bytes, binary: bool) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if binary:
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", errors="replace"), False


def rest_event(
    request: HttpRequest, match: RouteMatch, authorizer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Payload format 1.0: what a REST API (and an HTTP API asking for 1.0) sends."""
    api = match.api
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        key = _title(name)
        headers[key] = value
        multi_headers.setdefault(key, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs(request.query_string):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    if api.kind == REST:
        binary = body_is_binary_rest(api, request.header("content-type"))
    else:
        binary = not body_is_text(request.header("content-type"), request.body)
    body, encoded = _encoded_body(request.body, binary)
    route = match.route
    stage = api.stage
    resource = route.path if route.path != "$default" else "/{proxy+}"
    identity: dict[str, str | None] = {
        key: None
        for key in (
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "principalOrgId",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
            "user",
        )
    }
    identity["sourceIp"] = request.source_ip
    identity["userAgent"] = request.header("user-agent")
    epoch_ms = int(request.time * 1000)
    context: dict[str, Any] = {
        "resourceId": api_id_for(f"{api.api_id}:{resource}", 6),
        "resourcePath": resource,
        "httpMethod": request.method,
        "extendedRequestId": api_id_for(request.request_id, 16),
        "requestTime": request_time(request.time),
        "path": f"/{stage}{match.path}" if stage != DEFAULT_HTTP_STAGE else match.path,
        "accountId": ACCOUNT_ID,
        "protocol": request.protocol,
        "stage": stage,
        "domainPrefix": api_id_for(api.api_id),
        "requestTimeEpoch": epoch_ms,
        "requestId": request.request_id,
        "identity": identity,
        "domainName": request.host,
        "apiId": api_id_for(api.api_id),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": resource,
        "path": match.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    }


def http_event(
    request: HttpRequest,
    *,
    route_key: str,
    stage: str,
    api_id: str,
    domain: str,
    domain_prefix: str,
    path_parameters: dict[str, str],
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Payload format 2.0: what an HTTP API and a function URL send."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        if name == "cookie":
            cookies += split_cookies([value])
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in query_pairs(request.query_string):
        query[name] = f"{query[name]},{value}" if name in query else value
    body, encoded = _encoded_body(
        request.body, not body_is_text(request.header("content-type"), request.body)
    )
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain_prefix,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": request_time(request.time),
        "timeEpoch": int(request.time * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["requestContext"] = context
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def api_event(
    request: HttpRequest, match: RouteMatch, authorizer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The event for a matched API route, in the route's payload format."""
    if match.route.payload_version == "1.0":
        return rest_event(request, match, authorizer)
    api = match.api
    api_id = api_id_for(api.api_id)
    return http_event(
        request,
        route_key=match.route.route_key,
        stage=api.stage,
        api_id=api_id,
        domain=request.host,
        domain_prefix=api_id,
        path_parameters=match.path_parameters,
        authorizer=authorizer,
    )


def split_cookies(values: Sequence[str]) -> list[str]:
    """Cookie header values as `name=value` items."""
    return [part.strip() for value in values for part in value.split(";") if part.strip()]
