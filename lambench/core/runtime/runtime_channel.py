"""The Runtime API as one environment serves it, and the selector its invoking thread waits on.

The runtime asks for its next event (`next`), answers it (`response` or `error`) or reports a
failed init (`init/error`); the channel keeps what it asked and answered for the environment to
act on. The same selector also watches the runtime's output pipe and its exit, so one `pump`
waits for all three without a thread of its own.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
from collections.abc import Callable

from lambench.core.record import record
from lambench.core.runtime import errors, runtime_api

#: How long an invoking thread polls for the runtime's answer before it blocks, when it is the
#: only invocation in flight. A blocked thread on an idle CPU is slow to wake (tens of
#: microseconds, worst in virtual machines); polling with sched_yield keeps a lone back-to-back
#: stream fast, and is skipped under concurrency, where it would only take CPU from others.
POLL_S = 0.0002
_POLL_HINT = f"{int(POLL_S * 1e6)}"
_LISTENER = "listener"
LOG = "log"
EXIT = "exit"


@record
class Invocation:
    """One event handed to an environment."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    content_type: str = "application/json"
    #: Which attempt of an asynchronous (`Event`) invocation this is (1 the first); None if synchronous.
    attempt: int | None = None


@record(frozen=True)
class Answer:
    """How the runtime answered the current event.

    `kind` is `response`, `error`, `too_large` (a response over the limit) or `bad_mode` (an
    unknown response mode header).
    """

    kind: str
    body: bytes
    headers: dict[str, str]


