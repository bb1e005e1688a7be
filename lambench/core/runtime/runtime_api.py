"""The wire side of the Runtime API (lambda-facts §1.2-1.5): HTTP/1.1 on one environment's endpoint.

Each execution environment gets its own listening socket on 127.0.0.1, as each AWS sandbox has its
own `AWS_LAMBDA_RUNTIME_API`. This module only frames requests and responses; what they mean is
decided by the environment that owns the endpoint. It is written for the warm path: one `recv`,
a `find` for the end of the headers, and one `send` per response, with TCP_NODELAY set
(stock `http.server` pays Nagle's delay on every request).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time

from lambench.core.record import field, record

API_PREFIX = "/2018-06-01"
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
INIT_ERROR_PATH = "/2018-06-01/runtime/init/error"
INVOCATION_PREFIX = "/2018-06-01/runtime/invocation/"
PING_PATH = "/2018-06-01/ping"

#: Headers larger than this are a broken client, not a Lambda runtime.
MAX_HEADER_BYTES = 64 * 1024
#: Bodies are read whole; beyond this the connection is answered 413 and closed, so a runaway
#: runtime cannot make the engine buffer without bound. The Lambda limit itself is checked later.
MAX_BODY_BYTES = 32 * 1024 * 1024

_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1; the connection is answered and closed."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@record
class HttpRequest:
    """One request from the runtime; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless the client said `Connection: close`."""
        return self.headers.get("connection", "").lower() != "close"


def error_body(error_type: str, message: str) -> bytes:
    """The JSON body RAPID sends with an error status: `{"errorMessage": ..., "errorType": ...}`."""
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


ACCEPTED_BODY = b'{"status":"OK"}'


def render_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """Status line, headers and body as one bytes object (one `sendall`, one TCP segment if small)."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", "Content-Type: application/json"]
    if headers:
        lines.extend(f"{name}: {value}" for name, value in headers.items() if value)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# Precomputed: the runtime gets this after every response and error post.
ACCEPTED_RESPONSE = render_response(202, ACCEPTED_BODY)


@record
class Connection:
    """One accepted connection from a runtime, with its unparsed input."""

    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    closed: bool = False

    def fileno(self) -> int:
        """The socket's descriptor, for selectors."""
        return self.sock.fileno()

    def receive(self) -> list[HttpRequest]:
        """Read what is available and return the complete requests in it (possibly none).

        Sets `closed` when the peer closed the connection; raises ProtocolError on garbage.
        """
        try:
            chunk = self.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            self.closed = True
            return []
        if not chunk:
            self.closed = True
            return []
        self.buffer += chunk
        requests: list[HttpRequest] = []
        while True:
            request = self._parse_one()
            if request is None:
                return requests
            requests.append(request)

    def _parse_one(self) -> HttpRequest | None:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEADER_BYTES:
                raise ProtocolError(400, "InvalidRequest", "Request headers too large")
            return None
        head = bytes(buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            raise ProtocolError(400, "InvalidRequest", "Malformed request line") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(400, "InvalidRequest", "Malformed header line")
            headers[name.strip().lower()] = value.strip()
        body_start = end + 4
        path = target.split("?", 1)[0]
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parsed = _parse_chunked(buf, body_start)
            if parsed is None:
                self._continue_if_expected(headers)
                return None
            body, consumed = parsed
            del buf[:consumed]
            return HttpRequest(method, path, headers, body)
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise ProtocolError(400, "InvalidRequest", "Malformed Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise ProtocolError(
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({MAX_BODY_BYTES} bytes).",
            )
        if len(buf) - body_start < length:
            self._continue_if_expected(headers)
            return None
        body = bytes(buf[body_start : body_start + length])
        del buf[: body_start + length]
        return HttpRequest(method, path, headers, body)

    def _continue_if_expected(self, headers: dict[str, str]) -> None:
        # curl waits for "100 Continue" before sending large bodies; answer once per request.
        if headers.get("expect", "").lower() == "100-continue":
            headers["expect"] = ""
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def send(self, data: bytes, timeout_s: float = 30.0) -> bool:
        """Write all of `data`; False (and `closed`) if the runtime went away or stopped reading.

        The socket is non-blocking: small answers go out in one `send`, and only a large event to
        a slow reader waits (for write readiness, at most `timeout_s`).
        """
        view = memoryview(data)
        deadline: float | None = None
        try:
            while view:
                try:
                    sent = self.sock.send(view)
                except (BlockingIOError, InterruptedError):
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + timeout_s
                    if now >= deadline:
                        raise TimeoutError from None
                    select.select([], [self.sock], [], deadline - now)
                    continue
                view = view[sent:]
            return True
        except OSError:
            self.closed = True
            return False

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


def _parse_chunked(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    body = bytearray()
    pos = start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size_text = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(400, "InvalidRequest", "Malformed chunk size") from None
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n", pos)
            # Skip trailers up to the blank line.
            while trailer_end >= 0 and trailer_end != pos:
                pos = trailer_end + 2
                trailer_end = buf.find(b"\r\n", pos)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 2
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos : pos + size]
        if len(body) > MAX_BODY_BYTES:
            raise ProtocolError(
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({MAX_BODY_BYTES} bytes).",
            )
        pos += size + 2


def open_listener() -> socket.socket:
    """A listening socket on 127.0.0.1 with a free port, non-blocking (accepts come via selectors)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    return sock


def accept(listener: socket.socket) -> Connection | None:
    """Accept one pending connection, configured for low latency; None if there was none."""
    try:
        sock, _addr = listener.accept()
    except (BlockingIOError, InterruptedError):
        return None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Non-blocking, not a timeout: CPython polls before every send and recv on a socket with a
    # timeout, two extra system calls per message on the warm path.
    sock.setblocking(False)
    return Connection(sock)
