"""Lambda's FunctionEventInvokeConfig API for local functions, served inside the embedded account.

`aws lambda put-function-event-invoke-config` (or boto3) against the embedded account sets the
engine's asynchronous settings for a function lambench runs: Put replaces them, Update merges,
Get and Delete do what they say (paths `/2019-09-25/functions/<name>/event-invoke-config`). The
settings hold for the function as a whole: a `Qualifier` is accepted and not told apart
(lambench keeps one configuration per function). The function's dead-letter queue, which is
part of its configuration in AWS, is kept across Put and Delete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lambench.core.embedded.lambda_route import base_name, error_response, read_body
from lambench.core.embedded.server import StartResponse
from lambench.core.record import replace
from lambench.core.runtime import errors
from lambench.core.runtime.async_config import AsyncConfig
from lambench.core.runtime.identifiers import function_arn

if TYPE_CHECKING:
    from lambench.core.runtime.service import LocalLambda

_PREFIX = "/2019-09-25/functions/"
_SUFFIX = "/event-invoke-config"


class EventInvokeConfigRoute:
    """A route for `EmbeddedMoto.add_route` answering the event invoke config calls for our functions."""

    def __init__(self, service: LocalLambda) -> None:
        self._service = service
        self._modified: dict[str, float] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(_PREFIX) and path.rstrip("/").endswith(_SUFFIX)):
            return None
        name = base_name(unquote(path[len(_PREFIX) :].rstrip("/")[: -len(_SUFFIX)]))
        if name is None or name not in {config.name for config in self._service.functions()}:
            return None
        method = environ.get("REQUEST_METHOD")
        try:
            if method == "DELETE":
                # Back to the defaults, keeping the function's own dead-letter queue.
                kept = self._service.get_event_invoke_config(name).dead_letter_arn
                self._service.put_event_invoke_config(name, AsyncConfig(dead_letter_arn=kept))
                self._modified.pop(name, None)
                start_response("204 No Content", [("Content-Length", "0")])
                return [b""]
            if method == "GET":
                settings = self._service.get_event_invoke_config(name)
                # A template's EventInvokeConfig counts as put: `sam deploy` would have put it.
                configured = replace(settings, dead_letter_arn=None) != AsyncConfig()
                if name not in self._modified and not configured:
                    arn = function_arn(self._region(name), name, None)
                    # Unconfirmed wording: no capture of this 404's message is at hand.
                    message = f"The function {arn} doesn't have an EventInvokeConfig"
                    raise errors.ResourceNotFoundError(message)
                return self._answer(name, start_response)
            if method in ("PUT", "POST"):
                request = json.loads(read_body(environ) or b"{}")
                current = self._service.get_event_invoke_config(name)
                base = current if method == "POST" else AsyncConfig(dead_letter_arn=current.dead_letter_arn)
                self._service.put_event_invoke_config(name, _apply(base, request))
                self._modified[name] = time.time()
                return self._answer(name, start_response)
        except errors.LambdaServiceError as exc:
            return error_response(exc, start_response)
        except ValueError:
            body = json.dumps({"message": "The request body is not valid JSON"}).encode()
            start_response("400 InvalidRequestContentException", [("Content-Length", str(len(body)))])
            return [body]
        return None

    def _region(self, name: str) -> str:
        return self._service.get_function(name).region

    def _answer(self, name: str, start_response: StartResponse) -> list[bytes]:
        settings = self._service.get_event_invoke_config(name)
        answer = settings.to_api(function_arn(self._region(name), name, "$LATEST"))
        answer["LastModified"] = self._modified.get(name, time.time())
        body = json.dumps(answer).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def _apply(base: AsyncConfig, request: dict[str, Any]) -> AsyncConfig:
    """`base` with the request's fields (the API's names) applied; validates as AWS does."""
    changes: dict[str, Any] = {}
    if "MaximumRetryAttempts" in request:
        changes["maximum_retry_attempts"] = request["MaximumRetryAttempts"]
    if "MaximumEventAgeInSeconds" in request:
        changes["maximum_event_age_s"] = request["MaximumEventAgeInSeconds"]
    destinations = request.get("DestinationConfig") or {}
    for key, target in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
        if key in destinations:
            changes[target] = (destinations[key] or {}).get("Destination") or None
    return replace(base, **changes)
