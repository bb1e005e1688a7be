"""Lambda authorizers as API Gateway runs them: TOKEN and REQUEST, policies and simple responses, cached.

Facts from the API Gateway Developer Guide ("Use API Gateway Lambda authorizers", "Control access
to HTTP APIs with AWS Lambda authorizers"):
- a missing identity source (or a token failing the validation expression) is a 401
  `{"message":"Unauthorized"}` without calling the authorizer; so is an authorizer that fails
  with the error message `Unauthorized`;
- a REST authorizer returns an IAM policy (`principalId`, `policyDocument`, `context`): an
  explicit Deny matching the method ARN is a 403 naming the explicit deny, no matching Allow a
  403 without; the handler sees `requestContext.authorizer` = `principalId` and the context;
- an HTTP API authorizer with simple responses returns `{"isAuthorized": ..., "context": ...}`
  and the handler sees `requestContext.authorizer.lambda` = the context;
- answers are cached by the identity source values for `ReauthorizeEvery` seconds (300 by
  default, 0 for no cache); a cached REST policy is evaluated again for each method ARN.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from lambench.core.http.model import ACCOUNT_ID, REGION, REST, Api, Authorizer
from lambench.core.http.proxy_responses import HttpResponse, message_response
from lambench.core.http.request_events import (
    HttpRequest,
    api_id_for,
    http_event,
    query_pairs,
    rest_event,
)
from lambench.core.http.routing import RouteMatch
from lambench.core.record import record

#: Runs the authorizer function synchronously: (function name, event JSON) -> (payload, function error).
RunAuthorizer = Callable[[str, bytes], tuple[bytes, str | None]]


@record(frozen=True)
class Decision:
    """An authorizer's verdict for one request: allowed with what the handler sees, or an answer."""

    allowed: bool
    context: dict[str, Any] | None = None
    refusal: HttpResponse | None = None
    cached: bool = False


