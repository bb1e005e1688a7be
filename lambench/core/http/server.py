"""Running the front door: uvicorn (with httptools) on its own thread and event loop.

uvicorn is a well-kept ASGI server; with httptools it parses HTTP/1.1 in C, keeps connections
alive, and since each connection is a coroutine a slow or stuck client holds only its own
connection. lambench binds the sockets itself (so port 0 gives a free port known before the
first request) and hands them all to one server: the API port and one port per function URL.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

from lambench.core.http.front_door import FrontDoor
from lambench.core.http.model import FunctionUrl

DEFAULT_HOST = "127.0.0.1"
#: Connections served at once before uvicorn answers 503 (a bound, not a target).
MAX_CONNECTIONS = 1_000
#: An idle keep-alive connection is closed after this long (uvicorn's default is 5 s).
KEEP_ALIVE_S = 5


class FrontDoorError(OSError):
    """A front door port could not be bound (in use, not allowed); the message says which."""


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a keep-alive client waits 40 ms (its delayed
    # ACK) for each answer, whose body uvicorn writes after the headers.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise FrontDoorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class FrontDoorServer:
    """Binds the ports and serves `door` until `stop`."""

    def __init__(
        self,
        door: FrontDoor,
        *,
        host: str = DEFAULT_HOST,
        api_port: int = 0,
        url_port: int = 0,
        alb_port: int = 0,
    ) -> None:
        self.door = door
        self.host = host
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        try:
            if door.doors.routes:
                api = _bind(host, api_port)
                self._sockets.append(api)
                door.api_port = api.getsockname()[1]
            for index, url in enumerate(door.doors.urls):
                # --url-port N gives the first URL port N, the next N + 1, ...; 0 picks free ones.
                wanted = url_port + index if url_port else 0
                sock = _bind(host, wanted)
                self._sockets.append(sock)
                door.url_ports[sock.getsockname()[1]] = url
            if door.doors.alb_rules:
                alb = _bind(host, alb_port)
                self._sockets.append(alb)
                door.alb_port = alb.getsockname()[1]
        except FrontDoorError:
            self._close_sockets()
            raise

    @property
    def api_url(self) -> str | None:
        """`http://127.0.0.1:PORT` of the APIs, or None without routes."""
        return None if self.door.api_port is None else f"http://{self.host}:{self.door.api_port}"

    @property
    def alb_url(self) -> str | None:
        """`http://127.0.0.1:PORT` of the load balancer's listener, or None without one."""
        return None if self.door.alb_port is None else f"http://{self.host}:{self.door.alb_port}"

    def url_of(self, url: FunctionUrl) -> str:
        """Where a function URL is served."""
        port = next(port for port, served in self.door.url_ports.items() if served is url)
        return f"http://{self.host}:{port}/"

    def start(self, timeout_s: float = 10.0) -> None:
        """Serve on a background thread; returns once the server accepts connections."""
        import uvicorn

        try:
            import httptools  # noqa: F401

            http = "httptools"
        except ImportError:  # pragma: no cover - httptools is a dependency; h11 is uvicorn's fallback
            http = "h11"
        config = uvicorn.Config(
            self.door,
            http=http,
            loop="asyncio",
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_S,
            limit_concurrency=MAX_CONNECTIONS,
            server_header=False,
            # No proxy in front: the client's address is the peer's (and the middleware costs).
            proxy_headers=False,
            date_header=True,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="lambench-front-door", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._started.is_set() and self._failure is None and time.monotonic() < deadline:
            self._started.wait(0.01)
            if self._server.started:
                self._started.set()
        if self._failure is not None:
            raise FrontDoorError(f"the front door did not start: {self._failure}")

    def _serve(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=self._sockets))
        except BaseException as exc:  # reported to start(), or lost at shutdown
            self._failure = exc

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let answers in flight go out, and close every socket."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout_s)
        self.door.close()
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def __enter__(self) -> FrontDoorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
