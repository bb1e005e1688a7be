"""CORS as the front door answers it: preflight requests, and the headers added to responses.

An HTTP API's or function URL's `CorsConfiguration` is applied by API Gateway itself: it answers
a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) without calling the
function, and adds `Access-Control-Allow-Origin` (and the exposed headers) to every response
for an allowed origin. A REST API's SAM `Cors` property makes an `OPTIONS` method that answers
the preflight; other responses carry only what the function sets.
"""

from __future__ import annotations

from lambench.core.http.model import Cors
from lambench.core.http.request_events import HttpRequest


def is_preflight(request: HttpRequest) -> bool:
    """An `OPTIONS` request from a browser asking before the real one."""
    return (
        request.method == "OPTIONS"
        and request.header("origin") is not None
        and request.header("access-control-request-method") is not None
    )


def _allowed_origin(cors: Cors, origin: str | None) -> str | None:
    if origin is None:
        return None
    allowed = [value.strip("'") for value in cors.allow_origins]
    if "*" in allowed:
        # A credentialed request cannot be answered with "*": the origin is echoed instead.
        return origin if cors.allow_credentials else "*"
    return origin if origin in allowed else None


def _join(values: tuple[str, ...]) -> str:
    return ",".join(value.strip("'") for value in values)


def preflight_headers(cors: Cors, request: HttpRequest) -> list[tuple[str, str]] | None:
    """The preflight answer's headers, or None when the origin or method is not allowed."""
    origin = _allowed_origin(cors, request.header("origin"))
    if origin is None:
        return None
    method = (request.header("access-control-request-method") or "").upper()
    methods = [value.strip("'").upper() for value in cors.allow_methods]
    if "*" not in methods and method not in methods:
        return None
    headers = [("access-control-allow-origin", origin)]
    headers.append(("access-control-allow-methods", "*" if "*" in methods else ",".join(methods)))
    # With no AllowHeaders configured, none are allowed: a browser asking for some is refused by
    # the missing header, as API Gateway answers.
    if cors.allow_headers:
        headers.append(("access-control-allow-headers", _join(cors.allow_headers)))
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    if cors.max_age_s is not None:
        headers.append(("access-control-max-age", str(cors.max_age_s)))
    if origin != "*":
        headers.append(("vary", "Origin"))
    return headers


def response_headers(cors: Cors, request: HttpRequest) -> list[tuple[str, str]]:
    """What an HTTP API adds to a (non-preflight) response for an allowed origin."""
    origin = _allowed_origin(cors, request.header("origin"))
    if origin is None:
        return []
    headers = [("access-control-allow-origin", origin)]
    if cors.expose_headers:
        headers.append(("access-control-expose-headers", _join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    if origin != "*":
        headers.append(("vary", "Origin"))
    return headers
