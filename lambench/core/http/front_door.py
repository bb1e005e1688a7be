"""The HTTP front door: an ASGI application that answers requests as API Gateway and function URLs do.

The event loop only reads requests, matches routes and writes answers; everything that blocks
(authorizers, the function's invocation) runs on a thread pool through the engine's own invoke,
so reserved concurrency throttles, hot reload applies and every invocation is on the timeline
like any other. API Gateway's own integration timeout (29 s REST, 30 s HTTP APIs, or the route's
TimeoutInMillis) is applied here: the client gets its 504/503 while the invocation runs on to
the function's own timeout, as on AWS.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambench.core.http import cors, proxy_responses
from lambench.core.http.alb import alb_error, alb_event, alb_response, pick_rule
from lambench.core.http.authorizers import AuthorizerRunner
from lambench.core.http.model import (
    HTTP,
    REST,
    REST_TIMEOUT_MS,
    URL,
    AlbRule,
    ApiKind,
    FunctionUrl,
    HttpFrontDoors,
)
from lambench.core.http.proxy_responses import HttpResponse, Malformed
from lambench.core.http.request_events import HttpRequest, api_event, api_id_for, http_event
from lambench.core.http.routing import NoRoute, RouteMatch, RouteTable
from lambench.core.record import replace
from lambench.core.runtime import errors
from lambench.core.runtime.invoke_api import InvokeResult
from lambench.core.runtime.records import HttpRecord

#: API Gateway's request payload limit (10 MB); lambench applies it to function URLs too, whose
#: own limit is the Invoke API's 6 MB (a larger body fails at the engine with its own error).
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: Threads that run invocations at once; more requests wait for one (the engine throttles below).
DEFAULT_WORKERS = 64

Invoke = Callable[[str, bytes], InvokeResult]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _rest_request_id() -> str:
    return str(uuid.uuid4())


def _http_request_id() -> str:
    # HTTP APIs use a short id (`JKJaXmPLvHcESHA=`): 10 random bytes, base64 (not secret, so
    # the random module's generator rather than a system call per request).
    return base64.b64encode(random.getrandbits(80).to_bytes(10, "big")).decode()


class FrontDoor:
    """Serves the template's APIs (on the API port) and function URLs (one port each).

    `invoke(function, payload)` is the engine's synchronous invoke; `on_access` receives one
    `HttpRecord` per request. `url_ports` maps a listening port to the function URL it serves.
    """

    def __init__(
        self,
        doors: HttpFrontDoors,
        invoke: Invoke,
        *,
        on_access: Callable[[HttpRecord], None] | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.doors = doors
        self.table = RouteTable(doors)
        self._invoke = invoke
        self._on_access = on_access
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambench-http")
        self.authorizers = AuthorizerRunner(self._run_authorizer)
        self.url_ports: dict[int, FunctionUrl] = {}
        self.api_port: int | None = None
        self.alb_port: int | None = None

    def update(self, doors: HttpFrontDoors) -> None:
        """Serve `doors`' APIs and load balancer rules from the next request (hot reload).

        Function URLs keep their ports: one added to the template is served after a restart.
        """
        table = RouteTable(doors)
        urls = {url.function: url for url in doors.urls}
        self.url_ports = {port: urls.get(url.function, url) for port, url in self.url_ports.items()}
        # One assignment each: a request in flight keeps the table it matched against.
        self.doors = doors
        self.table = table

    def close(self) -> None:
        """Stop taking work; requests in flight finish on their threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        port = (scope.get("server") or ("", 0))[1]
        url = self.url_ports.get(port)
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        method = scope["method"].upper()
        # The route is known before the request is built, so its id (REST's UUID, an HTTP API's
        # short id) is set once.
        alb = port == self.alb_port and port is not None
        match = None if url is not None or alb else self.table.match(method, path)
        body, too_large = await _read_body(receive)
        headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]
        )
        request = HttpRequest(
            method=method,
            raw_path=path,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            time=time.time(),
            request_id=_rest_request_id()
            if url is not None or alb or _kind_of(match, self.table) == REST
            else _http_request_id(),
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
            host=_host(headers, scope),
        )
        function: str | None = None
        if url is not None:
            door = f"url {url.function}"
            function = url.function
            response = await self._url(request, url, too_large)
        elif alb:
            door, function, response = await self._alb(request, port, too_large)
        else:
            assert match is not None
            door, function, response = await self._api(request, match, too_large)
        await _send(send, response, head=method == "HEAD")
        if self._on_access is not None:
            self._on_access(
                HttpRecord(
                    time=request.time,
                    method=method,
                    path=path + (f"?{request.query_string}" if request.query_string else ""),
                    status=response.status,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    request_id=request.request_id,
                    source_ip=request.source_ip,
                    door=door,
                    function=function,
                    problem=response.problem,
                )
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- APIs -----------------------------------------------------------------------------------

    async def _api(
        self, request: HttpRequest, match: RouteMatch | NoRoute, too_large: bool
    ) -> tuple[str, str | None, HttpResponse]:
        """(door, function, answer) for a request to the APIs."""
        if isinstance(match, NoRoute):
            kind = _kind_of(match, self.table)
            preflight = self._preflight(request, match.api.cors if match.api else self._any_cors())
            answer = preflight or _stamped(proxy_responses.not_found(kind), kind, request)
            return "api", None, answer
        api = match.api
        door = f"api {api.api_id}"
        if api.cors is not None and cors.is_preflight(request) and match.route.method != "OPTIONS":
            preflight = self._preflight(request, api.cors)
            if preflight is not None:
                return door, None, preflight
        if too_large:
            return door, match.route.function, _stamped(proxy_responses.too_large(), api.kind, request)
        timeout_s = (REST_TIMEOUT_MS if api.kind == REST else match.route.timeout_ms) / 1000
        response = await self._in_thread(self._call_route, request, match, timeout_s, api.kind)
        extra = cors.response_headers(api.cors, request) if api.kind == HTTP and api.cors is not None else []
        return door, match.route.function, _stamped(response, api.kind, request, extra)

    def _any_cors(self) -> Any:
        # A preflight to a path no route has: answered when exactly one API configures CORS.
        configured = [api.cors for api in self.doors.apis.values() if api.cors is not None]
        return configured[0] if len(configured) == 1 else None

    @staticmethod
    def _preflight(request: HttpRequest, config: Any) -> HttpResponse | None:
        if config is None or not cors.is_preflight(request):
            return None
        headers = cors.preflight_headers(config, request)
        if headers is None:
            return HttpResponse(204, (), b"", "preflight refused")
        return HttpResponse(204, tuple(headers), b"")

    def _call_route(self, request: HttpRequest, match: RouteMatch) -> HttpResponse:
        api = match.api
        authorizer_context = None
        name = match.route.authorizer
        if name is not None:
            decision = self.authorizers.decide(api.authorizers[name], request, match)
            if not decision.allowed:
                assert decision.refusal is not None
                return decision.refusal
            authorizer_context = decision.context
        event = api_event(request, match, authorizer_context)
        kind = api.kind if match.route.payload_version == "1.0" or api.kind == REST else HTTP
        return self._call(match.route.function, event, kind, match.route.payload_version)

    # -- function URLs --------------------------------------------------------------------------

    async def _url(self, request: HttpRequest, url: FunctionUrl, too_large: bool) -> HttpResponse:
        if url.cors is not None and cors.is_preflight(request):
            preflight = self._preflight(request, url.cors)
            if preflight is not None:
                return preflight
        if url.auth_type == "AWS_IAM" and not (request.header("authorization") or "").startswith(
            "AWS4-HMAC-SHA256"
        ):
            # Locally a signature is required, not verified (lambench has no IAM to check it against).
            response = proxy_responses.forbidden()
        elif too_large:
            response = proxy_responses.too_large()
        else:
            response = await self._in_thread(self._call_url, request, url, None, URL)
        if url.cors is not None:
            response = _extra_headers(response, cors.response_headers(url.cors, request))
        return _extra_headers(response, [("x-amzn-requestid", request.request_id)])

    def _call_url(self, request: HttpRequest, url: FunctionUrl) -> HttpResponse:
        url_id = api_id_for(url.function, 32)
        event = http_event(
            request,
            route_key="$default",
            stage="$default",
            api_id=url_id,
            domain=request.host,
            domain_prefix=url_id,
            path_parameters={},
        )
        return self._call(url.function, event, URL, "2.0")

    # -- the load balancer ----------------------------------------------------------------------

    async def _alb(
        self, request: HttpRequest, port: int, too_large: bool
    ) -> tuple[str, str | None, HttpResponse]:
        rule = pick_rule(self.doors.alb_rules, request)
        if rule is None:
            return "alb", None, alb_error(404, "no listener rule")
        door = f"alb {rule.name or rule.target_group}"
        if too_large:
            return door, rule.function, alb_error(413)
        response = await self._in_thread(self._call_alb, request, (rule, port), None, URL)
        return door, rule.function, response

    def _call_alb(self, request: HttpRequest, target: tuple[AlbRule, int]) -> HttpResponse:
        rule, port = target
        try:
            result = self._invoke(rule.function, json.dumps(alb_event(request, rule, port)).encode())
        except errors.TooManyRequestsError:
            return alb_error(503, "throttled")
        except errors.LambdaServiceError as exc:
            return alb_error(502, f"{exc.error_code}: {exc.message}")
        if result.function_error is not None:
            return alb_error(502, f"function error ({result.figures.error_type or result.function_error})")
        try:
            return alb_response(result.payload, rule)
        except Malformed as exc:
            return alb_error(502, f"malformed response: {exc}")

    # -- invoking -------------------------------------------------------------------------------

    async def _in_thread(
        self,
        call: Callable[..., HttpResponse],
        request: HttpRequest,
        target: Any,
        timeout_s: float | None,
        kind: Any,
    ) -> HttpResponse:
        # One future the worker thread answers, and one timer for API Gateway's limit: cheaper than
        # run_in_executor with wait_for and shield, which chain three futures and a task.
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[HttpResponse] = loop.create_future()

        def run() -> None:
            try:
                outcome: tuple[HttpResponse | None, BaseException | None] = (call(request, target), None)
            except BaseException as exc:  # handed to the awaiting coroutine, not lost on the pool
                outcome = (None, exc)
            loop.call_soon_threadsafe(_settle, answer, *outcome)

        try:
            self._pool.submit(run)
        except RuntimeError:  # the pool was shut down: lambench is stopping
            return proxy_responses.message_response(503, "Service Unavailable", "lambench is stopping")
        timer = None
        if timeout_s is not None:
            timer = loop.call_later(
                timeout_s, _settle, answer, proxy_responses.integration_timeout(kind), None
            )
        try:
            return await answer
        finally:
            if timer is not None:
                timer.cancel()

    def _call(self, function: str, event: dict[str, Any], kind: Any, payload_version: str) -> HttpResponse:
        try:
            result = self._invoke(function, json.dumps(event).encode())
        except errors.TooManyRequestsError:
            return proxy_responses.throttled(kind)
        except errors.LambdaServiceError as exc:
            return proxy_responses.function_failed(kind, f"{exc.error_code}: {exc.message}")
        if result.function_error is not None:
            error_type = result.figures.error_type or result.function_error
            return proxy_responses.function_failed(kind, f"function error ({error_type})")
        try:
            if payload_version == "1.0":
                return proxy_responses.rest_response(result.payload)
            if kind == URL and result.content_type != "application/json":
                # A streaming handler's answer (collected whole: the engine has no chunked answers).
                return proxy_responses.streamed_response(result.payload, result.content_type)
            return proxy_responses.http_response(result.payload)
        except Malformed as exc:
            return proxy_responses.function_failed(kind, f"malformed Lambda proxy response: {exc}")

    def _run_authorizer(self, function: str, payload: bytes) -> tuple[bytes, str | None]:
        try:
            result = self._invoke(function, payload)
        except errors.LambdaServiceError as exc:
            return json.dumps({"errorMessage": exc.message}).encode(), exc.error_code
        return result.payload, result.function_error


def _settle(
    future: asyncio.Future[HttpResponse], response: HttpResponse | None, error: BaseException | None
) -> None:
    """The first answer wins: the function's, or the integration timeout's."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert response is not None
        future.set_result(response)


def _host(headers: tuple[tuple[str, str], ...], scope: Scope) -> str:
    for name, value in headers:
        if name == "host":
            return value
    server = scope.get("server") or ("127.0.0.1", 0)
    return f"{server[0]}:{server[1]}"


def _kind_of(match: RouteMatch | NoRoute | None, table: RouteTable) -> ApiKind:
    """Which kind of API answers: the matched one's, the named stage's, else HTTP when every API is."""
    if match is not None and match.api is not None:
        return match.api.kind
    return HTTP if table.http_only else REST


def _extra_headers(response: HttpResponse, headers: list[tuple[str, str]]) -> HttpResponse:
    if not headers:
        return response
    present = {name.lower() for name, _ in response.headers}
    added = tuple((name, value) for name, value in headers if name.lower() not in present)
    return replace(response, headers=response.headers + added)


def _stamped(
    response: HttpResponse, kind: Any, request: HttpRequest, extra: list[tuple[str, str]] | None = None
) -> HttpResponse:
    """The request id headers API Gateway adds to every answer (and `extra`, such as CORS's)."""
    headers = list(extra or ())
    if kind == REST:
        headers += [
            ("x-amzn-requestid", request.request_id),
            ("x-amz-apigw-id", api_id_for(request.request_id, 16)),
        ]
    else:
        headers.append(("apigw-requestid", request.request_id))
    return _extra_headers(response, headers)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, or (b"", True) once it passes the limit (the rest is read and dropped)."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            too_large = True
            chunks = []
        elif not too_large:
            chunks.append(chunk)
        if not message.get("more_body"):
            break
    return (b"" if too_large else b"".join(chunks)), too_large


async def _send(send: Send, response: HttpResponse, *, head: bool) -> None:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
        for name, value in response.headers
    ]
    if not any(name == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})
