"""A Lambda answer as API Gateway turns it into an HTTP response, and API Gateway's own errors.

Payload format 1.0 (REST): the function must return an object with `statusCode` and optionally
`headers`, `multiValueHeaders`, `body` (a string) and `isBase64Encoded`; anything else is a
"Malformed Lambda proxy response" and the client gets 502 `{"message": "Internal server error"}`.
Payload format 2.0 (HTTP APIs, function URLs): an object with `statusCode` is read the same way
(with `cookies`, each one a `Set-Cookie`); any other valid JSON becomes a 200 with
`content-type: application/json` and the JSON as the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from lambench.core.http.model import REST, URL, ApiKind
from lambench.core.record import record

_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


@record(frozen=True)
class HttpResponse:
    """What goes back to the client: status, headers (names as given, in order) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: Why API Gateway answered this itself (a malformed response, a function error), or None.
    problem: str | None = None


def message_response(status: int, message: str, problem: str | None = None) -> HttpResponse:
    """API Gateway's own JSON error: `{"message": "..."}`."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, (("content-type", "application/json"),), body, problem)


# -- API Gateway's own answers, by kind of API --------------------------------------------------


def not_found(kind: ApiKind) -> HttpResponse:
    """No route: REST says 403 Missing Authentication Token; HTTP APIs and URLs 404 Not Found."""
    if kind == REST:
        return message_response(403, "Missing Authentication Token", "no route")
    return message_response(404, "Not Found", "no route")


def function_failed(kind: ApiKind, problem: str) -> HttpResponse:
    """The function errored (or answered nonsense): REST 502, HTTP APIs 500, function URLs 502."""
    if kind == REST:
        return message_response(502, "Internal server error", problem)
    if kind == URL:
        return message_response(502, "Internal Server Error", problem)
    return message_response(500, "Internal Server Error", problem)


def throttled(kind: ApiKind) -> HttpResponse:
    """The function is at its concurrency limit: REST 429; HTTP APIs 503; function URLs 429."""
    if kind in (REST, URL):
        return message_response(429, "Too Many Requests", "throttled")
    return message_response(503, "Service Unavailable", "throttled")


def integration_timeout(kind: ApiKind) -> HttpResponse:
    """API Gateway stopped waiting (29 s REST, 30 s HTTP APIs): 504 for REST, 503 for HTTP APIs."""
    if kind == REST:
        return message_response(504, "Endpoint request timed out", "integration timeout")
    return message_response(503, "Service Unavailable", "integration timeout")


def too_large() -> HttpResponse:
    """A request body over API Gateway's 10 MB."""
    return message_response(413, "Request Entity Too Large", "request too large")


def forbidden(message: str = "Forbidden") -> HttpResponse:
    """An authorizer said no (or an IAM-authenticated URL got no signature)."""
    return message_response(403, message, "forbidden")


def unauthorized() -> HttpResponse:
    """An authorizer's identity source is missing, or the authorizer raised `Unauthorized`."""
    return message_response(401, "Unauthorized", "unauthorized")


# -- the function's answer ----------------------------------------------------------------------


class Malformed(ValueError):
    """The function's answer is not a proxy response API Gateway accepts."""


def _status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Malformed(f"statusCode {value!r} is not a number")
    try:
        status = int(value)
    except ValueError:
        raise Malformed(f"statusCode {value!r} is not a number") from None
    if not 100 <= status <= 599:
        raise Malformed(f"statusCode {status} is not an HTTP status")
    return status


def _text(value: object, what: str) -> str:
    # API Gateway stringifies scalar header values; objects and lists are malformed.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise Malformed(f"{what} {value!r} is not a string")


def _body(answer: dict[str, Any]) -> bytes:
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise Malformed("body is not a string")
    if answer.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed("isBase64Encoded is true but body is not base64") from None
    return body.encode("utf-8", errors="surrogatepass")


def _headers(answer: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    single = answer.get("headers")
    if single is not None:
        if not isinstance(single, dict):
            raise Malformed("headers is not an object")
        headers += [(str(name), _text(value, f"header {name}")) for name, value in single.items()]
    multi = answer.get("multiValueHeaders")
    if multi is not None:
        if not isinstance(multi, dict):
            raise Malformed("multiValueHeaders is not an object")
        for name, values in multi.items():
            if not isinstance(values, list):
                raise Malformed(f"multiValueHeaders {name} is not a list")
            # A header in both keeps the multi-value list (API Gateway merges them the same way).
            headers = [(key, value) for key, value in headers if key.lower() != str(name).lower()]
            headers += [(str(name), _text(value, f"header {name}")) for value in values]
    return headers


def rest_response(payload: bytes) -> HttpResponse:
    """Payload format 1.0's answer; raises `Malformed` for what API Gateway rejects."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise Malformed("the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise Malformed("the answer is not a JSON object")
    unknown = sorted(set(answer) - _V1_KEYS)
    if unknown:
        raise Malformed(f"unknown field(s) {', '.join(unknown)}")
    if "statusCode" not in answer:
        raise Malformed("statusCode is missing")
    status = _status(answer["statusCode"])
    return HttpResponse(status, tuple(_headers(answer)), _body(answer))


def http_response(payload: bytes) -> HttpResponse:
    """Payload format 2.0's answer (an object with statusCode, or any JSON as a 200)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise Malformed("the answer is not JSON") from None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return HttpResponse(200, (("content-type", "application/json"),), payload)
    status = _status(answer["statusCode"])
    headers = _headers(answer)
    cookies = answer.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list):
            raise Malformed("cookies is not a list")
        headers += [("set-cookie", _text(cookie, "cookie")) for cookie in cookies]
    if not any(name.lower() == "content-type" for name, _ in headers) and answer.get("body") is not None:
        # HTTP APIs send a body without a declared type as JSON (unconfirmed for function URLs).
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, tuple(headers), _body(answer))


#: The content type of a streamed answer that starts with an HTTP prelude (`HttpResponseStream.from`).
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
_PRELUDE_END = b"\x00" * 8


def streamed_response(payload: bytes, content_type: str) -> HttpResponse:
    """A function URL's answer from a streaming handler (`awslambda.streamifyResponse`).

    With `HttpResponseStream.from(stream, prelude)` the stream starts with the prelude as JSON
    (statusCode, headers, cookies) and eight NUL bytes; any other stream is a 200 of its own
    content type.
    """
    if not content_type.startswith(HTTP_INTEGRATION):
        return HttpResponse(200, (("content-type", content_type),), payload)
    head, separator, body = payload.partition(_PRELUDE_END)
    if not separator:
        raise Malformed("the HTTP integration prelude has no end")
    try:
        prelude = json.loads(head)
    except ValueError:
        raise Malformed("the HTTP integration prelude is not JSON") from None
    if not isinstance(prelude, dict):
        raise Malformed("the HTTP integration prelude is not a JSON object")
    status = _status(prelude.get("statusCode", 200))
    headers = _headers(prelude)
    cookies = prelude.get("cookies") or []
    if not isinstance(cookies, list):
        raise Malformed("cookies is not a list")
    headers += [("set-cookie", _text(cookie, "cookie")) for cookie in cookies]
    return HttpResponse(status, tuple(headers), body)
