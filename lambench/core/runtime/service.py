"""`LocalLambda`: the local Lambda service. It holds functions and their execution environments.

A synchronous invoke takes an idle environment of the function (warm start) or creates one
(cold start), runs the event in the calling thread and hands the environment back. Concurrent
callers therefore get separate environments, as in AWS. Every step is published as a record to
subscribers (the visualizer, log tail and metrics).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambench.core.config import FunctionConfig
from lambench.core.runtime import errors, processes
from lambench.core.runtime.environment import EnvironmentHooks, ExecutionEnvironment, Invocation, Outcome
from lambench.core.runtime.identifiers import function_arn, new_request_id, new_trace_header
from lambench.core.runtime.memory import MemoryProbe, default_probe
from lambench.core.runtime.records import LifecycleRecord, LogRecord

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
LATEST = "$LATEST"
#: `LogType=Tail` returns the last 4 KB of the invocation's log (lambda-facts §5.6).
TAIL_BYTES = 4096

Record = LifecycleRecord | LogRecord
Subscriber = Callable[[Record], None]

_log = logging.getLogger("lambench.engine")


@dataclass(frozen=True)
class InvokeResult:
    """Everything an invocation produced, in the terms of the Invoke API and the REPORT line.

    `status_code` is 200 (RequestResponse), 202 (Event) or 204 (DryRun); for the last two the
    function has not run yet (Event) or at all (DryRun), and the figures are zero.
    """

    request_id: str
    status_code: int
    payload: bytes
    function_error: str | None
    error_type: str | None
    executed_version: str | None
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None
    max_memory_used_mb: int
    memory_size_mb: int
    cold: bool
    environment_id: str | None
    logs: str
    log_result: str | None
    content_type: str = "application/json"

    def payload_json(self) -> Any:
        """The payload parsed as JSON, or the text itself when it is not JSON."""
        text = self.payload.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text


@dataclass(frozen=True)
class EnvironmentInfo:
    """A snapshot of one environment, for listings and the UI."""

    id: str
    function: str
    version: str
    pid: int | None
    busy: bool
    warm: bool
    invocations: int
    created_at: float
    log_stream: str
    tmp_dir: str


class LocalLambda:
    """The local Lambda service: functions, their environments, and a thread-safe `invoke`.

    Use it as a context manager, or call `close()`: it retires every environment. Environments
    left open at interpreter exit (or on SIGTERM) are retired too.
    """

    def __init__(
        self,
        functions: Iterable[FunctionConfig] = (),
        *,
        probe: MemoryProbe | None = None,
        python: str = sys.executable,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._functions: dict[str, FunctionConfig] = {}
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._async_threads: set[threading.Thread] = set()
        self._subscribers: list[Subscriber] = []
        self._probe = probe or default_probe()
        self._python = python
        self._credentials = dict(credentials) if credentials else None
        self._closed = False
        self._released = threading.Condition(self._lock)
        self._hooks = EnvironmentHooks(
            lifecycle=self._publish, log=self._publish, wants_records=lambda: bool(self._subscribers)
        )
        for config in functions:
            self.add_function(config)
        processes.register_closer(self)
        processes.install_signal_handlers()

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- functions ------------------------------------------------------------------------------

    def add_function(self, config: FunctionConfig) -> None:
        """Add a function, or replace one of the same name (its environments are retired)."""
        with self._lock:
            self._check_open()
            old = self._idle.pop(config.name, [])
            self._functions[config.name] = config
            self._idle[config.name] = []
        self._retire_all(old, "function updated")

    def get_function(self, name: str) -> FunctionConfig:
        """The configuration of `name` (unqualified), or ResourceNotFoundError."""
        with self._lock:
            config = self._functions.get(name)
        if config is None:
            raise errors.ResourceNotFoundError.for_function("us-east-1", name, None)
        return config

    def functions(self) -> list[FunctionConfig]:
        """Every function, in the order they were added."""
        with self._lock:
            return list(self._functions.values())

    def environments(self, function: str | None = None) -> list[EnvironmentInfo]:
        """Snapshots of the live environments, optionally of one function."""
        with self._lock:
            busy = list(self._busy)
            idle = [env for envs in self._idle.values() for env in envs]
        result = []
        for env, is_busy in [(e, True) for e in busy] + [(e, False) for e in idle]:
            if function is not None and env.config.name != function:
                continue
            result.append(
                EnvironmentInfo(
                    id=env.id,
                    function=env.config.name,
                    version=env.version,
                    pid=env.pid,
                    busy=is_busy,
                    warm=env.is_warm,
                    invocations=env.invocations,
                    created_at=env.created_at,
                    log_stream=env.log_stream,
                    tmp_dir=env.tmp_dir,
                )
            )
        return sorted(result, key=lambda info: info.created_at)

    # -- subscribers ----------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every lifecycle and log record; returns a function that unsubscribes.

        Callbacks run on the invoking thread and must not block: queue the record and return.
        """
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def _publish(self, record: Record) -> None:
        for callback in self._subscribers:
            try:
                callback(record)
            except Exception:
                _log.exception("a lambench subscriber failed on %s", type(record).__name__)

    # -- invoke ---------------------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        payload: bytes | str = b"",
        *,
        invocation_type: str = "RequestResponse",
        qualifier: str | None = None,
        client_context: str | Mapping[str, Any] | None = None,
        log_type: str = "None",
    ) -> InvokeResult:
        """Invoke a function as the Invoke API does.

        `name` may be a name, `name:qualifier`, a full or partial ARN. `client_context` is the
        base64-encoded JSON the API takes, or a mapping lambench encodes for you. Raises a
        `LambdaServiceError` where AWS would answer with an HTTP error (unknown function, payload
        too large, bad parameters); function errors come back in the result, as in AWS.
        """
        if invocation_type not in INVOCATION_TYPES:
            raise errors.InvalidParameterValueError(
                f"Invalid InvocationType: {invocation_type!r}; use one of {', '.join(INVOCATION_TYPES)}"
            )
        if log_type not in LOG_TYPES:
            raise errors.InvalidParameterValueError(f"Invalid LogType: {log_type!r}; use None or Tail")
        function_name, qualifier = _split_name(name, qualifier)
        with self._lock:
            config = self._functions.get(function_name)
        if config is None or qualifier not in (None, LATEST):
            # Versions and aliases arrive with the concurrency work; until then only $LATEST exists.
            raise errors.ResourceNotFoundError.for_function("us-east-1", function_name, qualifier)
        body = payload.encode() if isinstance(payload, str) else bytes(payload)
        limit = (
            errors.MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else errors.MAX_SYNC_REQUEST_BYTES
        )
        if len(body) > limit:
            raise errors.RequestTooLargeError.for_limit(limit)
        if not body:
            # The Invoke API sends an empty payload to the function as an empty JSON object.
            body = b"{}"
        _check_json(body)
        context_json = _decode_client_context(client_context)
        request_id = new_request_id()
        invocation = Invocation(
            request_id=request_id,
            payload=body,
            invoked_function_arn=function_arn(config.region, config.name, qualifier),
            trace_id=new_trace_header(),
            # Lambda passes client context to synchronous invocations only (lambda-facts §3.3).
            client_context=context_json if invocation_type == "RequestResponse" else None,
        )
        if invocation_type == "DryRun":
            return _empty_result(request_id, 204, config)
        if invocation_type == "Event":
            self._start_async(config, invocation)
            return _empty_result(request_id, 202, config)
        outcome, env_id = self._run(config, invocation)
        return _result(outcome, config, env_id, log_type)

    def _run(self, config: FunctionConfig, invocation: Invocation) -> tuple[Outcome, str]:
        env, alone = self._acquire(config)
        try:
            outcome = env.invoke(invocation, poll=alone)
        except BaseException:
            # Interrupted mid-invocation (Ctrl-C, a bug): its runtime's state is unknown, so it
            # must never serve another event.
            env.retire("invocation interrupted", grace_s=0.0)
            raise
        finally:
            self._release(env)
        return outcome, env.id

    def _start_async(self, config: FunctionConfig, invocation: Invocation) -> None:
        def run() -> None:
            try:
                self._run(config, invocation)
            except errors.LambdaServiceError:
                pass  # the service closed under it
            finally:
                with self._lock:
                    self._async_threads.discard(thread)

        thread = threading.Thread(target=run, name=f"lambench-async-{invocation.request_id[:8]}", daemon=True)
        with self._lock:
            self._check_open()
            self._async_threads.add(thread)
        thread.start()

    def _acquire(self, config: FunctionConfig) -> tuple[ExecutionEnvironment, bool]:
        """An environment for one invocation, and whether it is the only one in flight."""
        with self._lock:
            self._check_open()
            idle = self._idle.setdefault(config.name, [])
            # Most recently used first: it is the warmest (and AWS reuses recent environments).
            # Idle lists only ever hold environments of the current configuration: add_function
            # empties them and _release does not pool an environment of a replaced one.
            if idle:
                env = idle.pop()
                self._busy.add(env)
                return env, len(self._busy) == 1
        env = ExecutionEnvironment(
            config,
            version=LATEST,
            probe=self._probe,
            hooks=self._hooks,
            python=self._python,
            credentials=self._credentials,
        )
        with self._lock:
            if self._closed:
                env.retire("service closed")
                raise errors.LambdaServiceError("The local Lambda service is closed")
            self._busy.add(env)
            alone = len(self._busy) == 1
        return env, alone

    def _release(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(env)
            keep = not self._closed and not env.retired and self._functions.get(env.config.name) is env.config
            if keep:
                self._idle.setdefault(env.config.name, []).append(env)
            self._released.notify_all()
        if not keep:
            env.retire("service closed" if self._closed else "function updated")

    def _retire_all(self, envs: list[ExecutionEnvironment], reason: str) -> None:
        procs = [p for p in (env.begin_retire() for env in envs) if p is not None]
        if procs:
            processes.terminate_all(procs, grace_s=0.3)
        for env in envs:
            env.finish_retire(reason)

    def _check_open(self) -> None:
        if self._closed:
            raise errors.LambdaServiceError("The local Lambda service is closed")

    # -- shutdown -------------------------------------------------------------------------------

    def close(self, timeout_s: float = 5.0) -> None:
        """Retire every environment; busy ones are killed and retired by their invoking thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle = [env for envs in self._idle.values() for env in envs]
            self._idle.clear()
            busy = list(self._busy)
        self._retire_all(idle, "service closed")
        for env in busy:
            proc = env.begin_retire()
            if proc is not None:
                processes.signal_group(proc, signal.SIGKILL)
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._busy and time.monotonic() < deadline:
                self._released.wait(timeout=max(0.0, deadline - time.monotonic()))


def _split_name(name: str, qualifier: str | None) -> tuple[str, str | None]:
    """Accept `name`, `name:qualifier`, a full ARN or a partial ARN (`acct:function:name[:q]`)."""
    parts = name.split(":")
    if name.startswith("arn:"):
        if len(parts) < 7 or parts[5] != "function":
            raise errors.InvalidParameterValueError(f"Invalid function name or ARN: {name!r}")
        parts = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]
    if len(parts) > 2 or not parts[0]:
        raise errors.InvalidParameterValueError(f"Invalid function name or ARN: {name!r}")
    embedded = parts[1] if len(parts) == 2 else None
    if embedded and qualifier and embedded != qualifier:
        raise errors.InvalidParameterValueError(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return parts[0], embedded or qualifier


def _check_json(body: bytes) -> None:
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidRequestContentError(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None


def _decode_client_context(value: str | Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    encoded = base64.b64encode(json.dumps(value).encode()).decode() if isinstance(value, Mapping) else value
    if len(encoded) > errors.MAX_CLIENT_CONTEXT_BYTES:
        raise errors.InvalidParameterValueError(
            f"Client context must be at most {errors.MAX_CLIENT_CONTEXT_BYTES} bytes, base64-encoded"
        )
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # AWS's exact wording for this case is unconfirmed.
        raise errors.InvalidParameterValueError(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None


def _result(outcome: Outcome, config: FunctionConfig, env_id: str, log_type: str) -> InvokeResult:
    tail = None
    if log_type == "Tail":
        tail = base64.b64encode(outcome.logs.encode("utf-8")[-TAIL_BYTES:]).decode()
    return InvokeResult(
        request_id=outcome.request_id,
        status_code=200,
        payload=outcome.payload,
        function_error=outcome.function_error,
        error_type=outcome.error_type,
        executed_version=LATEST,
        duration_ms=outcome.duration_ms,
        billed_duration_ms=outcome.billed_duration_ms,
        init_duration_ms=outcome.init_duration_ms,
        max_memory_used_mb=outcome.max_memory_used_mb,
        memory_size_mb=config.memory_mb,
        cold=outcome.cold,
        environment_id=env_id,
        logs=outcome.logs,
        log_result=tail,
        content_type=outcome.content_type,
    )


def _empty_result(request_id: str, status: int, config: FunctionConfig) -> InvokeResult:
    return InvokeResult(
        request_id=request_id,
        status_code=status,
        payload=b"",
        function_error=None,
        error_type=None,
        executed_version=None,
        duration_ms=0.0,
        billed_duration_ms=0,
        init_duration_ms=None,
        max_memory_used_mb=0,
        memory_size_mb=config.memory_mb,
        cold=False,
        environment_id=None,
        logs="",
        log_result=None,
    )