class RuntimeChannel:
    """One environment's Runtime API endpoint on 127.0.0.1, and what its runtime has asked.

    `on_log` runs when the output pipe is readable and `on_exit` when the runtime process ended.
    """

    def __init__(self, *, on_log: Callable[[], None], on_exit: Callable[[], None]) -> None:
        self._on_log = on_log
        self._on_exit = on_exit
        self._listener = runtime_api.open_listener()
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, _LISTENER)
        self._connections: list[runtime_api.Connection] = []
        #: Whether a runtime process is live: connections are only accepted while one is.
        self.live = False
        #: The connection whose `next` waits for an event.
        self.waiting: runtime_api.Connection | None = None
        #: The request id of the event being answered, if any.
        self.current: str | None = None
        self.answer: Answer | None = None
        self.init_error: tuple[bytes, dict[str, str]] | None = None

    # -- what the environment drives ------------------------------------------------------------

    def watch(self, fd: int, tag: str) -> None:
        """Wake `pump` when `fd` is readable: the output pipe (LOG) or a pidfd (EXIT)."""
        self._selector.register(fd, selectors.EVENT_READ, tag)

    def unwatch(self, fd: int) -> None:
        """Stop watching `fd` (it may already be gone)."""
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(fd)

    def adopt(self, sock: socket.socket) -> None:
        """Serve the Runtime API on an already connected socket (lambench's own runtime's socketpair)."""
        sock.setblocking(False)
        self._add(runtime_api.Connection(sock))

    def forget_requests(self) -> None:
        """A runtime is starting: nothing it asked before counts."""
        self.init_error = None
        self.waiting = None

    def begin(self, request_id: str) -> None:
        """An event is about to be handed over: only answers to it count."""
        self.current = request_id
        self.answer = None

    def end(self) -> None:
        """The current event has its outcome."""
        self.current = None
        self.answer = None

    def deliver(self, invocation: Invocation, deadline_ms: int, *, poll_hint: bool) -> bool:
        """Hand the event to the runtime waiting in `next`; False if the connection broke."""
        conn, self.waiting = self.waiting, None
        assert conn is not None
        return conn.send(_render_event(invocation, deadline_ms, poll_hint))

    def pump(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for runtime traffic, output or exit, and handle what came."""
        for key, _mask in self._selector.select(timeout):
            tag = key.data
            if tag == LOG:
                self._on_log()
            elif tag == EXIT:
                self._on_exit()
            elif tag == _LISTENER:
                conn = runtime_api.accept(self._listener)
                if conn is not None and self.live:
                    self._add(conn)
                elif conn is not None:
                    conn.close()
            else:
                self._serve(tag)

    def drop_connections(self) -> None:
        """The runtime process is gone: close every connection it had."""
        for conn in list(self._connections):
            self._drop(conn)
        self.waiting = None
        self.live = False

    def close(self) -> None:
        """Close the endpoint for good."""
        self.drop_connections()
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)
        self._listener.close()
        self._selector.close()

    # -- serving the runtime --------------------------------------------------------------------

    def _add(self, conn: runtime_api.Connection) -> None:
        self._connections.append(conn)
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _drop(self, conn: runtime_api.Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.close()
        if self.waiting is conn:
            self.waiting = None
        if conn in self._connections:
            self._connections.remove(conn)

    def _serve(self, conn: runtime_api.Connection) -> None:
        try:
            requests = conn.receive()
        except runtime_api.ProtocolError as exc:
            conn.send(
                runtime_api.render_response(exc.status, runtime_api.error_body(exc.error_type, exc.message))
            )
            self._drop(conn)
            return
        for request in requests:
            self._route(conn, request)
            if not request.keep_alive:
                self._drop(conn)
                return
        if conn.closed:
            self._drop(conn)

    def _route(self, conn: runtime_api.Connection, request: runtime_api.HttpRequest) -> None:
        path = request.path
        if path == runtime_api.NEXT_PATH and request.method == "GET":
            self.waiting = conn
        elif path.startswith(runtime_api.INVOCATION_PREFIX) and request.method == "POST":
            self._invocation_answer(conn, request)
        elif path == runtime_api.INIT_ERROR_PATH and request.method == "POST":
            if self.current is not None or self.init_error is not None:
                conn.send(
                    _error(
                        403,
                        "InvalidStateTransition",
                        "State transition from Ready to InitError failed for runtime. "
                        "Error: State transition is not allowed",
                    )
                )
                return
            conn.send(runtime_api.ACCEPTED_RESPONSE)
            self.init_error = (request.body, request.headers)
        elif path == runtime_api.PING_PATH:
            conn.send(runtime_api.render_response(200, b"pong"))
        else:
            conn.send(_not_found())

    def _invocation_answer(self, conn: runtime_api.Connection, request: runtime_api.HttpRequest) -> None:
        """`POST .../invocation/<id>/response` or `.../error`."""
        request_id, _, action = request.path[len(runtime_api.INVOCATION_PREFIX) :].partition("/")
        if action not in ("response", "error"):
            conn.send(_not_found())
            return
        if self.current is None or request_id != self.current or self.answer is not None:
            conn.send(_error(400, "InvalidRequestID", "Invalid request ID"))
            return
        if action == "response":
            mode = request.headers.get("lambda-runtime-function-response-mode")
            if mode is not None and mode != "streaming":
                conn.send(_error(400, "InvalidFunctionResponseMode", "Invalid function response mode"))
                body = errors.platform_error_payload(
                    "Runtime.InvalidResponseModeHeader", "Invalid function response mode"
                )
                self.answer = Answer("bad_mode", body, request.headers)
                return
            if len(request.body) > errors.MAX_RESPONSE_BYTES:
                conn.send(
                    _error(
                        413,
                        "RequestEntityTooLarge",
                        f"Exceeded maximum allowed payload size ({errors.MAX_RESPONSE_BYTES} bytes).",
                    )
                )
                self.answer = Answer("too_large", b"", request.headers)
                return
        conn.send(runtime_api.ACCEPTED_RESPONSE)
        self.answer = Answer(action, request.body, request.headers)


def error_type_of(body: bytes, headers: dict[str, str]) -> str | None:
    """The error type a runtime reported: its header, or the `errorType` of its JSON body."""
    header = headers.get("lambda-runtime-function-error-type")
    if header:
        return header
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(parsed, dict):
        value = parsed.get("errorType")
        return value if isinstance(value, str) else None
    return None


def _render_event(event: Invocation, deadline_ms: int, poll_hint: bool) -> bytes:
    headers = {
        "Lambda-Runtime-Aws-Request-Id": event.request_id,
        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
        "Lambda-Runtime-Invoked-Function-Arn": event.invoked_function_arn,
        "Lambda-Runtime-Trace-Id": event.trace_id,
    }
    if event.client_context:
        headers["Lambda-Runtime-Client-Context"] = event.client_context
    if event.cognito_identity:
        headers["Lambda-Runtime-Cognito-Identity"] = event.cognito_identity
    if poll_hint:
        headers["Lambench-Poll-Us"] = _POLL_HINT
    lines = ["HTTP/1.1 200 OK", f"Content-Type: {event.content_type}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    lines.append(f"Content-Length: {len(event.payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + event.payload


def _error(status: int, error_type: str, message: str) -> bytes:
    return runtime_api.render_response(status, runtime_api.error_body(error_type, message))


def _not_found() -> bytes:
    return _error(404, "InvalidRequest", "Not Found")
