"""The embedded account: moto's server on 127.0.0.1, listening at once, started on first need.

The port is bound when the object is made, so the endpoint can go into every execution
environment's `AWS_ENDPOINT_URL` before moto is even imported. moto itself (about half a second
of imports, more per service on first use) starts in a background thread the first time a client
connects or someone calls `start()`; a client that connects earlier simply waits in the socket's
listen queue, so nothing on the invoke path ever pays for moto.

Requests pass through a small WSGI layer before moto: lambench's own routes (a local function's
Invoke) are served first, and until the start-up hooks (creating the template's resources,
registering functions) have run, other clients' requests wait, so a handler never sees a table
that is about to exist.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lambench.core.diagnostics import logger

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer


#: Header lambench's own start-up requests carry, so they are not held back by the start-up gate.
INTERNAL_HEADER = "X-Lambench-Internal"
_INTERNAL_ENVIRON_KEY = "HTTP_X_LAMBENCH_INTERNAL"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: A route sees every request first; it returns a WSGI response body, or None to pass it on to moto.
Route = Callable[[dict[str, Any], StartResponse], Iterable[bytes] | None]
#: A start-up hook runs once moto serves, before other clients' requests are let through.
StartHook = Callable[[str], None]
#: What an observer wants done once moto has answered: called with the status, headers and body.
AfterResponse = Callable[[int, list[tuple[str, str]], bytes], None]
#: An observer sees every request moto serves and may ask to see its response (it may read the
#: body, if it puts an equal `wsgi.input` back).
Observer = Callable[[dict[str, Any]], AfterResponse | None]


class EmbeddedMoto:
    """moto's server for one lambench process, bound to `host` and a free port (or `port`).

    Thread-safe. `stop()` (or leaving a `with` block) shuts the server down and joins its threads.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, gate_timeout_s: float = 60.0) -> None:
        self._socket = socket.create_server((host, port), backlog=128)
        self.host, self.port = self._socket.getsockname()[:2]
        self._routes: list[Route] = []
        self._observers: list[Observer] = []
        self._hooks: list[StartHook] = []
        self._on_open: list[Callable[[], None]] = []
        self._hooks_thread: threading.Thread | None = None
        self._gate_timeout_s = gate_timeout_s
        self._lock = threading.Lock()
        self._started = threading.Event()  # moto is serving
        self._opened = threading.Event()  # start-up hooks have run: everyone may come in
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._start_error: BaseException | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self.startup_s: float | None = None
        self._thread = threading.Thread(target=self._run, name="lambench-moto", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{self.host}:{self.port}"

    @property
    def started(self) -> bool:
        """Whether moto is serving (it starts on the first connection or `start()`)."""
        return self._started.is_set()

    def add_route(self, route: Route) -> None:
        """Serve some requests before moto sees them (add before the server starts)."""
        self._routes.append(route)

    def add_observer(self, observer: Observer) -> None:
        """Let `observer` see the requests moto serves, and their responses (any time)."""
        self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop showing requests to `observer`."""
        with contextlib.suppress(ValueError):
            self._observers.remove(observer)

    def add_start_hook(self, hook: StartHook) -> None:
        """Run `hook(endpoint)` once moto serves, before other clients' requests are let in.

        Hooks send their own requests with the `X-Lambench-Internal: 1` header. A hook that fails is
        logged and skipped: the account still opens.
        """
        self._hooks.append(hook)

    def when_open(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the account is open (now, if it is; on a thread of the server's
        otherwise). It does not start moto."""
        with self._lock:
            if not self._opened.is_set():
                self._on_open.append(callback)
                return
        callback()

    def start(self, timeout: float | None = 60.0) -> None:
        """Start moto now (if it has not started) and wait until it is open to every client."""
        self._wake_w.send(b"s")
        if not self._opened.wait(timeout):
            raise TimeoutError(f"moto did not start within {timeout} s")
        if self._start_error is not None:
            raise RuntimeError(f"moto failed to start: {self._start_error}") from self._start_error

    def stop(self) -> None:
        """Shut the server down and join its thread; safe to call twice."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        with self._lock:
            server = self._server
        if server is not None and self._started.is_set():
            server.shutdown()
        self._thread.join(timeout=30)
        # Closing the listening socket resets the requests still waiting in its queue: start-up
        # hooks caught mid-request (the user quit while the account was filling) fail at once
        # instead of waiting out their read timeout.
        for closable in (self._socket, self._wake_r, self._wake_w):
            closable.close()
        if server is not None:
            server.server_close()
        self._opened.set()
        if self._hooks_thread is not None:
            self._hooks_thread.join(timeout=10)

    def __enter__(self) -> EmbeddedMoto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the server thread ----------------------------------------------------------------------

    def _run(self) -> None:
        # Wait for a client or start(), without importing anything heavy.
        _readable, _, _ = select.select([self._socket, self._wake_r], [], [])
        if self._stopping.is_set():
            return
        began = time.perf_counter()
        try:
            server = self._make_server()
        except BaseException as exc:  # reported to start() callers and logged
            logger(__name__).exception("moto could not start")
            self._start_error = exc
            self._opened.set()
            return
        with self._lock:
            self._server = server
        if self._stopping.is_set():
            return
        self._started.set()
        hooks = threading.Thread(target=self._open, args=(began,), name="lambench-moto-hooks", daemon=True)
        self._hooks_thread = hooks
        hooks.start()
        server.serve_forever(poll_interval=0.2)

    def _make_server(self) -> BaseWSGIServer:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        moto_app = DomainDispatcherApplication(create_backend_app)
        return make_server(
            self.host,
            self.port,
            self._app(moto_app),
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=self._socket.fileno(),
        )

    def _open(self, began: float) -> None:
        for hook in self._hooks:
            if self._stopping.is_set():
                break
            try:
                hook(self.endpoint)
            except Exception:
                logger(__name__).exception("a start-up step of the embedded account failed")
        self.startup_s = time.perf_counter() - began
        with self._lock:
            self._opened.set()
            waiting, self._on_open = self._on_open, []
        for callback in waiting:
            if self._stopping.is_set():
                break
            try:
                callback()
            except Exception:
                logger(__name__).exception("a step after the embedded account opened failed")

    def _app(self, moto_app: WsgiApp) -> WsgiApp:
        routes = self._routes
        observers = self._observers

        def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if _INTERNAL_ENVIRON_KEY not in environ and not self._opened.is_set():
                self._opened.wait(self._gate_timeout_s)
            for route in routes:
                body = route(environ, start_response)
                if body is not None:
                    return body
            followers = [f for f in (observer(environ) for observer in list(observers)) if f is not None]
            if not followers:
                return moto_app(environ, start_response)
            return _observed(moto_app, environ, start_response, followers)

        return app


def _observed(
    moto_app: WsgiApp, environ: dict[str, Any], start_response: StartResponse, followers: list[AfterResponse]
) -> Iterable[bytes]:
    """Run moto, then show its whole response to each follower (they are small API answers)."""
    seen: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        seen["status"], seen["headers"] = status, headers
        return start_response(status, headers, *exc_info)

    result = moto_app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = int(str(seen.get("status", "500")).split(" ", 1)[0])
    for follower in followers:
        try:
            follower(status, list(seen.get("headers", [])), body)
        except Exception:
            logger(__name__).exception("an observer of the embedded account failed")
    return [body]
