"""What an asynchronous invocation's outcome sends to its destinations and dead-letter queue.

The destination record and the dead-letter message follow lambda-facts §7.2 to the field. The
engine builds them; delivering to an SQS queue, an SNS topic or an EventBridge bus is the
embedded account's job (a `Sender`), and a Lambda destination is an `Event` invoke of the
function on this engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from lambench.core.record import field, record

#: `detail-type` of the EventBridge event a destination record travels in (lambda-facts §7.2).
DETAIL_TYPE_SUCCESS = "Lambda Function Invocation Result - Success"
DETAIL_TYPE_FAILURE = "Lambda Function Invocation Result - Failure"
#: The dead-letter message's ErrorMessage holds the first kilobyte of the error message.
DEAD_LETTER_MESSAGE_BYTES = 1024


@record(frozen=True)
class Delivery:
    """One message for an SQS queue, SNS topic or EventBridge bus of the account.

    `attributes` are message attributes, name to (DataType, value); `detail_type` and `resources`
    are the EventBridge entry's (for a bus).
    """

    arn: str
    kind: str
    body: str
    attributes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    detail_type: str | None = None
    resources: tuple[str, ...] = ()


#: Delivers one message; raises on failure (the dispatcher retries and then reports it).
Sender = Callable[[Delivery], None]


def timestamp_seconds(epoch: float) -> str:
    """`2019-11-14T18:16:05Z`, EventBridge's `time` (whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def timestamp(epoch: float) -> str:
    """`2019-11-14T18:16:05.568Z`, the destination record's format."""
    whole = int(epoch)
    millis = int((epoch - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _as_json_value(payload: bytes) -> Any:
    # Payloads travel as JSON inside the record; one that is not JSON travels as its text.
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", errors="replace")


def destination_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_payload: bytes,
    executed_version: str,
    status_code: int,
    function_error: str | None,
    response_payload: bytes | None,
    now: float | None = None,
) -> dict[str, Any]:
    """The invocation record an OnSuccess or OnFailure destination receives.

    `function_arn` is qualified (`...:function:NAME:$LATEST` or a version), as AWS always sends
    it; `responseContext.functionError` appears only for a function error.
    """
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": executed_version}
    if function_error is not None:
        response_context["functionError"] = function_error
    result: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timestamp(time.time() if now is None else now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": _as_json_value(request_payload),
        "responseContext": response_context,
    }
    if response_payload is not None:
        result["responsePayload"] = _as_json_value(response_payload)
    return result


def dead_letter_attributes(
    request_id: str, error_code: int, error_message: str
) -> dict[str, tuple[str, str]]:
    """The message attributes Lambda sets on a dead-letter message (lambda-facts §7.2)."""
    message = error_message.encode()[:DEAD_LETTER_MESSAGE_BYTES].decode("utf-8", errors="ignore")
    return {
        "RequestID": ("String", request_id),
        "ErrorCode": ("Number", str(error_code)),
        "ErrorMessage": ("String", message),
    }


def error_message(payload: bytes | None) -> str:
    """The `errorMessage` of a function error payload (its text when it is not the usual object)."""
    if not payload:
        return ""
    value = _as_json_value(payload)
    if isinstance(value, dict) and isinstance(value.get("errorMessage"), str):
        return str(value["errorMessage"])
    return payload.decode("utf-8", errors="replace")
