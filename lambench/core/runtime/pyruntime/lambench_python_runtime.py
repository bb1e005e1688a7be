"""lambench's Python runtime client: the bootstrap that runs inside a local execution environment.

It plays the part of AWS's Python runtime interface client (``/var/runtime`` in a managed image): it
talks to the engine's Runtime API over HTTP/1.1, imports the function's handler and runs invocations
with the context, error payloads and log lines that AWS Lambda produces (see
``shared/reference/lambda-facts.md`` §1-§5). The engine starts it as::

    <python> -I -u -c "import sys; sys.path.insert(0, RUNTIME_DIR);
                       import lambench_python_runtime as r; r.main()"

(on one line) with the working directory set to the function's code and the Lambda environment
variables set.

Everything here is standard library only, and start-up imports are kept to os, sys, json, time and
_socket because the engine measures cold starts against a bare interpreter: logging is configured the
moment user code first imports it, and traceback and decimal are only touched when they are needed.
"""

from __future__ import annotations

import _socket
import os
import sys
import time

# A local flag rather than typing.TYPE_CHECKING: importing typing would cost milliseconds of cold start,
# and both mypy and ruff treat a name spelled TYPE_CHECKING as the type-checking guard.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType, TracebackType
    from typing import Any, NoReturn

    HandlerFunction = Callable[[Any, "LambdaContext"], Any]
    FrameTuple = tuple[str, int, str, str | None]

_RUNTIME_PATH = "/2018-06-01/runtime"
_DONTWAIT = getattr(_socket, "MSG_DONTWAIT", 0)
_sched_yield = getattr(os, "sched_yield", lambda: None)
_perf_counter = time.perf_counter
_RECV_SIZE = 65536
_XRAY_CAUSE_LIMIT = 1024 * 1024

# Frame types of the telemetry log framing (§1.8): a base per format plus level bits.
_TEXT_FRAME = 0xA55A0003
_JSON_FRAME = 0xA55A0002
_LEVEL_FRAME_BITS = {10: 0x08, 20: 0x0C, 30: 0x10, 40: 0x14, 50: 0x18}

_TEXT_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_JSON_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# AWS_LAMBDA_LOG_LEVEL uses Lambda's level names; the logging module spells three of them differently.
_LOG_LEVEL_NAMES = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
    "CRITICAL": "CRITICAL",
}

# Runtimes whose marshaller writes UTF-8 instead of \u escapes (§4.5).
_UTF8_RESPONSE_ENVS = frozenset(f"AWS_Lambda_python3.{minor}" for minor in range(12, 16))

_UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
    "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
    "managed runtimes, runtime updates can be triggered by a function change, or can be applied "
    "automatically. To determine if the runtime has been updated, check the runtime version in the "
    "INIT_START log entry. If this error correlates with a change in the runtime version, you may be able "
    "to mitigate this error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

_THIS_FILE = __file__

# Per-invocation state read by the logging filter; a module global so that log records emitted from any
# thread during (or after) an invocation carry the id of the invocation in flight, as on AWS.
_request_id = ""
_tenant_id: str | None = None


# --------------------------------------------------------------------------------------------------
# Log output
# --------------------------------------------------------------------------------------------------


class _LogSink:
    """Destination of runtime-produced log output: stdout, or the framed telemetry fd of §1.8."""

    __slots__ = ("fd",)

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def write(self, text: str, frame_type: int) -> None:
        """Write one log event exactly as given (no newline is added)."""
        fd = self.fd
        if fd is None:
            # Looked up on every call because user code may legitimately replace sys.stdout.
            sys.stdout.write(text)
            return
        data = text.encode("utf-8", "replace")
        frame = (
            frame_type.to_bytes(4, "big")
            + len(data).to_bytes(4, "big")
            + (time.time_ns() // 1000).to_bytes(8, "big")
            + data
        )
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view) :]

    def write_lines(self, lines: list[str], frame_type: int) -> None:
        """Write a multi-line report as one log event.

        On stdout the lines are joined with CR so that a line-splitting reader keeps them as one event
        (newlines inside an exception message would split it too, so they become CR as well); a framed
        event carries its own boundary, so real newlines are kept there.
        """
        if self.fd is None:
            sys.stdout.write("\r".join(lines).replace("\n", "\r") + "\n")
        else:
            self.write("\n".join(lines), frame_type)


