"""One execution environment: a runtime process behind its own Runtime API endpoint.

The environment follows the lifecycle of lambda-facts §11.1. INIT starts the runtime process and
ends when it first calls `next`. INVOKE hands it one event and waits for its answer, the
deadline, its exit or its memory limit. A timeout, crash or out-of-memory kill *resets* the
environment: the process is gone, `/tmp` stays, and the next invoke re-initialises inside its own
invoke phase (a "suppressed init"). SHUTDOWN signals the process group and removes `/tmp`.

The pieces it drives: `runtime_process` (the process), `runtime_channel` (the Runtime API and
the selector), `log_capture` (the output pipe) and `memory_watch` (the memory limit). Nothing here
starts a thread: the thread that invokes drives the environment's sockets and log pipe itself, so
a warm invoke costs one loopback round trip and no thread hand-off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from lambench.core.config import FunctionConfig
from lambench.core.record import record
from lambench.core.runtime import errors, platform_logs, processes
from lambench.core.runtime.cpu_limit import CpuLimiter
from lambench.core.runtime.envvars import build_environment
from lambench.core.runtime.figures import ERROR, SUCCESS, TIMEOUT, InvocationFigures
from lambench.core.runtime.identifiers import log_stream_name, new_environment_id
from lambench.core.runtime.log_capture import MAX_INVOCATION_LOG_BYTES, InvocationLog, LogCapture
from lambench.core.runtime.memory import MemoryProbe
from lambench.core.runtime.memory_watch import WATCHDOG_TICK_S, MemoryWatch
from lambench.core.runtime.node import NodeProblem
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, LogRecord
from lambench.core.runtime.runtime_channel import POLL_S, Invocation, error_type_of
from lambench.core.runtime.runtime_host import RuntimeHost
from lambench.core.runtime.runtime_process import Retiring, RuntimeProcess
from lambench.core.runtime.scratch import make_scratch_dir, remove_tree

__all__ = [
    "MAX_INVOCATION_LOG_BYTES",
    "EnvironmentHooks",
    "ExecutionEnvironment",
    "Invocation",
    "InvocationLog",
    "Outcome",
]

#: The INIT phase limit for on-demand environments (lambda-facts §11.1).
INIT_LIMIT_S = 10.0
#: Provisioned environments may initialise for max(130 s, the function timeout) (lambda-facts §11.1).
PROVISIONED_INIT_MIN_S = 130.0
#: Grace between SIGTERM and SIGKILL at shutdown.
SHUTDOWN_GRACE_S = 0.3


@record
class Outcome:
    """What an environment reports back for one invocation."""

    request_id: str
    payload: bytes
    function_error: str | None
    figures: InvocationFigures
    logs: str
    content_type: str = "application/json"


@record
class _Result:
    status: str  # success | handled (the function reported an error) | error (platform) | timeout
    payload: bytes
    error_type: str | None = None
    content_type: str = "application/json"


@record
class _InitResult:
    ok: bool
    duration_ms: float
    status: str = SUCCESS
    error_type: str | None = None
    payload: bytes = b""


@record
class _Start:
    """When and how one invocation began, for its outcome."""

    begun: float  # time.perf_counter
    cold: bool
    report_init_ms: float | None
    bill_init: bool
    log: InvocationLog


@record
class EnvironmentHooks:
    """How an environment reports to its service: lifecycle and log records, and whether anyone listens."""

    lifecycle: Callable[[LifecycleRecord], None]
    log: Callable[[LogRecord], None]
    wants_records: Callable[[], bool]


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
        cpu: CpuLimiter | None = None,
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
        self._hooks = hooks
        self._credentials = credentials
        self._account_environment = account_environment
        self._tmp_dir = make_scratch_dir(f"lambench-{config.name}-")
        self._memory = MemoryWatch(probe, config.memory_mb)
        self._logs = LogCapture(
            function=config.name,
            version=version,
            environment_id=self.id,
            log_stream=self.log_stream,
            publish=hooks.log,
            wants_records=hooks.wants_records,
        )
        self._host = RuntimeHost(config, python=python, logs=self._logs, memory=self._memory, cpu=cpu)
        self._channel = self._host.channel
        self.runtime_api = self._channel.address
        self._retiring = False
        # A provisioned environment's init duration, shown on its first REPORT but not billed there.
        self._provisioned_init_ms: float | None = None
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
        return self._host.runtime.pid if self._host.runtime else None

    @property
    def is_warm(self) -> bool:
        """True if the next invoke needs no init."""
        return self._host.runtime is not None and not self._host.runtime.exited

    def invoke(self, invocation: Invocation, *, poll: bool = False) -> Outcome:
        """Run one invocation to its end: answer, function error, timeout, crash or OOM.

        `poll` says this is the only invocation in flight, so polling for the answer pays.
        """
        start = self._begin(invocation)
        self.invocations += 1
        self._logs.request_id = invocation.request_id
        timeout_s = self.config.timeout_s
        start.begun = time.perf_counter()
        deadline = start.begun + timeout_s
        deadline_ms = int(time.time() * 1000) + timeout_s * 1000
        self._logs.line(platform_logs.start_line(invocation.request_id, self.version))
        self._emit(
            Lifecycle.INVOKE_START,
            request_id=invocation.request_id,
            cold=start.cold,
            attempt=invocation.attempt,
        )
        for attempt in (1, 2):
            if self._host.runtime is None:
                # Suppressed init: after a failed INIT phase or a reset, the runtime is started again
                # inside this invocation and its time counts against the function timeout.
                again = self._init(
                    phase="invoke",
                    limit_s=max(0.0, deadline - time.perf_counter()),
                    request_id=invocation.request_id,
                )
                if not again.ok:
                    return self._finish_failed_init(invocation, again, start)
            self._memory.reset(self.pid)
            self._channel.begin(invocation.request_id)
            result = self._run(invocation, deadline, deadline_ms, poll, idle_exit_allowed=attempt == 1)
            if result is not None:
                return self._finish(invocation, result, start)
            # The runtime ended before it took this event (Node's runtime exits after reporting an
            # uncaught error): as on AWS, the invocation runs on a new runtime (once).
            self._reset("runtime exited while idle")
        raise AssertionError("a second runtime's exit is reported by _run")

    def _begin(self, invocation: Invocation) -> _Start:
        """Before START: settle whether this is a cold start, and run the first INIT if it is."""
        log = self._logs.invocation_log = InvocationLog()
        self._logs.request_id = None
        start = _Start(begun=0.0, cold=False, report_init_ms=None, bill_init=True, log=log)
        self._host.pump(0.0)
        if self._host.runtime is not None and self._host.runtime.exited:
            self._reset("runtime exited while idle")
        if self._host.runtime is not None and self._provisioned_init_ms is not None:
            # The first REPORT of a provisioned environment shows its init (observed on AWS); that
            # init was billed as provisioned concurrency, not as part of this invocation.
            start.report_init_ms, start.bill_init = self._provisioned_init_ms, False
        self._provisioned_init_ms = None
        if self._host.runtime is None:
            start.cold = True
            if not self._host.ever_started:
                first = self._init(phase="init", limit_s=INIT_LIMIT_S, request_id=invocation.request_id)
                if first.ok:
                    start.report_init_ms = first.duration_ms
        return start

    def initialize(self) -> bool:
        """Run the INIT phase ahead of any request, as provisioned concurrency does; True if it succeeded.

        The first invocation afterwards is warm; its REPORT shows this Init Duration without billing it.
        """
        self._logs.invocation_log = None
        limit = max(PROVISIONED_INIT_MIN_S, float(self.config.timeout_s))
        result = self._init(phase="init", limit_s=limit, request_id=None)
        if result.ok:
            self._provisioned_init_ms = result.duration_ms
            self._host.read_logs()
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
        return self._host.runtime.proc if self._host.runtime is not None else None

    def finish_retire(self, reason: str) -> None:
        """Second half of a shutdown: kill what is left of the process group and remove `/tmp`."""
        if self.retired:
            return
        self.retired = True
        if self._host.runtime is not None:
            processes.kill_now(self._host.runtime.proc)
            self._host.release()
        self._channel.close()
        remove_tree(self._tmp_dir)
        self._emit(Lifecycle.ENVIRONMENT_RETIRED, reason=reason)

    # -- INIT -----------------------------------------------------------------------------------

    def _retirement_started(self) -> bool:
        # A method, not the attribute: another thread sets the flag while this one spawns.
        return self._retiring

    def _spawn(self) -> None:
        if self._retiring:
            raise Retiring
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
        self._host.start(env, self._retirement_started)

    def _init(self, *, phase: str, limit_s: float, request_id: str | None) -> _InitResult:
        if not self._host.ever_started:
            # INIT_START is logged once per environment, before its first START (lambda-facts
            # §5.2); a retried init inside an invocation has only its INIT_REPORT on failure.
            # Where AWS puts that retry relative to START is unconfirmed: lambench runs it after
            # START, since it counts against the invocation's timeout.
            self._logs.line(platform_logs.init_start_line(self.config.runtime, self.config.region))
        self._emit(Lifecycle.INIT_START, init_type=self.init_type, phase=phase)
        self._channel.forget_requests()
        start = time.perf_counter()
        deadline = start + limit_s
        try:
            self._spawn()
        except Retiring:
            # Retired while starting: report the runtime as killed, which is what happened to it.
            return self._init_exited(phase, start, request_id, -signal.SIGKILL)
        except NodeProblem as exc:
            # No usable `node`: the init fails as a missing executable does, and the log says why.
            self._logs.line(f"lambench: {exc}")
            return self._init_exited(phase, start, request_id, 127)
        except OSError as exc:
            # A custom runtime whose bootstrap is missing or not executable: RAPID reports the
            # exit status a shell would (127 not found, 126 not executable).
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            return self._init_exited(phase, start, request_id, code)
        runtime = self._host.runtime
        assert runtime is not None
        if runtime.notice is not None:
            self._logs.line(f"lambench: WARNING: {runtime.notice}")
        while self._init_pending(runtime):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._host.pump(min(remaining, 0.05 if runtime.pidfd is None else remaining))
        return self._init_outcome(runtime, phase, start, request_id)

    def _init_outcome(
        self, runtime: RuntimeProcess, phase: str, start: float, request_id: str | None
    ) -> _InitResult:
        """How the INIT phase begun at `start` ended: ready, an init error, an exit or the deadline."""
        if self._channel.waiting is not None:
            duration = (time.perf_counter() - start) * 1000
            self._emit(Lifecycle.INIT_END, phase=phase, duration_ms=duration, status=SUCCESS)
            return _InitResult(ok=True, duration_ms=duration)
        if self._channel.init_error is not None:
            body, headers = self._channel.init_error
            error_type = error_type_of(body, headers)
            # The Python runtime exits by itself after reporting; give it a moment, then make sure.
            self._host.wait_exit(0.5)
            return self._init_failed(phase, start, ERROR, error_type or "Runtime.Unknown", body)
        if runtime.exited:
            return self._init_exited(phase, start, request_id, runtime.exit_code())
        payload = errors.platform_error_payload(
            "Sandbox.Timedout", errors.timeout_message(request_id or "", self.config.timeout_s)
        )
        return self._init_failed(phase, start, TIMEOUT, None, payload)

    def _init_pending(self, runtime: RuntimeProcess) -> bool:
        """True until the runtime asks for its first event, reports an init error, or exits."""
        return self._channel.waiting is None and self._channel.init_error is None and not runtime.exited

    def _init_exited(self, phase: str, start: float, request_id: str | None, code: int) -> _InitResult:
        """The runtime ended (or never started) before asking for its first event."""
        payload = errors.platform_error_payload(
            "Runtime.ExitError", errors.exit_error_message(request_id or "", code)
        )
        return self._init_failed(phase, start, ERROR, "Runtime.ExitError", payload)

    def _init_failed(
        self, phase: str, start: float, status: str, error_type: str | None, payload: bytes
    ) -> _InitResult:
        duration = (time.perf_counter() - start) * 1000
        self._host.kill()
        self._logs.line(platform_logs.init_report_line(duration, phase, status, error_type))
        self._emit(
            Lifecycle.INIT_END, phase=phase, duration_ms=duration, status=status, error_type=error_type
        )
        return _InitResult(
            ok=False, duration_ms=duration, status=status, error_type=error_type, payload=payload
        )

    # -- INVOKE ---------------------------------------------------------------------------------

    def _run(
        self,
        invocation: Invocation,
        deadline: float,
        deadline_ms: int,
        poll: bool,
        *,
        idle_exit_allowed: bool,
    ) -> _Result | None:
        """Deliver the event and wait for the runtime's answer, its exit, the deadline or the memory limit.

        None (with `idle_exit_allowed`) when the runtime exited before the event was handed over.
        """
        runtime = self._host.runtime
        assert runtime is not None
        next_tick = time.perf_counter() + WATCHDOG_TICK_S
        poll_until = time.perf_counter() + POLL_S if poll else 0.0
        # Only lambench's own runtime is told to poll for its next event (a private header).
        hint = poll and not self.config.is_custom_runtime
        delivered = False
        while True:
            if not delivered and self._channel.waiting is not None:
                delivered = self._channel.deliver(invocation, deadline_ms, poll_hint=hint)
                if not delivered:
                    self._host.wait_exit(0.5)
            if idle_exit_allowed and not delivered and runtime.exited and self._channel.answer is None:
                return None
            result = self._settled(runtime, invocation, deadline)
            if result is not None:
                return result
            now = time.perf_counter()
            if now >= next_tick:
                next_tick = now + WATCHDOG_TICK_S
                if self._memory.over_limit(runtime.pid):
                    return self._oom(invocation)
            wait = min(deadline, next_tick) - now
            if runtime.pidfd is None:
                wait = min(wait, 0.05)
            if now < poll_until:
                self._host.pump(0.0)
                os.sched_yield()
                continue
            self._host.pump(wait)

    def _settled(self, runtime: RuntimeProcess, invocation: Invocation, deadline: float) -> _Result | None:
        """The invocation's result if it has one now: an answer, the runtime's exit or the deadline."""
        answer = self._channel.answer
        if answer is not None:
            if self._memory.measure(runtime.pid if not runtime.exited else None) > self.config.memory_mb:
                # The spike came and went between watchdog ticks; AWS's cgroup would have
                # killed the process at the limit, so this is an out-of-memory all the same.
                return self._oom(invocation)
            if answer.kind == "response":
                return _Result(
                    SUCCESS, answer.body, None, answer.headers.get("content-type") or "application/json"
                )
            if answer.kind == "too_large":
                return _Result(ERROR, errors.response_too_large_payload(), "Function.ResponseSizeTooLarge")
            if answer.kind == "bad_mode":
                return _Result(ERROR, answer.body, "Runtime.InvalidResponseModeHeader")
            return _Result("handled", answer.body, error_type_of(answer.body, answer.headers))
        if runtime.exited:
            message = errors.exit_error_message(invocation.request_id, runtime.exit_code())
            self._memory.measure(None)
            self._reset("runtime exited")
            return _Result(
                ERROR, errors.platform_error_payload("Runtime.ExitError", message), "Runtime.ExitError"
            )
        if time.perf_counter() >= deadline:
            self._memory.measure(runtime.pid)
            self._reset("timeout")
            message = errors.timeout_message(invocation.request_id, self.config.timeout_s)
            return _Result(
                TIMEOUT, errors.platform_error_payload("Sandbox.Timedout", message), "Sandbox.Timedout"
            )
        return None

    def _oom(self, invocation: Invocation) -> _Result:
        self._reset("out of memory")
        # The kernel's cgroup stops a process at its limit, so AWS never reports more than that.
        self._memory.measured_mb = self.config.memory_mb
        message = errors.out_of_memory_message(invocation.request_id)
        return _Result(
            ERROR, errors.platform_error_payload("Runtime.OutOfMemory", message), "Runtime.OutOfMemory"
        )

    def _finish(self, invocation: Invocation, result: _Result, start: _Start) -> Outcome:
        """After the result: the END and REPORT lines, the INVOKE_END record and the outcome."""
        end = time.perf_counter()
        self._channel.end()
        if result.status != SUCCESS:
            # On success the runtime wrote its output before posting the answer, so the pipe was
            # already readable in the same wake-up and has been read; after a kill or exit, the
            # last output may still be in flight.
            self._host.read_logs()
        self._logs.flush_partial()
        if result.status == TIMEOUT:
            # AWS reports the configured timeout as the duration of a timed-out invocation.
            duration = self.config.timeout_s * 1000.0
            self._logs.line(platform_logs.timed_out_line(invocation.request_id, self.config.timeout_s))
        else:
            duration = (end - start.begun) * 1000
        status = result.status if result.status in (SUCCESS, TIMEOUT) else ERROR
        figures = InvocationFigures(
            duration_ms=duration,
            billed_duration_ms=platform_logs.billed_duration_ms(
                duration, start.report_init_ms if start.bill_init else None
            ),
            memory_size_mb=self.config.memory_mb,
            max_memory_used_mb=min(self._memory.measured_mb, self.config.memory_mb),
            init_duration_ms=start.report_init_ms,
            cold=start.cold,
            status=status,
            error_type=result.error_type,
        )
        self._logs.line(platform_logs.end_line(invocation.request_id))
        # The REPORT line's Status is for the platform's errors only, not the function's own.
        self._logs.line(
            platform_logs.report_line(invocation.request_id, figures, platform=result.status != "handled")
        )
        self._emit(Lifecycle.INVOKE_END, request_id=invocation.request_id, figures=figures)
        self._logs.request_id = None
        return Outcome(
            request_id=invocation.request_id,
            payload=result.payload,
            function_error=None if status == SUCCESS else "Unhandled",
            figures=figures,
            logs=start.log.text(),
            content_type=result.content_type,
        )

    def _finish_failed_init(self, invocation: Invocation, failure: _InitResult, start: _Start) -> Outcome:
        self._memory.measure_ticks()
        if failure.status == TIMEOUT:
            message = errors.timeout_message(invocation.request_id, self.config.timeout_s)
            result = _Result(
                TIMEOUT, errors.platform_error_payload("Sandbox.Timedout", message), "Sandbox.Timedout"
            )
        else:
            result = _Result(ERROR, failure.payload, failure.error_type)
        start.report_init_ms = None
        return self._finish(invocation, result, start)

    def _reset(self, reason: str) -> None:
        """Lose the runtime process but keep the environment (and its `/tmp`) for the next invoke."""
        self._host.kill()
        self._emit(Lifecycle.ENVIRONMENT_RESET, reason=reason)

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
