"""One execution environment: a runtime process behind its own Runtime API endpoint.

The environment follows the lifecycle of lambda-facts §11.1. INIT starts the runtime process and
ends when it first calls `next`. INVOKE hands it one event and waits for its answer, the
deadline, its exit or its memory limit. A timeout, crash or out-of-memory kill *resets* the
environment: the process is gone, `/tmp` stays, and the next invoke re-initialises inside its own
invoke phase (a "suppressed init"). SHUTDOWN signals the process group and removes `/tmp`.

Nothing here starts a thread: the thread that invokes drives the environment's sockets and log
pipe itself, so a warm invoke costs one loopback round trip and no thread hand-off.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lambench.core.config import FunctionConfig
from lambench.core.runtime import errors, platform_logs, processes, runtime_api
from lambench.core.runtime.envvars import PYTHON_RUNTIME_DIR, build_environment
from lambench.core.runtime.identifiers import log_stream_name, new_environment_id
from lambench.core.runtime.memory import MemoryProbe
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, LogRecord

#: How long an invoking thread polls for the runtime's answer before it blocks, when it is the
#: only invocation in flight. A blocked thread on an idle CPU is slow to wake (tens of
#: microseconds, worst in virtual machines); polling with sched_yield keeps a lone back-to-back
#: stream fast, and is skipped under concurrency, where it would only take CPU from others.
POLL_S = 0.0002
#: The INIT phase limit for on-demand environments (lambda-facts §11.1).
INIT_LIMIT_S = 10.0
#: Provisioned environments may initialise for max(130 s, the function timeout) (lambda-facts §11.1).
PROVISIONED_INIT_MIN_S = 130.0
#: How often a busy environment's memory is checked against its limit; the kill comes within
#: one tick of crossing it.
WATCHDOG_TICK_S = 0.025
#: Grace between SIGTERM and SIGKILL at shutdown.
SHUTDOWN_GRACE_S = 0.3
#: Function output kept per invocation for its log text; older lines are dropped (and counted)
#: so a handler flooding stdout cannot grow the engine's memory without bound.
MAX_INVOCATION_LOG_BYTES = 1024 * 1024

_BOOTSTRAP_CODE = (
    f"import sys; sys.path.insert(0, {str(PYTHON_RUNTIME_DIR)!r}); "
    "import lambench_python_runtime as r; r.main()"
)


@dataclass
class Invocation:
    """One event handed to an environment."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    content_type: str = "application/json"


@dataclass
class Outcome:
    """What an environment reports back for one invocation."""

    request_id: str
    payload: bytes
    function_error: str | None
    error_type: str | None
    status: str  # success | error | timeout
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None
    max_memory_used_mb: int
    cold: bool
    logs: str
    content_type: str = "application/json"


@dataclass
class _Result:
    status: str  # success | handled (the function reported an error) | error (platform) | timeout
    payload: bytes
    error_type: str | None = None
    content_type: str = "application/json"


@dataclass
class _InitResult:
    ok: bool
    duration_ms: float
    status: str = "success"
    error_type: str | None = None
    payload: bytes = b""


class InvocationLog:
    """The log text of one invocation, bounded in size; drops its oldest lines first."""

    def __init__(self, limit: int = MAX_INVOCATION_LOG_BYTES) -> None:
        # A deque: under a stdout flood every new line drops an old one, in constant time.
        self.lines: deque[str] = deque()
        self._size = 0
        self._limit = limit
        self.dropped_lines = 0

    def add(self, line: str) -> None:
        """Append one line (without its newline)."""
        self.lines.append(line)
        self._size += len(line) + 1
        while self._size > self._limit and len(self.lines) > 1:
            self._size -= len(self.lines.popleft()) + 1
            self.dropped_lines += 1

    def text(self) -> str:
        """The lines joined, each ending in a newline, with a note where lines were dropped."""
        body = "".join(line + "\n" for line in self.lines)
        if self.dropped_lines:
            return (
                f"[lambench] {self.dropped_lines} earlier log lines of this invocation were dropped\n" + body
            )
        return body