class _LogSettings:
    """Log format, level and sink decided once from the environment at start-up."""

    __slots__ = ("json_format", "level", "per_level_frames", "sink")

    def __init__(self) -> None:
        self.json_format = False
        self.level: str | None = None
        self.per_level_frames = False
        self.sink = _LogSink(None)

    def load(self, environ: os._Environ[str]) -> None:
        """Read AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL and _LAMBDA_TELEMETRY_LOG_FD."""
        self.json_format = environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
        raw_level = environ.get("AWS_LAMBDA_LOG_LEVEL", "").strip().upper()
        self.level = _LOG_LEVEL_NAMES.get(raw_level)
        if self.level is None and self.json_format:
            # AWS always passes ApplicationLogLevel (default INFO) with the JSON format; keep that
            # behaviour even if the variable was left out.
            self.level = "INFO"
        self.per_level_frames = self.json_format or bool(raw_level)
        # The fd is the runtime's alone: it is removed so child processes do not write frames into it.
        fd_text = environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
        if fd_text is not None:
            try:
                self.sink = _LogSink(int(fd_text))
            except ValueError:
                self.sink = _LogSink(None)

    def frame_type(self, levelno: int) -> int:
        """Frame type of a logging record at ``levelno``."""
        base = _JSON_FRAME if self.json_format else _TEXT_FRAME
        if not self.per_level_frames:
            return base
        return base | _LEVEL_FRAME_BITS.get(min(50, max(0, levelno)) // 10 * 10, 0)


_log = _LogSettings()
_logging_configured = False


def _tag_record(record: logging.LogRecord) -> bool:
    """Logging filter that stamps records with the current request and tenant id."""
    record.aws_request_id = _request_id
    record.tenant_id = _tenant_id
    return True


def _configure_logging() -> None:
    """Install the root handler AWS installs: Text or JSON format, UTC, request id on every record."""
    global _logging_configured
    if _logging_configured:
        return
    _logging_configured = True
    import logging

    settings = _log
    sink = settings.sink
    pad_newline = sink.fd is None
    reserved = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    reserved.update(("message", "asctime", "aws_request_id", "tenant_id", "_frame_type"))

    class LambdaLoggerHandler(logging.Handler):
        """Root handler writing formatted records to the runtime's log sink."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                text = self.format(record)
            except Exception:
                self.handleError(record)
                return
            # A record formatted with exception text has no final newline; without framing the next
            # record would otherwise be glued onto its last line.
            if pad_newline and not text.endswith("\n"):
                text += "\n"
            sink.write(text, settings.frame_type(record.levelno))

    class JsonFormatter(logging.Formatter):
        """Formats records as the one-line JSON objects of the JSON log format (§5.4)."""

        def format(self, record: logging.LogRecord) -> str:
            level = min(50, max(0, record.levelno)) // 10 * 10
            result: dict[str, object] = {
                "timestamp": time.strftime(_JSON_TIME_FORMAT, time.gmtime(record.created)),
                "level": logging.getLevelName(level),
                "message": record.getMessage(),
                "logger": record.name,
            }
            # logger.exception() outside an except block records (None, None, None): no error fields then.
            exc_type, exc_value, exc_tb = record.exc_info or (None, None, None)
            if exc_type is not None:
                import traceback

                result["stackTrace"] = traceback.format_tb(exc_tb)
                result["errorType"] = exc_type.__name__
                result["errorMessage"] = str(exc_value)
            result["requestId"] = getattr(record, "aws_request_id", None)
            if exc_type is not None:
                result["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
            tenant_id = getattr(record, "tenant_id", None)
            if tenant_id is not None:
                result["tenantId"] = tenant_id
            for key, value in record.__dict__.items():
                if key not in reserved and key not in result:
                    result[key] = value
            import json

            return json.dumps({k: v for k, v in result.items() if v is not None}, ensure_ascii=False) + "\n"

    # Applies to every formatter, as on AWS, so user-installed formatters also print UTC times.
    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    if settings.json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_LOG_FORMAT, _TEXT_DATE_FORMAT))
    handler.addFilter(_tag_record)
    root = logging.getLogger()
    if settings.level is not None:
        root.setLevel(settings.level)
    root.addHandler(handler)


class _LoggingImportHook:
    """Meta-path finder that configures logging right after user code first imports it.

    Importing logging costs several milliseconds, so the runtime does not import it itself; but AWS's
    root handler must already be in place when user code logs (and before a user's basicConfig call,
    which is then a no-op exactly as on AWS). Wrapping the loader's exec_module achieves both.
    """

    @classmethod
    def find_spec(
        cls, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """Locate ``logging`` through the other finders and hook its loader; ignore any other name."""
        if fullname != "logging":
            return None
        if cls in sys.meta_path:
            sys.meta_path.remove(cls)
        for finder in list(sys.meta_path):
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        original_exec = getattr(loader, "exec_module", None)
        if loader is None or original_exec is None:
            return spec

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            # Back to the class's method: the wrapper has done its one job.
            vars(loader).pop("exec_module", None)
            _configure_logging()

        setattr(loader, "exec_module", exec_module)  # noqa: B010 - mypy rejects assigning to a method
        return spec


def _use_logging() -> None:
    """Make sure logging is imported and configured (the init-failure path logs through it)."""
    import logging  # noqa: F401 - imported for the hook's side effect

    _configure_logging()


# --------------------------------------------------------------------------------------------------
# JSON marshalling (§4.5)
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# JSON without importing `json` at start-up
# --------------------------------------------------------------------------------------------------
# The stdlib `json` package serialises through its C accelerator `_json`, but importing the package
# pulls in `re` and `enum`: about a third of this runtime's cold start. Events and results go
# through `_json` directly, producing exactly what `json` produces; anything unusual (an error to
# word, a byte-order mark, a Python without `_json`) falls back to the `json` package itself.
_cjson: Any
try:
    import _json as _cjson
except ImportError:  # pragma: no cover - every CPython ships it
    _cjson = None

_WHITESPACE = " \t\n\r"
_JSON_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _ScanContext:
    """The attributes `_json.make_scanner` reads, set as `json.JSONDecoder()` sets them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _JSON_CONSTANTS.__getitem__


_scan = _cjson.make_scanner(_ScanContext()) if _cjson is not None else None


def _json_loads(data: bytes | str) -> Any:
    """`json.loads`, without importing `json` unless the input needs its error messages."""
    if _scan is not None:
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            start = len(text) - len(text.lstrip(_WHITESPACE))
            value, end = _scan(text, start)
            if not text[end:].strip(_WHITESPACE):
                return value
        except Exception:
            pass  # the json package below gives the exact error
    import json

    return json.loads(data)


class _Marshaller:
    """JSON encoder matching the managed runtime's: Decimal as a raw number, NaN allowed."""

    def __init__(self, ensure_ascii: bool) -> None:
        self._raw: list[str] = []
        # Decimals are emitted as placeholder strings that no user string can equal (random per process)
        # and swapped for their text afterwards: the stdlib encoder has no raw-JSON escape hatch.
        self._token = "\x00" + os.urandom(8).hex() + ":"
        self._ensure_ascii = ensure_ascii
        self._markers: dict[int, object] = {}
        self._quote: Callable[[str], str]
        self._encode: Callable[[object, int], Sequence[str]]
        if _cjson is not None:
            # The arguments `json.JSONEncoder(ensure_ascii=..., allow_nan=True)` passes on.
            self._quote = _cjson.encode_basestring_ascii if ensure_ascii else _cjson.encode_basestring
            self._encode = _cjson.make_encoder(
                self._markers, self._default, self._quote, None, ": ", ", ", False, False, True
            )
        else:  # pragma: no cover - every CPython ships _json
            import json

            encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=True, default=self._default)
            self._quote = (
                json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
            )
            self._encode = lambda value, _level: [encoder.encode(value)]

    def _default(self, obj: object) -> object:
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            self._raw.append(str(obj))
            return f"{self._token}{len(self._raw) - 1}"
        raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")

    def dumps(self, obj: object) -> str:
        """Serialise ``obj``; raises TypeError/ValueError as the encoder does."""
        try:
            text = "".join(self._encode(obj, 0))
        finally:
            raw, self._raw = self._raw, []
            # An exception mid-way leaves the circular-reference markers behind.
            self._markers.clear()
        for index, number in enumerate(raw):
            text = text.replace(self._quote(f"{self._token}{index}"), number, 1)
        return text


