"""The Invoke API's side of an invocation: checking its parameters and shaping its answer.

Everything here is pure: the service calls it before an invocation is admitted (names, payload
size, JSON, client context) and after it ran (the `InvokeResult`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from lambench.core.config import FunctionConfig
from lambench.core.record import record
from lambench.core.runtime import errors
from lambench.core.runtime.environment import Outcome
from lambench.core.runtime.figures import InvocationFigures

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
#: `LogType=Tail` returns the last 4 KB of the invocation's log (lambda-facts §5.6).
TAIL_BYTES = 4096


@record(frozen=True)
class InvokeResult:
    """Everything an invocation produced, in the terms of the Invoke API and the REPORT line.

    `status_code` is 200 (RequestResponse), 202 (Event) or 204 (DryRun); for the last two the
    function has not run yet (Event) or at all (DryRun), and the figures are zero.
    """

    request_id: str
    status_code: int
    payload: bytes
    function_error: str | None
    executed_version: str | None
    figures: InvocationFigures
    environment_id: str | None
    logs: str
    log_result: str | None
    content_type: str = "application/json"

    def payload_json(self) -> Any:
        """The payload parsed as JSON, or the text itself when it is not JSON."""
        text = self.payload.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text


@record(frozen=True)
class InvokeTarget:
    """What one invoke runs: the configuration, the version it resolved to, and the qualifier named."""

    config: FunctionConfig
    version: str
    qualifier: str | None


def check_types(invocation_type: str, log_type: str) -> None:
    """InvalidParameterValueError unless both are values the Invoke API accepts."""
    if invocation_type not in INVOCATION_TYPES:
        raise errors.InvalidParameterValueError(
            f"Invalid InvocationType: {invocation_type!r}; use one of {', '.join(INVOCATION_TYPES)}"
        )
    if log_type not in LOG_TYPES:
        raise errors.InvalidParameterValueError(f"Invalid LogType: {log_type!r}; use None or Tail")


def split_name(name: str, qualifier: str | None) -> tuple[str, str | None]:
    """Accept `name`, `name:qualifier`, a full ARN or a partial ARN (`acct:function:name[:q]`)."""
    parts = name.split(":")
    if name.startswith("arn:"):
        if len(parts) < 7 or parts[5] != "function":
            raise errors.InvalidParameterValueError(f"Invalid function name or ARN: {name!r}")
        parts = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]
    if len(parts) > 2 or not parts[0]:
        raise errors.InvalidParameterValueError(f"Invalid function name or ARN: {name!r}")
    embedded = parts[1] if len(parts) == 2 else None
    if embedded and qualifier and embedded != qualifier:
        raise errors.InvalidParameterValueError(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return parts[0], embedded or qualifier


def request_body(payload: bytes | str, invocation_type: str) -> bytes:
    """The payload as the function receives it: size-checked, `{}` when empty, valid JSON."""
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    limit = errors.MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else errors.MAX_SYNC_REQUEST_BYTES
    if len(body) > limit:
        raise errors.RequestTooLargeError.for_limit(limit)
    if not body:
        # The Invoke API sends an empty payload to the function as an empty JSON object.
        body = b"{}"
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidRequestContentError(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None
    return body


def decode_client_context(value: str | Mapping[str, Any] | None) -> str | None:
    """The client context as the runtime receives it (JSON text), from base64 or a mapping."""
    if value is None:
        return None
    encoded = base64.b64encode(json.dumps(value).encode()).decode() if isinstance(value, Mapping) else value
    if len(encoded) > errors.MAX_CLIENT_CONTEXT_BYTES:
        raise errors.InvalidParameterValueError(
            f"Client context must be at most {errors.MAX_CLIENT_CONTEXT_BYTES} bytes, base64-encoded"
        )
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # AWS's exact wording for this case is unconfirmed.
        raise errors.InvalidParameterValueError(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None


def ran_result(outcome: Outcome, target: InvokeTarget, env_id: str, log_type: str) -> InvokeResult:
    """The 200 answer of a synchronous invocation that ran."""
    tail = None
    if log_type == "Tail":
        tail = base64.b64encode(outcome.logs.encode("utf-8")[-TAIL_BYTES:]).decode()
    return InvokeResult(
        request_id=outcome.request_id,
        status_code=200,
        payload=outcome.payload,
        function_error=outcome.function_error,
        executed_version=target.version,
        figures=outcome.figures,
        environment_id=env_id,
        logs=outcome.logs,
        log_result=tail,
        content_type=outcome.content_type,
    )


def empty_result(request_id: str, status: int, config: FunctionConfig) -> InvokeResult:
    """The 202 (Event) or 204 (DryRun) answer: nothing has run in the caller's time."""
    return InvokeResult(
        request_id=request_id,
        status_code=status,
        payload=b"",
        function_error=None,
        executed_version=None,
        figures=InvocationFigures(0.0, 0, config.memory_mb, 0),
        environment_id=None,
        logs="",
        log_result=None,
    )