@dataclass
class EnvironmentHooks:
    """How an environment reports to its service: lifecycle and log records, and whether anyone listens."""

    lifecycle: Callable[[LifecycleRecord], None]
    log: Callable[[LogRecord], None]
    wants_records: Callable[[], bool]


@dataclass
class _Runtime:
    """The live runtime process of an environment and the descriptors that belong to it."""

    proc: subprocess.Popen[bytes]
    log_fd: int
    pidfd: int | None
    connections: list[runtime_api.Connection] = field(default_factory=list)
    exited: bool = False


class ExecutionEnvironment:
    """One execution environment of one function version; used by one invocation at a time."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        version: str,
        probe: MemoryProbe,
        hooks: EnvironmentHooks,
        init_type: str = "on-demand",
        credentials: dict[str, str] | None = None,
        account_environment: dict[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.config = config
        self.version = version
        self.init_type = init_type
        self.id = new_environment_id()
        self.created_at = time.time()
        self.log_stream = log_stream_name(version, self.id, self.created_at)
        self.invocations = 0
        self.retired = False
        #: When the environment last became idle (time.monotonic), for the keep-alive.
        self.idle_since = time.monotonic()
        self.started_monotonic = self.idle_since
        #: The (function, qualifier) whose provisioned concurrency this environment serves, if any.
        self.provisioned_for: tuple[str, str] | None = None
        self._probe = probe
        self._hooks = hooks
        self._python = python
        self._credentials = credentials
        self._account_environment = account_environment
        self._tmp_dir = tempfile.mkdtemp(prefix=f"lambench-{config.name}-")
        self._listener = runtime_api.open_listener()
        self.runtime_api = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, "listener")
        self._runtime: _Runtime | None = None
        self._ever_started = False
        self._retiring = False
        # Runtime API state, driven by the requests the runtime sends.
        self._waiting: runtime_api.Connection | None = None
        self._current: Invocation | None = None
        self._answer: tuple[str, bytes, dict[str, str]] | None = None
        self._init_error: tuple[bytes, dict[str, str]] | None = None
        self._partial = b""
        # A provisioned environment's init duration, shown on its first REPORT but not billed there.
        self._provisioned_init_ms: float | None = None
        self._log: InvocationLog | None = None
        self._request_id: str | None = None
        self._emit(
            Lifecycle.ENVIRONMENT_CREATED,
            init_type=init_type,
            memory_size_mb=config.memory_mb,
            architecture=config.architecture,
        )

    # -- public ---------------------------------------------------------------------------------

    @property
    def tmp_dir(self) -> str:
        """The directory that stands in for `/tmp`; it survives warm invokes and resets."""
        return self._tmp_dir

    @property
    def pid(self) -> int | None:
        """PID of the runtime process, or None while the environment has none (new or reset)."""
        return self._runtime.proc.pid if self._runtime else None

    @property
    def is_warm(self) -> bool:
        """True if the next invoke needs no init."""
        return self._runtime is not None and not self._runtime.exited

    def invoke(self, invocation: Invocation, *, poll: bool = False) -> Outcome:
        """Run one invocation to its end: answer, function error, timeout, crash or OOM.

        `poll` says this is the only invocation in flight, so polling for the answer pays.
        """
        log = self._log = InvocationLog()
        self._request_id = None
        cold = False
        report_init_ms: float | None = None
        bill_init = True
        self._pump(0.0)
        if self._runtime is not None and self._runtime.exited:
            self._reset("runtime exited while idle")
        if self._runtime is not None and self._provisioned_init_ms is not None:
            # The first REPORT of a provisioned environment shows its init (observed on AWS); that
            # init was billed as provisioned concurrency, not as part of this invocation.
            report_init_ms, bill_init = self._provisioned_init_ms, False
        self._provisioned_init_ms = None
        if self._runtime is None:
            cold = True
            if not self._ever_started:
                first = self._init(phase="init", limit_s=INIT_LIMIT_S, request_id=invocation.request_id)
                if first.ok:
                    report_init_ms = first.duration_ms
        self.invocations += 1
        self._request_id = invocation.request_id
        timeout_s = self.config.timeout_s
        start_wall = time.time()
        start = time.perf_counter()
        deadline = start + timeout_s
        deadline_ms = int(start_wall * 1000) + timeout_s * 1000
        self._log_line(platform_logs.start_line(invocation.request_id, self.version))
        self._emit(Lifecycle.INVOKE_START, request_id=invocation.request_id, cold=cold)
        if self._runtime is None:
            # Suppressed init: after a failed INIT phase or a reset, the runtime is started again
            # inside this invocation and its time counts against the function timeout.
            again = self._init(
                phase="invoke",
                limit_s=max(0.0, deadline - time.perf_counter()),
                request_id=invocation.request_id,
            )
            if not again.ok:
                return self._finish_failed_init(invocation, again, start, cold, log)
        self._probe_reset()
        self._current = invocation
        self._answer = None
        result = self._run(invocation, deadline, deadline_ms, poll)
        return self._finish(invocation, result, start, cold, report_init_ms, log, bill_init)

    def initialize(self) -> bool:
        """Run the INIT phase ahead of any request, as provisioned concurrency does; True if it succeeded.

        The first invocation afterwards is warm; its REPORT shows this Init Duration without billing it.
        """
        self._log = None
        limit = max(PROVISIONED_INIT_MIN_S, float(self.config.timeout_s))
        result = self._init(phase="init", limit_s=limit, request_id=None)
        if result.ok:
            self._provisioned_init_ms = result.duration_ms
            self._drain_logs()
        return result.ok

    def retire(self, reason: str, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """SHUTDOWN: SIGTERM the runtime's process group, SIGKILL it after `grace_s`, remove `/tmp`."""
        proc = self.begin_retire()
        if proc is not None and not self.retired:
            processes.terminate_all([proc], grace_s)
        self.finish_retire(reason)

    def begin_retire(self) -> subprocess.Popen[bytes] | None:
        """First half of a shutdown: the runtime process to signal (or None); see `retire`.

        The service shuts many environments down at once by signalling all of them together.
        """
        # From here on no runtime may start: an invoking thread that sees its runtime die must
        # not start another one for a retried init.
        self._retiring = True
        return self._runtime.proc if self._runtime is not None else None

    def finish_retire(self, reason: str) -> None:
        """Second half of a shutdown: kill what is left of the process group and remove `/tmp`."""
        if self.retired:
            return
        self.retired = True
        if self._runtime is not None:
            processes.kill_now(self._runtime.proc)
            self._release_runtime()
        self._close_endpoint()
        self._emit(Lifecycle.ENVIRONMENT_RETIRED, reason=reason)

    # -- INIT -----------------------------------------------------------------------------------

    def _retirement_started(self) -> bool:
        # A method, not the attribute: another thread sets the flag while this one spawns.
        return self._retiring

    def _spawn(self) -> None:
        if self._retiring:
            raise ProcessLookupError("the environment is being retired")
        env = build_environment(
            self.config,
            version=self.version,
            runtime_api=self.runtime_api,
            log_stream=self.log_stream,
            tmp_dir=self._tmp_dir,
            init_type=self.init_type,
            credentials=self._credentials,
            account_environment=self._account_environment,
        )
        channel: socket.socket | None = None
        pass_fds: tuple[int, ...] = ()
        if self.config.is_custom_runtime:
            argv = [str(self.config.code_dir / "bootstrap")]
        else:
            argv = [self._python, "-I", "-u", "-c", _BOOTSTRAP_CODE]
        if not self.config.is_custom_runtime:
            # lambench's own runtime also gets a socketpair to the same Runtime API; a custom
            # runtime uses the TCP endpoint like any runtime in AWS.
            channel, child_end = socket.socketpair()
            pass_fds = (child_end.fileno(),)
            env["_LAMBENCH_RUNTIME_API_FD"] = str(child_end.fileno())
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.config.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                close_fds=True,
                pass_fds=pass_fds,
            )
        except OSError:
            os.close(read_fd)
            if channel is not None:
                channel.close()
            raise
        finally:
            os.close(write_fd)
            if pass_fds:
                child_end.close()
        processes.register(proc)
        if self._retirement_started():
            # Retirement began while this runtime was starting, after the retiring thread looked
            # for a process to signal: it is ours to stop.
            processes.kill_now(proc)
            os.close(read_fd)
            if channel is not None:
                channel.close()
            raise ProcessLookupError("the environment is being retired")
        os.set_blocking(read_fd, False)
        pidfd: int | None = None
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                pidfd = pidfd_open(proc.pid)
            except OSError:
                pidfd = None
        self._runtime = _Runtime(proc=proc, log_fd=read_fd, pidfd=pidfd)
        if channel is not None:
            channel.setblocking(False)
            conn = runtime_api.Connection(channel)
            self._runtime.connections.append(conn)
            self._selector.register(channel, selectors.EVENT_READ, conn)
        self._selector.register(read_fd, selectors.EVENT_READ, "log")
        if pidfd is not None:
            self._selector.register(pidfd, selectors.EVENT_READ, "exit")
        self._ever_started = True

    def _init(self, *, phase: str, limit_s: float, request_id: str | None) -> _InitResult:
        if not self._ever_started:
            # INIT_START is logged once per environment, before its first START (lambda-facts
            # §5.2); a retried init inside an invocation has only its INIT_REPORT on failure.
            # Where AWS puts that retry relative to START is unconfirmed: lambench runs it after
            # START, since it counts against the invocation's timeout.
            self._log_line(platform_logs.init_start_line(self.config.runtime, self.config.region))
        self._emit(Lifecycle.INIT_START, init_type=self.init_type, phase=phase)
        self._forget_runtime_requests()
        start = time.perf_counter()
        deadline = start + limit_s
        try:
            self._spawn()
        except ProcessLookupError:
            # Retired while starting: report the runtime as killed, which is what happened to it.
            return self._init_exited(phase, start, request_id, -signal.SIGKILL)
        except OSError as exc:
            # A custom runtime whose bootstrap is missing or not executable: RAPID reports the
            # exit status a shell would (127 not found, 126 not executable).
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            return self._init_exited(phase, start, request_id, code)
        runtime = self._runtime
        assert runtime is not None
        while self._init_pending(runtime):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._pump(min(remaining, 0.05 if runtime.pidfd is None else remaining))
        if self._waiting is not None:
            duration = (time.perf_counter() - start) * 1000
            self._emit(Lifecycle.INIT_END, phase=phase, duration_ms=duration, status="success")
            return _InitResult(ok=True, duration_ms=duration)
        if self._init_error is not None:
            body, headers = self._init_error
            error_type = headers.get("lambda-runtime-function-error-type") or _error_type_of(body)
            # The Python runtime exits by itself after reporting; give it a moment, then make sure.
            self._wait_exit(0.5)
            return self._init_failed(phase, start, "error", error_type or "Runtime.Unknown", body)
        if runtime.exited:
            code = runtime.proc.returncode if runtime.proc.returncode is not None else 1
            return self._init_exited(phase, start, request_id, code)
        payload = errors.platform_error_payload(
            "Sandbox.Timedout", errors.timeout_message(request_id or "", self.config.timeout_s)
        )
        return self._init_failed(phase, start, "timeout", None, payload)

    def _forget_runtime_requests(self) -> None:
        self._init_error = None
        self._waiting = None

    def _init_pending(self, runtime: _Runtime) -> bool:
        """True until the runtime asks for its first event, reports an init error, or exits."""
        return self._waiting is None and self._init_error is None and not runtime.exited

    def _init_exited(self, phase: str, start: float, request_id: str | None, code: int) -> _InitResult:
        """The runtime ended (or never started) before asking for its first event."""
        payload = errors.platform_error_payload(
            "Runtime.ExitError", errors.exit_error_message(request_id or "", code)
        )
        return self._init_failed(phase, start, "error", "Runtime.ExitError", payload)

    def _init_failed(
        self, phase: str, start: float, status: str, error_type: str | None, payload: bytes
    ) -> _InitResult:
        duration = (time.perf_counter() - start) * 1000
        self._kill_runtime()
        self._log_line(platform_logs.init_report_line(duration, phase, status, error_type))
        self._emit(
            Lifecycle.INIT_END, phase=phase, duration_ms=duration, status=status, error_type=error_type
        )
        return _InitResult(
            ok=False, duration_ms=duration, status=status, error_type=error_type, payload=payload
        )

    # -- INVOKE ---------------------------------------------------------------------------------

    def _run(self, invocation: Invocation, deadline: float, deadline_ms: int, poll: bool) -> _Result:
        """Deliver the event and wait for the runtime's answer, its exit, the deadline or the memory limit."""
        runtime = self._runtime
        assert runtime is not None
        limit_kb = self.config.memory_mb * 1024
        next_tick = time.perf_counter() + WATCHDOG_TICK_S
        poll_until = time.perf_counter() + POLL_S if poll else 0.0
        # Only lambench's own runtime is told to poll for its next event (a private header).
        hint = poll and not self.config.is_custom_runtime
        delivered = False
        while True:
            if not delivered and self._waiting is not None:
                conn, self._waiting = self._waiting, None
                delivered = conn.send(_render_event(invocation, deadline_ms, hint))
                if not delivered:
                    self._wait_exit(0.5)
            if self._answer is not None:
                kind, body, headers = self._answer
                self._measured_mb = self._peak_mb()
                if self._measured_mb > self.config.memory_mb:
                    # The spike came and went between watchdog ticks; AWS's cgroup would have
                    # killed the process at the limit, so this is an out-of-memory all the same.
                    return self._oom(invocation)
                if kind == "response":
                    return _Result("success", body, None, headers.get("content-type") or "application/json")
                if kind == "too_large":
                    return _Result(
                        "error", errors.response_too_large_payload(), "Function.ResponseSizeTooLarge"
                    )
                if kind == "bad_mode":
                    return _Result("error", body, "Runtime.InvalidResponseModeHeader")
                error_type = headers.get("lambda-runtime-function-error-type") or _error_type_of(body)
                return _Result("handled", body, error_type)
            if runtime.exited:
                code = runtime.proc.returncode if runtime.proc.returncode is not None else 1
                message = errors.exit_error_message(invocation.request_id, code)
                self._measured_mb = self._peak_mb()
                self._reset("runtime exited")
                return _Result(
                    "error", errors.platform_error_payload("Runtime.ExitError", message), "Runtime.ExitError"
                )
            now = time.perf_counter()
            if now >= deadline:
                self._measured_mb = self._peak_mb()
                self._reset("timeout")
                message = errors.timeout_message(invocation.request_id, self.config.timeout_s)
                return _Result(
                    "timeout", errors.platform_error_payload("Sandbox.Timedout", message), "Sandbox.Timedout"
                )
            if now >= next_tick:
                next_tick = now + WATCHDOG_TICK_S
                current = self._probe.current_kb(runtime.proc.pid)
                self._tick_peak_kb = max(self._tick_peak_kb, current)
                if current > limit_kb:
                    return self._oom(invocation)
            wait = min(deadline, next_tick) - now
            if runtime.pidfd is None:
                wait = min(wait, 0.05)
            if now < poll_until:
                self._pump(0.0)
                os.sched_yield()
                continue
            self._pump(wait)

    def _oom(self, invocation: Invocation) -> _Result:
        self._reset("out of memory")
        # The kernel's cgroup stops a process at its limit, so AWS never reports more than that.
        self._measured_mb = self.config.memory_mb
        message = errors.out_of_memory_message(invocation.request_id)
        return _Result(
            "error", errors.platform_error_payload("Runtime.OutOfMemory", message), "Runtime.OutOfMemory"
        )

    def _finish(
        self,
        invocation: Invocation,
        result: _Result,
        start: float,
        cold: bool,
        report_init_ms: float | None,
        log: InvocationLog,
        bill_init: bool = True,
    ) -> Outcome:
        status, payload, error_type = result.status, result.payload, result.error_type
        end = time.perf_counter()
        self._current = None
        self._answer = None
        if status != "success":
            # On success the runtime wrote its output before posting the answer, so the pipe was
            # already readable in the same wake-up and has been read; after a kill or exit, the
            # last output may still be in flight.
            self._drain_logs()
        self._flush_partial()
        if status == "timeout":
            # AWS reports the configured timeout as the duration of a timed-out invocation.
            duration = self.config.timeout_s * 1000.0
            self._log_line(platform_logs.timed_out_line(invocation.request_id, self.config.timeout_s))
        else:
            duration = (end - start) * 1000
        memory = min(self._measured_mb, self.config.memory_mb)
        function_error = None if status == "success" else "Unhandled"
        report_status: str | None = None
        if status == "timeout":
            report_status = "timeout"
        elif status == "error":
            report_status = "error"
        billed = platform_logs.billed_duration_ms(duration, report_init_ms if bill_init else None)
        self._log_line(platform_logs.end_line(invocation.request_id))
        report = platform_logs.Report(
            request_id=invocation.request_id,
            duration_ms=duration,
            billed_duration_ms=billed,
            memory_size_mb=self.config.memory_mb,
            max_memory_used_mb=memory,
            init_duration_ms=report_init_ms,
            status=report_status,
            error_type=error_type if report_status == "error" else None,
        )
        self._log_line(report.line())
        outcome_status = "success" if status == "success" else ("timeout" if status == "timeout" else "error")
        self._emit(
            Lifecycle.INVOKE_END,
            request_id=invocation.request_id,
            duration_ms=duration,
            status=outcome_status,
            error_type=error_type,
            cold=cold,
            billed_duration_ms=billed,
            init_duration_ms=report_init_ms,
            max_memory_mb=memory,
            memory_size_mb=self.config.memory_mb,
        )
        self._request_id = None
        return Outcome(
            request_id=invocation.request_id,
            payload=payload,
            function_error=function_error,
            error_type=error_type,
            status=outcome_status,
            duration_ms=duration,
            billed_duration_ms=billed,
            init_duration_ms=report_init_ms,
            max_memory_used_mb=memory,
            cold=cold,
            logs=log.text(),
            content_type=result.content_type,
        )

    def _finish_failed_init(
        self, invocation: Invocation, failure: _InitResult, start: float, cold: bool, log: InvocationLog
    ) -> Outcome:
        self._measured_mb = self._tick_peak_kb // 1024
        if failure.status == "timeout":
            message = errors.timeout_message(invocation.request_id, self.config.timeout_s)
            result = _Result(
                "timeout", errors.platform_error_payload("Sandbox.Timedout", message), "Sandbox.Timedout"
            )
        else:
            result = _Result("error", failure.payload, failure.error_type)
        return self._finish(invocation, result, start, cold, None, log)

    # -- the event pump -------------------------------------------------------------------------

    def _pump(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for runtime traffic, output or exit, and handle what came."""
        for key, _mask in self._selector.select(timeout):
            tag = key.data
            if tag == "log":
                self._read_logs()
            elif tag == "exit":
                self._note_exit()
            elif tag == "listener":
                conn = runtime_api.accept(self._listener)
                if conn is not None and self._runtime is not None:
                    self._runtime.connections.append(conn)
                    self._selector.register(conn.sock, selectors.EVENT_READ, conn)
                elif conn is not None:
                    conn.close()
            else:
                self._serve(tag)
        runtime = self._runtime
        if (
            runtime is not None
            and runtime.pidfd is None
            and not runtime.exited
            and runtime.proc.poll() is not None
        ):
            self._note_exit()

    def _serve(self, conn: runtime_api.Connection) -> None:
        try:
            requests = conn.receive()
        except runtime_api.ProtocolError as exc:
            conn.send(
                runtime_api.render_response(exc.status, runtime_api.error_body(exc.error_type, exc.message))
            )
            self._drop_connection(conn)
            return
        for request in requests:
            self._route(conn, request)
            if not request.keep_alive:
                self._drop_connection(conn)
                return
        if conn.closed:
            self._drop_connection(conn)

    def _route(self, conn: runtime_api.Connection, request: runtime_api.HttpRequest) -> None:
        path = request.path
        if path == runtime_api.NEXT_PATH and request.method == "GET":
            self._waiting = conn
            return
        if path.startswith(runtime_api.INVOCATION_PREFIX) and request.method == "POST":
            request_id, _, action = path[len(runtime_api.INVOCATION_PREFIX) :].partition("/")
            if action not in ("response", "error"):
                conn.send(_not_found())
                return
            current = self._current
            if current is None or request_id != current.request_id or self._answer is not None:
                conn.send(_error(400, "InvalidRequestID", "Invalid request ID"))
                return
            if action == "response":
                mode = request.headers.get("lambda-runtime-function-response-mode")
                if mode is not None and mode != "streaming":
                    body = runtime_api.error_body(
                        "InvalidFunctionResponseMode", "Invalid function response mode"
                    )
                    conn.send(runtime_api.render_response(400, body))
                    self._answer = (
                        "bad_mode",
                        errors.platform_error_payload(
                            "Runtime.InvalidResponseModeHeader", "Invalid function response mode"
                        ),
                        request.headers,
                    )
                    return
                if len(request.body) > errors.MAX_RESPONSE_BYTES:
                    conn.send(
                        _error(
                            413,
                            "RequestEntityTooLarge",
                            f"Exceeded maximum allowed payload size ({errors.MAX_RESPONSE_BYTES} bytes).",
                        )
                    )
                    self._answer = ("too_large", b"", request.headers)
                    return
            conn.send(runtime_api.ACCEPTED_RESPONSE)
            self._answer = (action, request.body, request.headers)
            return
        if path == runtime_api.INIT_ERROR_PATH and request.method == "POST":
            if self._current is not None or self._init_error is not None:
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
            self._init_error = (request.body, request.headers)
            return
        if path == runtime_api.PING_PATH:
            conn.send(runtime_api.render_response(200, b"pong"))
            return
        conn.send(_not_found())

    def _drop_connection(self, conn: runtime_api.Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.close()
        if self._waiting is conn:
            self._waiting = None
        if self._runtime is not None and conn in self._runtime.connections:
            self._runtime.connections.remove(conn)

    # -- logs -----------------------------------------------------------------------------------

    def _read_logs(self) -> None:
        runtime = self._runtime
        if runtime is None:
            return
        while True:
            try:
                chunk = os.read(runtime.log_fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(runtime.log_fd)
                return
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()
            for raw in lines:
                self._log_line(raw.decode("utf-8", "replace"))
            if len(chunk) < 65536:
                return

    def _drain_logs(self) -> None:
        if self._runtime is not None:
            self._read_logs()

    def _flush_partial(self) -> None:
        if self._partial:
            self._log_line(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _log_line(self, line: str) -> None:
        if self._log is not None:
            self._log.add(line)
        if self._hooks.wants_records():
            self._hooks.log(self._log_record(line))

    def _log_record(self, line: str) -> LogRecord:
        return LogRecord(
            time=time.time(),
            function=self.config.name,
            version=self.version,
            environment_id=self.id,
            log_stream=self.log_stream,
            request_id=self._request_id,
            message=line,
        )

    # -- process management ---------------------------------------------------------------------

    _tick_peak_kb = 0
    _measured_mb = 0

    def _probe_reset(self) -> None:
        self._tick_peak_kb = 0
        if self._runtime is not None:
            self._probe.reset_peak(self._runtime.proc.pid)

    def _peak_mb(self) -> int:
        runtime = self._runtime
        kb = self._tick_peak_kb
        if runtime is not None and not runtime.exited:
            kb = max(kb, self._probe.peak_kb(runtime.proc.pid))
        return (kb + 1023) // 1024

    def _note_exit(self) -> None:
        runtime = self._runtime
        if runtime is None or runtime.exited:
            return
        if runtime.proc.poll() is None:
            # pidfd readable means the process ended; poll() reaps it. Guard against spurious wakeups.
            try:
                runtime.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                return
        runtime.exited = True
        if runtime.pidfd is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(runtime.pidfd)
        self._drain_logs()

    def _wait_exit(self, seconds: float) -> None:
        runtime = self._runtime
        deadline = time.perf_counter() + seconds
        while runtime is not None and not runtime.exited:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._pump(min(remaining, 0.05))

    def _kill_runtime(self) -> None:
        runtime = self._runtime
        if runtime is None:
            return
        # The whole process group goes, including anything the handler spawned; leftover output
        # that is already in the pipe still belongs to this invocation.
        processes.kill_now(runtime.proc)
        runtime.exited = True
        self._drain_logs()
        self._release_runtime()

    def _reset(self, reason: str) -> None:
        """Lose the runtime process but keep the environment (and its `/tmp`) for the next invoke."""
        self._kill_runtime()
        self._emit(Lifecycle.ENVIRONMENT_RESET, reason=reason)

    def _release_runtime(self) -> None:
        runtime = self._runtime
        if runtime is None:
            return
        if runtime.proc.returncode is None:
            processes.kill_now(runtime.proc)
        else:
            processes.forget(runtime.proc)
        for conn in list(runtime.connections):
            self._drop_connection(conn)
        for fd in (runtime.log_fd, runtime.pidfd):
            if fd is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)
            os.close(fd)
        self._probe.release(runtime.proc.pid)
        self._runtime = None
        self._waiting = None
        self._partial = b""

    def _close_endpoint(self) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)
        self._listener.close()
        self._selector.close()
        shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def _emit(self, kind: Lifecycle, **fields: object) -> None:
        if not self._hooks.wants_records():
            return
        self._hooks.lifecycle(
            LifecycleRecord(
                kind=kind,
                time=time.time(),
                function=self.config.name,
                version=self.version,
                environment_id=self.id,
                **fields,  # type: ignore[arg-type]
            )
        )


_POLL_HINT = f"{int(POLL_S * 1e6)}"


def _render_event(invocation: Invocation, deadline_ms: int, poll_hint: bool = False) -> bytes:
    headers = {
        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
        "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
        "Lambda-Runtime-Trace-Id": invocation.trace_id,
    }
    if invocation.client_context:
        headers["Lambda-Runtime-Client-Context"] = invocation.client_context
    if invocation.cognito_identity:
        headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
    if poll_hint:
        headers["Lambench-Poll-Us"] = _POLL_HINT
    lines = ["HTTP/1.1 200 OK", f"Content-Type: {invocation.content_type}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    lines.append(f"Content-Length: {len(invocation.payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + invocation.payload


def _error(status: int, error_type: str, message: str) -> bytes:
    return runtime_api.render_response(status, runtime_api.error_body(error_type, message))


def _not_found() -> bytes:
    return _error(404, "InvalidRequest", "Not Found")


def _error_type_of(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(parsed, dict):
        value = parsed.get("errorType")
        return value if isinstance(value, str) else None
    return None