# --------------------------------------------------------------------------------------------------
# Context object (§3.1)
# --------------------------------------------------------------------------------------------------


class CognitoIdentity:
    """Amazon Cognito identity of the caller; both ids are None when the invoke carried none."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(
        self, cognito_identity_id: str | None = None, cognito_identity_pool_id: str | None = None
    ) -> None:
        self.cognito_identity_id = cognito_identity_id
        self.cognito_identity_pool_id = cognito_identity_pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """The ``client`` part of a mobile client context."""

    __slots__ = ("app_package_name", "app_title", "app_version_code", "app_version_name", "installation_id")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.installation_id = fields.get("installation_id")
        self.app_title = fields.get("app_title")
        self.app_version_name = fields.get("app_version_name")
        self.app_version_code = fields.get("app_version_code")
        self.app_package_name = fields.get("app_package_name")

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},app_title={self.app_title},"
            f"app_version_name={self.app_version_name},app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    """Client context passed by the caller (``X-Amz-Client-Context``); keys missing from it are None."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = None if client is None else Client(client)

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class _EnvironmentFacts:
    """Context values that come from the environment; read once because they are fixed per environment."""

    __slots__ = (
        "function_name",
        "function_version",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(self) -> None:
        environ = os.environ
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")


_env_facts: _EnvironmentFacts | None = None


class LambdaContext:
    """The ``context`` argument of a Python handler, with the attributes and methods AWS provides."""

    def __init__(
        self,
        aws_request_id: str,
        client_context: dict[str, Any] | None,
        cognito_identity: dict[str, Any] | None,
        deadline_ms: int,
        invoked_function_arn: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        facts = _env_facts if _env_facts is not None else _EnvironmentFacts()
        self.aws_request_id = aws_request_id
        self.log_group_name = facts.log_group_name
        self.log_stream_name = facts.log_stream_name
        self.function_name = facts.function_name
        self.memory_limit_in_mb = facts.memory_limit_in_mb
        self.function_version = facts.function_version
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = None if client_context is None else ClientContext(client_context)
        if cognito_identity is None:
            self.identity = CognitoIdentity()
        else:
            self.identity = CognitoIdentity(
                cognito_identity.get("cognitoIdentityId"), cognito_identity.get("cognitoIdentityPoolId")
            )
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out (never negative)."""
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg: object) -> None:
        """Write ``str(msg)`` to the function's log as is (no newline is added)."""
        _log.sink.write(str(msg), _TEXT_FRAME)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


# --------------------------------------------------------------------------------------------------
# Errors (§4.2, §4.4, §4.9)
# --------------------------------------------------------------------------------------------------


class _Fault(Exception):
    """An error the runtime itself reports, with a Lambda error type rather than an exception class."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack if stack is not None else []


def _error_body(message: str, error_type: str, request_id: str, stack: list[str]) -> dict[str, object]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _user_frames(tb: TracebackType | None) -> list[FrameTuple]:
    """Frames of a traceback with this runtime's own leading frames removed (kept if nothing else)."""
    import traceback

    frames: list[FrameTuple] = [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)]
    for index, frame in enumerate(frames):
        if frame[0] != _THIS_FILE:
            return frames[index:]
    return frames


def _format_frames(frames: list[FrameTuple]) -> list[str]:
    import traceback

    # Plain tuples carry no column data, so 3.11+ caret lines are not printed, as in the AWS output.
    return traceback.format_list(frames)


def _exception_error(exc: BaseException, request_id: str) -> tuple[dict[str, object], list[FrameTuple]]:
    frames = _user_frames(exc.__traceback__)
    return _error_body(str(exc), type(exc).__name__, request_id, _format_frames(frames)), frames


def _xray_cause(error_type: str, message: str, frames: list[FrameTuple]) -> bytes | None:
    """The Lambda-Runtime-Function-XRay-Error-Cause value, or None when it exceeds the 1 MiB cap."""
    try:
        working_directory = os.getcwd()
    except OSError:
        working_directory = ""
    cause = {
        "working_directory": working_directory,
        "exceptions": [
            {
                "message": message,
                "type": error_type,
                "stack": [{"label": name, "path": path, "line": line} for path, line, name, _ in frames],
            }
        ],
        "paths": list(dict.fromkeys(frame[0] for frame in frames)),
    }
    # ASCII-only so the header can never carry bytes an HTTP parser rejects; compact to save space.
    import json

    data = json.dumps(cause, separators=(",", ":")).encode("ascii")
    return data if len(data) < _XRAY_CAUSE_LIMIT else None


def _log_error(error: dict[str, object], marshaller: _Marshaller) -> None:
    """Log an unhandled error the way the managed runtime does (§4.9)."""
    sink = _log.sink
    if _log.json_format:
        # PyPI awslambdaric 4.2.2 uses the key "level" here while GitHub 4.0.1 used "log_level"; which one
        # the AWS-managed image ships is unconfirmed (facts §14.2).
        record = {"timestamp": time.strftime(_JSON_TIME_FORMAT, time.gmtime()), "level": "ERROR", **error}
        sink.write_lines([marshaller.dumps(record)], _JSON_FRAME | _LEVEL_FRAME_BITS[40])
        return
    error_type = str(error["errorType"])
    message = str(error["errorMessage"])
    description = "[ERROR]"
    if error_type:
        description += " " + error_type
    if message:
        description += (":" if error_type else "") + " " + message
    lines = [description, "Traceback (most recent call last):"]
    stack = error["stackTrace"]
    assert isinstance(stack, list)
    for entry in stack:
        if entry == "":
            lines.append("")
            continue
        for line in str(entry).splitlines():
            body = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(body)) + body)
    sink.write_lines(lines, _TEXT_FRAME | _LEVEL_FRAME_BITS[40])


