"""Lambda's Invoke API for local functions, served inside the embedded account.

moto cannot run code without Docker; this route answers `POST /2015-03-31/functions/<name>/
invocations` for the functions lambench runs, with the engine's result in the Invoke API's terms
(status, `X-Amz-Function-Error`, `X-Amz-Log-Result`, `X-Amz-Executed-Version`, AWS's error bodies).
So `aws lambda invoke --endpoint-url ...`, a boto3 script, or one handler calling another reaches
the real engine. Requests for functions lambench does not know fall through to moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from lambench.core.embedded.server import StartResponse
from lambench.core.runtime import errors

if TYPE_CHECKING:
    from lambench.core.runtime.service import LocalLambda

_INVOKE_PATH_RE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# InvokeWithResponseStream: the answer comes back as event-stream messages (event_stream.py).
_STREAM_PATH_RE = re.compile(r"^/2021-11-15/functions/(?P<name>[^/]+)/response-streaming-invocations/?$")
_HTTP_REASONS = {200: "OK", 202: "Accepted", 204: "No Content"}


class LambdaInvokeRoute:
    """A route for `EmbeddedMoto.add_route` that hands Invoke requests to a `LocalLambda`."""

    def __init__(self, service: LocalLambda) -> None:
        self._service = service

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        path = environ.get("PATH_INFO", "")
        match = _INVOKE_PATH_RE.match(path)
        streaming = False
        if match is None:
            match = _STREAM_PATH_RE.match(path)
            streaming = match is not None
        if match is None:
            return None
        name = unquote(match.group("name"))
        base = base_name(name)
        if base is None or base not in {config.name for config in self._service.functions()}:
            return None
        query = parse_qs(environ.get("QUERY_STRING", ""))
        qualifier = query.get("Qualifier", [None])[0]
        payload = read_body(environ)
        try:
            result = self._service.invoke(
                name,
                payload,
                qualifier=qualifier,
                invocation_type=environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse"),
                log_type=environ.get("HTTP_X_AMZ_LOG_TYPE", "None"),
                client_context=environ.get("HTTP_X_AMZ_CLIENT_CONTEXT") or None,
            )
        except errors.LambdaServiceError as exc:
            return error_response(exc, start_response)
        if streaming:
            return _streamed(result, start_response)
        headers = [
            ("Content-Type", result.content_type),
            ("x-amzn-RequestId", result.request_id),
            ("Content-Length", str(len(result.payload))),
        ]
        if result.executed_version is not None:
            headers.append(("X-Amz-Executed-Version", result.executed_version))
        if result.function_error is not None:
            headers.append(("X-Amz-Function-Error", result.function_error))
        if result.log_result is not None:
            headers.append(("X-Amz-Log-Result", result.log_result))
        status = result.status_code
        start_response(f"{status} {_HTTP_REASONS.get(status, 'OK')}", headers)
        return [result.payload]


def _streamed(result: Any, start_response: StartResponse) -> list[bytes]:
    """InvokeWithResponseStream's answer: the payload as one PayloadChunk, then InvokeComplete.

    lambench's runtimes hand the engine a streaming handler's answer whole, so it is one chunk.
    """
    from lambench.core.embedded.event_stream import invoke_complete, payload_chunk

    error_details = None
    if result.function_error is not None:
        error_details = result.payload.decode("utf-8", "replace")
    body = b"".join(
        [
            *([payload_chunk(result.payload)] if result.function_error is None and result.payload else []),
            invoke_complete(
                result.figures.error_type if result.function_error else None, error_details, result.log_result
            ),
        ]
    )
    # The body is event-stream framed; Content-Type names what the function streamed (the API's
    # ResponseStreamContentType).
    headers = [
        ("Content-Type", result.content_type or "application/octet-stream"),
        ("x-amzn-RequestId", result.request_id),
        ("X-Amz-Executed-Version", result.executed_version or "$LATEST"),
        ("Content-Length", str(len(body))),
    ]
    start_response("200 OK", headers)
    return [body]


def error_response(exc: errors.LambdaServiceError, start_response: StartResponse) -> list[bytes]:
    """The HTTP error AWS answers for `exc`: its status, `x-amzn-ErrorType` and JSON body."""
    body = json.dumps(exc.to_json()).encode()
    start_response(
        f"{exc.status_code} {exc.error_code}",
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", exc.error_code),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def base_name(name: str) -> str | None:
    """The function name inside a name, `name:qualifier` or ARN; None when it is not one."""
    parts = name.split(":")
    if name.startswith("arn:"):
        return parts[6] if len(parts) >= 7 else None
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0] or None


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body (empty without a Content-Length)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return bytes(stream.read(length)) if length > 0 else b""