def method_arn(api: Api, method: str, path: str) -> str:
    """`arn:aws:execute-api:us-east-1:123456789012:<api id>/<stage>/<METHOD>/<path>`."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id_for(api.api_id)}/{api.stage}/{method}{path}"


def identity_values(authorizer: Authorizer, request: HttpRequest, stage: str) -> list[str] | None:
    """The request's values of the authorizer's identity sources; None when one is missing."""
    query = dict(query_pairs(request.query_string))
    values: list[str] = []
    for where, name in authorizer.identity_sources:
        if where == "header":
            value = request.header(name.lower())
        elif where == "query":
            value = query.get(name)
        elif where == "context" and name == "stage":
            value = stage
        else:
            value = None
        if value is None or value == "":
            return None
        values.append(value)
    return values


def _statement_matches(statement: dict[str, Any], arn: str) -> bool:
    resources = statement.get("Resource", [])
    actions = statement.get("Action", [])
    resources = [resources] if isinstance(resources, str) else resources
    actions = [actions] if isinstance(actions, str) else actions
    if not any(fnmatch.fnmatchcase("execute-api:Invoke", str(action)) for action in actions):
        return False
    return any(fnmatch.fnmatchcase(arn, str(resource)) for resource in resources)


def evaluate_policy(answer: dict[str, Any], arn: str) -> bool | None:
    """True (an Allow matches), False (an explicit Deny matches) or None (nothing allows it)."""
    document = answer.get("policyDocument")
    if not isinstance(document, dict):
        raise ValueError("the authorizer's answer has no policyDocument")
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    allowed: bool | None = None
    for statement in statements:
        if not isinstance(statement, dict) or not _statement_matches(statement, arn):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


class AuthorizerRunner:
    """Runs an API's authorizers for requests, with API Gateway's cache."""

    def __init__(self, run: RunAuthorizer, clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        #: Authorizer function invocations made (the cache's hits are not counted).
        self.invocations = 0

    def decide(self, authorizer: Authorizer, request: HttpRequest, match: RouteMatch) -> Decision:
        """Whether `request` may go on to its route, and the authorizer context it carries."""
        api = match.api
        values = identity_values(authorizer, request, api.stage)
        if values is None:
            return Decision(False, refusal=message_response(401, "Unauthorized", "no identity"))
        if authorizer.validation_expression and not re.fullmatch(authorizer.validation_expression, values[0]):
            return Decision(False, refusal=message_response(401, "Unauthorized", "token fails validation"))
        arn = method_arn(api, request.method, match.path)
        key = (api.api_id, authorizer.name, tuple(values))
        cached = False
        answer: dict[str, Any] | None = None
        if authorizer.ttl_s > 0:
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None and hit[0] > self._clock():
                answer, cached = hit[1], True
        if answer is None:
            event = self._event(authorizer, request, match, values, arn)
            with self._lock:
                self.invocations += 1
            payload, error = self._run(authorizer.function, json.dumps(event).encode())
            if error is not None:
                return self._failed(api, payload)
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return self._misconfigured(api, "the authorizer did not answer a JSON object")
            answer = parsed
            if authorizer.ttl_s > 0:
                with self._lock:
                    self._cache[key] = (self._clock() + authorizer.ttl_s, answer)
        return self._verdict(authorizer, api, answer, arn, cached)

    def _verdict(
        self, authorizer: Authorizer, api: Api, answer: dict[str, Any], arn: str, cached: bool
    ) -> Decision:
        context = answer.get("context") if isinstance(answer.get("context"), dict) else {}
        if authorizer.simple_responses:
            if answer.get("isAuthorized") is True:
                return Decision(True, {"lambda": context}, cached=cached)
            return Decision(
                False, refusal=message_response(403, "Forbidden", "authorizer said no"), cached=cached
            )
        try:
            verdict = evaluate_policy(answer, arn)
        except ValueError as exc:
            return self._misconfigured(api, str(exc))
        if verdict is not True:
            if api.kind == REST:
                text = "User is not authorized to access this resource"
                if verdict is False:
                    text += " with an explicit deny"
                body = json.dumps({"Message": text}).encode()
                refusal = HttpResponse(
                    403, (("content-type", "application/json"),), body, "authorizer denied"
                )
            else:
                refusal = message_response(403, "Forbidden", "authorizer denied")
            return Decision(False, refusal=refusal, cached=cached)
        if api.kind == REST:
            seen = {"principalId": answer.get("principalId"), **(context or {})}
            seen["integrationLatency"] = 0
            return Decision(True, seen, cached=cached)
        return Decision(True, {"lambda": context}, cached=cached)

    def _failed(self, api: Api, payload: bytes) -> Decision:
        try:
            message = json.loads(payload).get("errorMessage")
        except (ValueError, AttributeError):
            message = None
        if message == "Unauthorized":
            return Decision(
                False, refusal=message_response(401, "Unauthorized", "authorizer said Unauthorized")
            )
        return self._misconfigured(api, f"the authorizer failed: {message}")

    @staticmethod
    def _misconfigured(api: Api, problem: str) -> Decision:
        # REST answers an authorizer it cannot use with 500 and a null message; HTTP APIs with 500.
        if api.kind == REST:
            body = json.dumps({"message": None}).encode()
            return Decision(
                False, refusal=HttpResponse(500, (("content-type", "application/json"),), body, problem)
            )
        return Decision(False, refusal=message_response(500, "Internal Server Error", problem))

    @staticmethod
    def _event(
        authorizer: Authorizer, request: HttpRequest, match: RouteMatch, values: list[str], arn: str
    ) -> dict[str, Any]:
        api = match.api
        if api.kind == REST and authorizer.kind == "TOKEN":
            return {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
        if api.kind == REST or authorizer.payload_version == "1.0":
            event = rest_event(request, match)
            event.pop("body", None)
            event.pop("isBase64Encoded", None)
            return {"type": "REQUEST", "methodArn": arn, **event}
        event = http_event(
            request,
            route_key=match.route.route_key,
            stage=api.stage,
            api_id=api_id_for(api.api_id),
            domain=request.host,
            domain_prefix=api_id_for(api.api_id),
            path_parameters=match.path_parameters,
        )
        event.pop("body", None)
        event.pop("isBase64Encoded", None)
        return {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": values, **event}