# --------------------------------------------------------------------------------------------------
# Runtime API client
# --------------------------------------------------------------------------------------------------


class _ProtocolError(Exception):
    """The Runtime API answered something this client cannot continue from."""


class _RuntimeAPI:
    """Minimal HTTP/1.1 keep-alive client for the Runtime API (one socket, one sendall per request)."""

    def __init__(self, address: str, inherited_fd: int | None = None) -> None:
        host, _, port = address.rpartition(":")
        if not host:
            host, port = address, "9001"
        self._family = _socket.AF_INET
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
            self._family = _socket.AF_INET6
        self._address = (host, int(port))
        self._host_header = b"Host: " + address.encode("ascii") + b"\r\n"
        self._next_request = (
            b"GET " + _RUNTIME_PATH.encode() + b"/invocation/next HTTP/1.1\r\n" + self._host_header + b"\r\n"
        )
        self._sock: _socket.socket | None = None
        self._buffer = b""
        # Seconds to poll for a reply before blocking; the engine sets it per event (see _serve).
        self.poll_s = 0.0
        if inherited_fd is not None:
            # lambench hands its own runtime one end of a socketpair: the same HTTP, without TCP's
            # cost on every message. If it is ever closed, the TCP endpoint is used instead.
            self._sock = _socket.socket(fileno=inherited_fd)

    def _connect(self) -> _socket.socket:
        sock = _socket.socket(self._family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.connect(self._address)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._buffer = b""
        return sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buffer = b""

    def _exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        # A keep-alive connection may have been closed by the server while idle: reconnect and resend once.
        for attempt in (0, 1):
            try:
                sock = self._sock if self._sock is not None else self._connect()
                sock.sendall(request)
                return self._read_response(sock)
            except OSError:
                self._drop()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _read_response(self, sock: _socket.socket) -> tuple[int, dict[str, str], bytes]:
        buffer = self._buffer
        spin_until = 0.0
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            try:
                # Poll briefly before blocking: a reply usually comes within microseconds, and a
                # blocked process on an idle CPU is slow to wake (worst in virtual machines).
                # sched_yield lets the engine run if it shares this CPU.
                chunk = sock.recv(_RECV_SIZE, _DONTWAIT)
            except BlockingIOError:
                now = _perf_counter()
                if not spin_until:
                    spin_until = now + self.poll_s
                if now < spin_until:
                    _sched_yield()
                    continue
                chunk = sock.recv(_RECV_SIZE)
            if not chunk:
                raise ConnectionResetError("Runtime API closed the connection")
            buffer += chunk
        lines = buffer[:end].decode("utf-8", "replace").split("\r\n")
        status_line = lines[0]
        # "HTTP/1.1 200 OK": the code is always at the same offset.
        if not status_line.startswith("HTTP/1.") or not status_line[9:12].isdigit():
            raise _ProtocolError(f"malformed status line {status_line!r}")
        status = int(status_line[9:12])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            # RFC 9112 forbids whitespace between a field name and its colon, so only values need strip().
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _ProtocolError("malformed Content-Length") from None
        start = end + 4
        available = len(buffer) - start
        if available >= length:
            body = buffer[start : start + length]
            self._buffer = buffer[start + length :]
        else:
            # Large payloads are received straight into one preallocated buffer.
            whole = bytearray(length)
            whole[:available] = buffer[start:]
            view = memoryview(whole)
            received = available
            while received < length:
                count = sock.recv_into(view[received:])
                if not count:
                    raise ConnectionResetError("Runtime API closed the connection")
                received += count
            body = bytes(whole)
            self._buffer = b""
        if headers.get("connection", "").lower() == "close":
            self._drop()
        return status, headers, body

    def next_invocation(self) -> tuple[dict[str, str], bytes]:
        """Block (without timeout) until the next event arrives; return its headers and body."""
        status, headers, body = self._exchange(self._next_request)
        if status != 200:
            raise _ProtocolError(f"GET invocation/next answered {status}: {body[:512]!r}")
        return headers, body

    def _post_request(self, path: str, headers: bytes, body: bytes) -> bytes:
        return b"".join(
            (
                b"POST ",
                _RUNTIME_PATH.encode(),
                path.encode("utf-8"),
                b" HTTP/1.1\r\n",
                self._host_header,
                headers,
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )

    def post(self, path: str, headers: bytes, body: bytes) -> None:
        """POST ``body`` to ``path`` (below /2018-06-01/runtime) and require a 2xx reply."""
        status, _, reply = self._exchange(self._post_request(path, headers, body))
        if not 200 <= status < 300:
            raise _ProtocolError(f"POST {path} answered {status}: {reply[:512]!r}")

    def post_then_next(self, path: str, headers: bytes, body: bytes) -> tuple[dict[str, str], bytes]:
        """POST an invocation's answer and ask for the next event in the same write.

        HTTP/1.1 pipelining: the `next` request is already waiting when the engine has read the
        answer, so back-to-back invocations skip one round trip each. The answer must still be
        accepted (2xx) before the next event is read.
        """
        status, _, reply = self._exchange(self._post_request(path, headers, body) + self._next_request)
        if not 200 <= status < 300:
            raise _ProtocolError(f"POST {path} answered {status}: {reply[:512]!r}")
        sock = self._sock
        if sock is None:
            # The connection closed after the answer, taking the pipelined request with it.
            return self.next_invocation()
        try:
            status, event_headers, event = self._read_response(sock)
        except OSError:
            self._drop()
            return self.next_invocation()
        if status != 200:
            raise _ProtocolError(f"GET invocation/next answered {status}: {event[:512]!r}")
        return event_headers, event


def _fatal(problem: BaseException) -> NoReturn:
    """Leave after losing the Runtime API; protocol errors are explained on stderr, lost sockets are not."""
    if isinstance(problem, _ProtocolError):
        sys.stderr.write(f"lambench runtime: {problem}; exiting\n")
    sys.exit(1)


# --------------------------------------------------------------------------------------------------
# Start-up
# --------------------------------------------------------------------------------------------------


def _arrange_sys_path(task_root: str, runtime_dir: str, layers: str) -> None:
    """Order sys.path like AWS: /var/task, then /opt (the layers), then /var/runtime, then the rest.

    ``layers`` lists the function's layers in configuration order; on AWS they are extracted into /opt in
    that order so a later layer's files win, hence the reversal. All layers' site-packages come before all
    layers' ``python`` folders because on AWS they are two merged folders in that order.
    """
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    layer_dirs = [layer for layer in reversed(layers.split(os.pathsep)) if layer]
    candidates = [os.path.join(layer, "python", "lib", version, "site-packages") for layer in layer_dirs]
    candidates += [os.path.join(layer, "python") for layer in layer_dirs]
    front = [task_root, *(path for path in candidates if os.path.isdir(path)), runtime_dir]
    seen = set(front)
    sys.path[:] = front + [path for path in sys.path if path not in seen]


def _load_handler(handler: str) -> HandlerFunction:
    """Import the handler named by _HANDLER, raising _Fault for the cases AWS names (§4.4)."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError:
        raise _Fault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        ) from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module"
        )
    import importlib

    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        trace = f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}'
        raise _Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", [trace]
        ) from None
    try:
        function: HandlerFunction = getattr(module, function_name)
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None
    return function


def _report_init_error(api: _RuntimeAPI, exc: Exception, marshaller: _Marshaller) -> NoReturn:
    """Log and post an initialisation failure, then exit 1 (§1.5, §4.9)."""
    if isinstance(exc, _Fault):
        error = _error_body(exc.message, exc.error_type, "", exc.stack)
    else:
        error = _exception_error(exc, "")[0]
    _use_logging()
    import logging

    logging.warning(_UNHANDLED_EXCEPTION_WARNING)
    _log_error(error, marshaller)
    error_type = str(error["errorType"])
    headers = (
        b"Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: "
        + error_type.encode("utf-8")
        + b"\r\n"
    )
    try:
        api.post("/init/error", headers, marshaller.dumps(error).encode("utf-8"))
    except (OSError, _ProtocolError) as problem:
        _fatal(problem)
    sys.exit(1)


def _parse_header_json(value: str, what: str) -> Any:
    try:
        return _json_loads(value)
    except Exception as exc:
        raise _Fault("Runtime.LambdaContextUnmarshalError", f"Unable to parse {what} JSON: {exc}") from None


def main() -> None:
    """Run the runtime: arrange sys.path, set up logging, import the handler, then serve invocations."""
    global _env_facts
    environ = os.environ
    layers = environ.pop("_LAMBENCH_LAYERS", "")
    task_root = environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    runtime_dir = environ.get("LAMBDA_RUNTIME_DIR") or os.path.dirname(os.path.abspath(_THIS_FILE))
    _arrange_sys_path(task_root, runtime_dir, layers)

    _log.load(environ)
    if "logging" in sys.modules:
        _configure_logging()
    else:
        sys.meta_path.insert(0, _LoggingImportHook)

    _env_facts = _EnvironmentFacts()
    marshaller = _Marshaller(ensure_ascii=environ.get("AWS_EXECUTION_ENV") not in _UTF8_RESPONSE_ENVS)
    fd_text = environ.pop("_LAMBENCH_RUNTIME_API_FD", "")
    api = _RuntimeAPI(
        environ.get("AWS_LAMBDA_RUNTIME_API") or "127.0.0.1:9001", int(fd_text) if fd_text.isdigit() else None
    )

    try:
        handler = _load_handler(environ.get("_HANDLER", ""))
    except Exception as exc:
        # Reported inside the except block so that sys.exc_info() still shows the failure to any
        # monitoring code that wraps the reporting, as on AWS.
        _report_init_error(api, exc, marshaller)

    try:
        _serve(api, handler, marshaller)
    except (OSError, _ProtocolError) as problem:
        _fatal(problem)


def _serve(api: _RuntimeAPI, handler: HandlerFunction, marshaller: _Marshaller) -> NoReturn:
    """The invocation loop: next event, run the handler, post the result or the error, repeat."""
    global _request_id, _tenant_id
    environ = os.environ
    loads = _json_loads
    dumps = marshaller.dumps
    next_invocation = api.next_invocation
    post_then_next = api.post_then_next
    pending: tuple[dict[str, str], bytes] | None = None
    json_headers = b"Content-Type: application/json\r\n"
    raw_headers = b"Content-Type: application/unknown\r\n"
    while True:
        headers, body = pending if pending is not None else next_invocation()
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        # lambench's engine asks its own runtime to poll for the next event when it is serving one
        # invocation at a time (back-to-back invokes); under concurrency, polling would only
        # take CPU from the other environments. Custom runtimes never see this header.
        poll = headers.get("lambench-poll-us")
        api.poll_s = int(poll) / 1e6 if poll and poll.isdigit() and _DONTWAIT else 0.0
        tenant_id = headers.get("lambda-runtime-aws-tenant-id") or None
        _request_id = request_id
        _tenant_id = tenant_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]

        error: dict[str, object] | None = None
        try:
            client_context = headers.get("lambda-runtime-client-context")
            cognito_identity = headers.get("lambda-runtime-cognito-identity")
            context = LambdaContext(
                request_id,
                _parse_header_json(client_context, "Client Context") if client_context else None,
                _parse_header_json(cognito_identity, "Cognito Identity") if cognito_identity else None,
                int(headers.get("lambda-runtime-deadline-ms") or 0),
                headers.get("lambda-runtime-invoked-function-arn"),
                tenant_id,
            )
            if headers.get("content-type") == "application/json":
                try:
                    event = loads(body)
                except Exception as exc:
                    raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
            else:
                event = body
            result = handler(event, context)
            if isinstance(result, bytes):
                payload, content_headers = result, raw_headers
            else:
                try:
                    payload, content_headers = dumps(result).encode("utf-8"), json_headers
                except Exception as exc:
                    raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
        except _Fault as fault:
            error = _error_body(fault.message, fault.error_type, request_id, fault.stack)
            cause = _xray_cause("LambdaValidationError", fault.message, [])
        except Exception as exc:
            error, frames = _exception_error(exc, request_id)
            cause = _xray_cause(str(error["errorType"]), str(error["errorMessage"]), frames)

        if error is None:
            pending = post_then_next(f"/invocation/{request_id}/response", content_headers, payload)
            continue
        _log_error(error, marshaller)
        error_headers = json_headers
        if cause is not None:
            error_headers += b"Lambda-Runtime-Function-XRay-Error-Cause: " + cause + b"\r\n"
        pending = post_then_next(
            f"/invocation/{request_id}/error", error_headers, dumps(error).encode("utf-8")
        )
