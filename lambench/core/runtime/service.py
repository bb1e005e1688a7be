"""`LocalLambda`: the local Lambda service. It holds functions, their versions and aliases, and
their execution environments.

A synchronous invoke resolves its qualifier to a version, is admitted by the account's concurrency
limits (or throttled), takes an idle environment of that version (warm start), a provisioned one,
or creates one (cold start), runs the event in the calling thread and hands the environment back.
Concurrent callers therefore get separate environments, as in AWS. Every step is published as a
record to subscribers (the timeline, the log tail and the metrics).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lambench.core.config import FunctionConfig
from lambench.core.runtime import errors, processes
from lambench.core.runtime.concurrency import AccountConcurrency, ConcurrencyLimits, check_provisioned_count
from lambench.core.runtime.environment import EnvironmentHooks, ExecutionEnvironment, Invocation, Outcome
from lambench.core.runtime.identifiers import function_arn, new_request_id, new_trace_header
from lambench.core.runtime.memory import MemoryProbe, default_probe
from lambench.core.runtime.provisioned import IN_PROGRESS, ProvisionedPool, ProvisionedStatus
from lambench.core.runtime.records import Record, ThrottleRecord
from lambench.core.runtime.versions import Alias, Version, VersionStore

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
LATEST = "$LATEST"
#: `LogType=Tail` returns the last 4 KB of the invocation's log (lambda-facts §5.6).
TAIL_BYTES = 4096

ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"
#: How long an idle on-demand environment is kept. AWS does not document it; 5 to 15 minutes is
#: what is commonly observed, and lambench takes the low end.
DEFAULT_KEEP_ALIVE_S = 300.0
#: The longest an environment lives, busy or idle; AWS recycles environments after a few hours
#: (an observation, not a documented figure).
DEFAULT_MAX_LIFETIME_S = 2 * 3600.0
#: Threads that initialise provisioned environments in parallel, per configuration.
PROVISIONING_THREADS = 4
#: A throttled asynchronous event is retried after this delay, doubling up to the maximum.
ASYNC_THROTTLE_RETRY_S = 1.0
ASYNC_THROTTLE_RETRY_MAX_S = 30.0

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
    init_type: str = ON_DEMAND
    provisioned_for: str | None = None


@dataclass
class FunctionStats:
    """What the service counted for one function since it started (the timeline must agree)."""

    invocations: int = 0
    cold_starts: int = 0
    errors: int = 0
    throttles: int = 0
    environments_created: int = 0


class LocalLambda:
    """The local Lambda service: functions, versions, aliases, concurrency and a thread-safe `invoke`.

    Use it as a context manager, or call `close()`: it retires every environment and joins every
    thread it started. Environments left open at interpreter exit (or on SIGTERM) are retired too.

    `versions` is where published versions and aliases live (a project's `.lambench/versions`); by
    default they go to a temporary directory that `close()` removes. Idle on-demand environments
    are retired after `keep_alive_s`, and every environment after `max_lifetime_s` (provisioned
    ones are replaced first, as AWS recycles them).
    """

    def __init__(
        self,
        functions: Iterable[FunctionConfig] = (),
        *,
        probe: MemoryProbe | None = None,
        python: str = sys.executable,
        credentials: Mapping[str, str] | None = None,
        account_environment: Mapping[str, str] | None = None,
        limits: ConcurrencyLimits | None = None,
        versions: VersionStore | Path | str | None = None,
        keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
        max_lifetime_s: float = DEFAULT_MAX_LIFETIME_S,
        seed: int | None = None,
    ) -> None:
        if keep_alive_s <= 0 or max_lifetime_s <= 0:
            raise ValueError("keep_alive_s and max_lifetime_s must be positive")
        self._lock = threading.Lock()
        self._functions: dict[str, FunctionConfig] = {}
        self._idle: dict[tuple[str, str], list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._starting: set[ExecutionEnvironment] = set()
        self._provisioned: dict[tuple[str, str], ProvisionedPool] = {}
        self._threads: set[threading.Thread] = set()
        self._subscribers: list[Subscriber] = []
        self._stats: dict[str, FunctionStats] = {}
        self._probe = probe or default_probe()
        self._python = python
        self._credentials = dict(credentials) if credentials else None
        self._account_environment = dict(account_environment) if account_environment else None
        self._concurrency = AccountConcurrency(limits)
        self._owned_versions_dir: str | None = None
        if isinstance(versions, VersionStore):
            self._versions = versions
        elif versions is not None:
            self._versions = VersionStore(versions)
        else:
            self._owned_versions_dir = tempfile.mkdtemp(prefix="lambench-versions-")
            self._versions = VersionStore(self._owned_versions_dir)
        self._keep_alive_s = keep_alive_s
        self._max_lifetime_s = max_lifetime_s
        self._random = random.Random(seed)
        self._closed = False
        self._released = threading.Condition(self._lock)
        self._changed = threading.Condition(self._lock)
        self._housekeeper: threading.Thread | None = None
        self._housekeeper_due: float | None = None
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
        """Add a function, or replace one of the same name (its idle $LATEST environments are retired)."""
        with self._lock:
            self._check_open()
            old = self._idle.pop((config.name, LATEST), [])
            self._functions[config.name] = config
            self._stats.setdefault(config.name, FunctionStats())
        self._retire_all(old, "function updated")

    def reload_function(self, name: str, config: FunctionConfig | None = None) -> int:
        """Make the next invoke of `name`'s $LATEST a cold start with fresh code (and `config`, if given).

        Idle $LATEST environments are retired now; busy ones finish their invocation and are retired
        after it, never pooled again; from this call on no new invocation reaches an old one.
        Published versions are snapshots and are left alone. Returns how many environments were
        retired or marked.
        """
        with self._lock:
            self._check_open()
            current = self._functions.get(name)
            if current is None:
                raise errors.ResourceNotFoundError.for_function("us-east-1", name, None)
            # A new object even when nothing in the configuration changed: _release pools an
            # environment only while the function's configuration is the very one it started with.
            self._functions[name] = replace(config if config is not None else current)
            old = self._idle.pop((name, LATEST), [])
            marked = sum(
                1
                for env in (*self._busy, *self._starting)
                if env.config.name == name and env.version == LATEST and env.provisioned_for is None
            )
        self._retire_all(old, "function updated")
        return len(old) + marked

    def remove_function(self, name: str) -> int:
        """Remove `name`: its idle environments are retired now, busy ones after their invocation.

        Returns how many environments were retired or marked.
        """
        with self._lock:
            self._check_open()
            if self._functions.pop(name, None) is None:
                raise errors.ResourceNotFoundError.for_function("us-east-1", name, None)
            old = [env for (function, _), envs in self._idle.items() if function == name for env in envs]
            for key in [key for key in self._idle if key[0] == name]:
                del self._idle[key]
            marked = sum(1 for env in (*self._busy, *self._starting) if env.config.name == name)
        self._retire_all(old, "function removed")
        return len(old) + marked

    def announce(self, record: Record) -> None:
        """Publish a record made outside the engine (a hot reload) to every subscriber."""
        self._publish(record)

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

    def stats(self, name: str) -> FunctionStats:
        """A copy of the service's counters for one function."""
        self.get_function(name)
        with self._lock:
            return replace(self._stats[name])

    def environments(self, function: str | None = None) -> list[EnvironmentInfo]:
        """Snapshots of the live environments, optionally of one function."""
        with self._lock:
            busy = list(self._busy)
            idle = [env for envs in self._idle.values() for env in envs]
            for pool in self._provisioned.values():
                idle.extend(pool.idle)
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
                    init_type=env.init_type,
                    provisioned_for=env.provisioned_for[1] if env.provisioned_for else None,
                )
            )
        return sorted(result, key=lambda info: info.created_at)

    # -- versions and aliases -------------------------------------------------------------------

    def publish_version(self, name: str, description: str = "") -> Version:
        """PublishVersion: snapshot $LATEST's code and configuration (or return the unchanged latest)."""
        config = self.get_function(name)
        version, _created = self._versions.publish(config, description)
        return version

    def versions(self, name: str) -> list[Version]:
        """ListVersionsByFunction, without $LATEST."""
        self.get_function(name)
        return self._versions.versions(name)

    def create_alias(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        weights: Mapping[str, float] | None = None,
        description: str = "",
    ) -> Alias:
        """CreateAlias, with an optional `{version: weight}` routing configuration."""
        config = self.get_function(name)
        return self._versions.put_alias(
            name,
            alias,
            version=version,
            weights=weights or {},
            description=description,
            create=True,
            region=config.region,
        )

    def update_alias(
        self,
        name: str,
        alias: str,
        *,
        version: str | None = None,
        weights: Mapping[str, float] | None = None,
        description: str | None = None,
    ) -> Alias:
        """UpdateAlias; `None` keeps a field as it is, `weights={}` removes the routing."""
        config = self.get_function(name)
        return self._versions.put_alias(
            name,
            alias,
            version=version,
            weights=weights,
            description=description,
            create=False,
            region=config.region,
        )

    def delete_alias(self, name: str, alias: str) -> None:
        """DeleteAlias."""
        self.get_function(name)
        self._versions.delete_alias(name, alias)

    def aliases(self, name: str) -> list[Alias]:
        """ListAliases."""
        self.get_function(name)
        return self._versions.aliases(name)

    def _resolve(self, name: str, qualifier: str | None) -> tuple[FunctionConfig, str]:
        """The configuration and version an invoke of `name:qualifier` runs (an alias picks by weight)."""
        with self._lock:
            config = self._functions.get(name)
        if config is None:
            raise errors.ResourceNotFoundError.for_function("us-east-1", name, qualifier)
        if qualifier is None or qualifier == LATEST:
            return config, LATEST
        version = qualifier
        if not qualifier.isdigit():
            alias = self._versions.get_alias(name, qualifier)
            if alias is None:
                raise errors.ResourceNotFoundError.for_function(config.region, name, qualifier)
            version = alias.function_version
            if alias.weights:
                ((extra, weight),) = alias.weights.items()
                # One independent draw per request, as AWS routes (lambda-facts §10).
                if self._random.random() < weight:
                    version = extra
            if version == LATEST:
                return config, LATEST
        published = self._versions.get_version(name, version)
        if published is None:
            raise errors.ResourceNotFoundError.for_function(config.region, name, qualifier)
        return published.config, version

    # -- concurrency ----------------------------------------------------------------------------

    def put_function_concurrency(self, name: str, reserved: int | None) -> None:
        """PutFunctionConcurrency, or DeleteFunctionConcurrency with None; 0 throttles every invoke."""
        self.get_function(name)
        with self._lock:
            self._concurrency.set_reserved(name, reserved)

    def get_function_concurrency(self, name: str) -> int | None:
        """The function's reserved concurrency, or None."""
        self.get_function(name)
        with self._lock:
            return self._concurrency.reserved(name)

    def put_provisioned_concurrency(self, name: str, qualifier: str, count: int) -> ProvisionedStatus:
        """PutProvisionedConcurrencyConfig: start `count` environments for a version or alias.

        Returns at once with status IN_PROGRESS; `wait_provisioned` waits for READY or FAILED.
        The count must be at least 1; `delete_provisioned_concurrency` removes a configuration.
        """
        check_provisioned_count(count)
        version = self._provisioned_version(name, qualifier, for_put=True)
        return self._set_provisioned(name, qualifier, version, count)

    def _provisioned_version(self, name: str, qualifier: str, *, for_put: bool = False) -> str:
        """The version a provisioned-concurrency configuration on `qualifier` serves (AWS's checks)."""
        config = self.get_function(name)
        # Texts recorded against AWS (LocalStack's snapshots of the provisioned-concurrency tests).
        if qualifier in ("", LATEST):
            raise errors.InvalidParameterValueError(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
                if for_put
                else "The function resource provided must be an alias or a published version."
            )
        if qualifier.isdigit():
            if self._versions.get_version(name, qualifier) is None:
                raise errors.ResourceNotFoundError.for_function(config.region, name, qualifier)
            return qualifier
        alias = self._versions.require_alias(name, qualifier, config.region)
        if for_put and alias.function_version == LATEST:
            raise errors.InvalidParameterValueError(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
            )
        if for_put and alias.weights:
            # From CloudFormation captures; the Developer Guide says PC cannot be managed on an alias
            # while it routes to two versions.
            raise errors.InvalidParameterValueError("Invalid alias configuration for Provisioned Concurrency")
        return alias.function_version

    def _set_provisioned(self, name: str, qualifier: str, version: str, count: int) -> ProvisionedStatus:
        key = (name, qualifier)
        with self._lock:
            self._check_open()
            for (function, other), pool in self._provisioned.items():
                if function != name or other == qualifier or pool.version != version or count == 0:
                    continue
                # A version has at most one configuration, on itself or on one alias (lambda-facts §9).
                raise errors.ResourceConflictError(
                    "Version is pointed by a Provisioned Concurrency alias"
                    if qualifier.isdigit()
                    else "Alias can't be used for Provisioned Concurrency configuration on an already "
                    "Provisioned version"
                )
            self._concurrency.set_provisioned(name, qualifier, count)
            old = self._provisioned.pop(key, None)
            surplus = list(old.members) if old is not None else []
            for env in surplus:
                env.provisioned_for = None
            idle_surplus = [env for env in surplus if env not in self._busy]
            if count == 0:
                self._changed.notify_all()
                status = ProvisionedStatus(name, qualifier, 0, 0, 0, "READY", None, "")
            else:
                pool = ProvisionedPool(function=name, qualifier=qualifier, version=version, requested=count)
                # Environments of the old configuration that still fit move over instead of restarting.
                for env in idle_surplus[:]:
                    if env.version == version and pool.wants():
                        env.provisioned_for = key
                        pool.add(env)
                        idle_surplus.remove(env)
                self._provisioned[key] = pool
                status = pool.status()
                self._start_provisioning(key, min(count, PROVISIONING_THREADS))
        self._retire_all(idle_surplus, "provisioned concurrency changed")
        return status

    def get_provisioned_concurrency(self, name: str, qualifier: str) -> ProvisionedStatus:
        """GetProvisionedConcurrencyConfig; ProvisionedConcurrencyConfigNotFoundException if there is none."""
        self._provisioned_version(name, qualifier)
        with self._lock:
            return self._pool(name, qualifier).status()

    def delete_provisioned_concurrency(self, name: str, qualifier: str) -> None:
        """DeleteProvisionedConcurrencyConfig (204 even when there is none, as in AWS).

        Its idle environments are retired at once, busy ones after their invocation.
        """
        version = self._provisioned_version(name, qualifier)
        self._set_provisioned(name, qualifier, version, 0)

    def wait_provisioned(self, name: str, qualifier: str, timeout_s: float = 60.0) -> ProvisionedStatus:
        """Block until the configuration is READY or FAILED (or `timeout_s` passes); its status."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                status = self._pool(name, qualifier).status()
                remaining = deadline - time.monotonic()
                if status.status != IN_PROGRESS or remaining <= 0 or self._closed:
                    return status
                self._changed.wait(remaining)

    def _pool(self, name: str, qualifier: str) -> ProvisionedPool:
        """The configuration on `name:qualifier`, or AWS's not-found error. Lock held."""
        pool = self._provisioned.get((name, qualifier))
        if pool is None:
            raise errors.ProvisionedConfigNotFoundError(
                "No Provisioned Concurrency Config found for this function"
            )
        return pool

    def _start_provisioning(self, key: tuple[str, str], workers: int) -> None:
        for _ in range(workers):
            thread = threading.Thread(
                target=self._provision, args=(key,), name=f"lambench-provision-{key[0]}", daemon=True
            )
            self._threads.add(thread)
            thread.start()

    def _provision(self, key: tuple[str, str]) -> None:
        try:
            while self._provision_one(key):
                pass
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._changed.notify_all()

    def _provision_one(self, key: tuple[str, str]) -> bool:
        """Initialise one environment the configuration still needs; False when none is needed."""
        with self._lock:
            pool = self._provisioned.get(key)
            if self._closed or pool is None:
                return False
            if not pool.needs_more():
                return False
            pool.initializing += 1
        try:
            env = self._new_environment(self._version_config(key[0], pool.version), pool.version, PROVISIONED)
        except BaseException:
            with self._lock:
                pool.initializing -= 1
                pool.failed = True
                self._changed.notify_all()
            raise
        env.provisioned_for = key
        with self._lock:
            self._starting.add(env)
            closed = self._closed
        ok = not closed and env.initialize()
        with self._lock:
            self._starting.discard(env)
            pool.initializing -= 1
            accepted = ok and not self._closed and self._provisioned.get(key) is pool and pool.wants()
            if accepted:
                pool.add(env)
                self._schedule_housekeeping(env)
            elif not ok and self._provisioned.get(key) is pool:
                pool.failed = True
            self._changed.notify_all()
        if not accepted:
            env.retire("provisioned concurrency init failed" if not ok else "provisioned concurrency changed")
        return ok

    def _version_config(self, name: str, version: str) -> FunctionConfig:
        published = self._versions.get_version(name, version)
        if published is None:
            raise errors.ResourceNotFoundError.for_function("us-east-1", name, version)
        return published.config

    # -- subscribers ----------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every lifecycle, log and throttle record; returns a function that unsubscribes.

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

        `name` may be a name, `name:qualifier`, a full or partial ARN; the qualifier is a version
        number, an alias or `$LATEST`. `client_context` is the base64-encoded JSON the API takes, or
        a mapping lambench encodes for you. Raises a `LambdaServiceError` where AWS would answer
        with an HTTP error (unknown function, payload too large, bad parameters, and
        `TooManyRequestsError` when a synchronous invoke is throttled); function errors come back in
        the result, as in AWS.
        """
        if invocation_type not in INVOCATION_TYPES:
            raise errors.InvalidParameterValueError(
                f"Invalid InvocationType: {invocation_type!r}; use one of {', '.join(INVOCATION_TYPES)}"
            )
        if log_type not in LOG_TYPES:
            raise errors.InvalidParameterValueError(f"Invalid LogType: {log_type!r}; use None or Tail")
        function_name, qualifier = _split_name(name, qualifier)
        config, version = self._resolve(function_name, qualifier)
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
        target = _Target(config, version, qualifier)
        if invocation_type == "Event":
            self._start_async(target, invocation)
            return _empty_result(request_id, 202, config)
        outcome, env_id = self._run(target, invocation)
        return _result(outcome, config, version, env_id, log_type)

    def _run(self, target: _Target, invocation: Invocation) -> tuple[Outcome, str]:
        env, alone, admitted = self._acquire(target, invocation.request_id)
        outcome: Outcome | None = None
        try:
            outcome = env.invoke(invocation, poll=alone)
        except BaseException:
            # Interrupted mid-invocation (Ctrl-C, a bug): its runtime's state is unknown, so it
            # must never serve another event.
            env.retire("invocation interrupted", grace_s=0.0)
            raise
        finally:
            self._release(env, admitted, outcome)
        return outcome, env.id

    def _start_async(self, target: _Target, invocation: Invocation) -> None:
        def run() -> None:
            delay = ASYNC_THROTTLE_RETRY_S
            try:
                while True:
                    try:
                        self._run(target, invocation)
                        return
                    except errors.TooManyRequestsError:
                        # Lambda keeps a throttled asynchronous event and retries it with backoff
                        # (lambda-facts §9); lambench retries until the service closes.
                        if self._sleep_unless_closed(delay):
                            return
                        delay = min(delay * 2, ASYNC_THROTTLE_RETRY_MAX_S)
            except errors.LambdaServiceError:
                pass  # the service closed under it
            finally:
                with self._lock:
                    self._threads.discard(thread)

        thread = threading.Thread(target=run, name=f"lambench-async-{invocation.request_id[:8]}", daemon=True)
        with self._lock:
            self._check_open()
            self._threads.add(thread)
        thread.start()

    def _sleep_unless_closed(self, seconds: float) -> bool:
        """Wait `seconds`, or less if the service closes meanwhile; True if it closed."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def _acquire(self, target: _Target, request_id: str) -> tuple[ExecutionEnvironment, bool, bool]:
        """An environment for one invocation, whether it is alone in flight, and whether it was admitted.

        A provisioned environment needs no admission; an on-demand one is counted against the
        concurrency limits, and a new one also against the scaling rate.
        """
        name, version = target.config.name, target.version
        with self._lock:
            self._check_open()
            if target.qualifier is not None and self._provisioned:
                pool = self._provisioned.get((name, target.qualifier))
                env = pool.take(version) if pool is not None else None
                if env is not None:
                    self._busy.add(env)
                    return env, len(self._busy) == 1, False
            idle = self._idle.get((name, version))
            reason = self._concurrency.admit(name, new_environment=not idle)
            if reason is None and idle:
                # Most recently used first: it is the warmest (and AWS reuses recent environments).
                # Idle lists only ever hold environments of the current configuration: add_function
                # empties them and _release does not pool an environment of a replaced one.
                env = idle.pop()
                self._busy.add(env)
                return env, len(self._busy) == 1, True
            if reason is not None:
                self._stats[name].throttles += 1
        if reason is not None:
            self._publish(
                ThrottleRecord(
                    time=time.time(),
                    function=name,
                    version=version,
                    qualifier=target.qualifier,
                    request_id=request_id,
                    reason=reason,
                )
            )
            raise errors.TooManyRequestsError(reason)
        try:
            env = self._new_environment(target.config, version, ON_DEMAND)
        except BaseException:
            with self._lock:
                self._concurrency.release(name)
            raise
        with self._lock:
            if self._closed:
                self._concurrency.release(name)
                env.retire("service closed")
                raise errors.LambdaServiceError("The local Lambda service is closed")
            self._busy.add(env)
            alone = len(self._busy) == 1
        return env, alone, True

    def _new_environment(self, config: FunctionConfig, version: str, init_type: str) -> ExecutionEnvironment:
        env = ExecutionEnvironment(
            config,
            version=version,
            probe=self._probe,
            hooks=self._hooks,
            init_type=init_type,
            python=self._python,
            credentials=self._credentials,
            account_environment=self._account_environment,
        )
        with self._lock:
            self._stats[config.name].environments_created += 1
        return env

    def _release(self, env: ExecutionEnvironment, admitted: bool, outcome: Outcome | None) -> None:
        name = env.config.name
        now = time.monotonic()
        with self._lock:
            self._busy.discard(env)
            if admitted:
                self._concurrency.release(name)
            if outcome is not None:
                stats = self._stats[name]
                stats.invocations += 1
                stats.cold_starts += outcome.cold
                stats.errors += outcome.function_error is not None
            expired = self._outlived(env, now)
            reason = "max lifetime" if expired else "service closed" if self._closed else "function updated"
            keep = not self._closed and not env.retired and not expired
            if keep and env.provisioned_for is not None:
                pool = self._provisioned.get(env.provisioned_for)
                keep = pool is not None and pool.give_back(env)
                reason = "provisioned concurrency changed"
            elif env.provisioned_for is not None:
                self._drop_provisioned(env)
            elif keep:
                keep = env.version != LATEST or self._functions.get(name) is env.config
                if keep:
                    self._idle.setdefault((name, env.version), []).append(env)
            if keep:
                env.idle_since = now
                self._schedule_housekeeping(env)
            self._released.notify_all()
        if not keep:
            env.retire(reason)

    def _drop_provisioned(self, env: ExecutionEnvironment) -> None:
        """Take a provisioned environment out of its pool and start its replacement. Lock held."""
        key = env.provisioned_for
        pool = self._provisioned.get(key) if key is not None else None
        if pool is not None and key is not None:
            pool.drop(env)
            if not self._closed and pool.needs_more():
                self._start_provisioning(key, 1)

    def _retire_all(self, envs: list[ExecutionEnvironment], reason: str) -> None:
        procs = [p for p in (env.begin_retire() for env in envs) if p is not None]
        if procs:
            processes.terminate_all(procs, grace_s=0.3)
        for env in envs:
            env.finish_retire(reason)

    def _is_closed(self) -> bool:
        # A method, not the attribute: another thread closes the service while this one waits.
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise errors.LambdaServiceError("The local Lambda service is closed")

    # -- keep-alive and lifetime ----------------------------------------------------------------

    def _outlived(self, env: ExecutionEnvironment, now: float) -> bool:
        """True once an environment has reached its maximum lifetime."""
        return now - env.started_monotonic >= self._max_lifetime_s

    def _due(self, env: ExecutionEnvironment) -> float:
        """When an idle environment is next to be retired (time.monotonic)."""
        lifetime_end = env.started_monotonic + self._max_lifetime_s
        if env.provisioned_for is not None:
            return lifetime_end
        return min(env.idle_since + self._keep_alive_s, lifetime_end)

    def _schedule_housekeeping(self, env: ExecutionEnvironment) -> None:
        """Make sure the housekeeper wakes in time for `env`. Lock held.

        The common case costs nothing: a newly idle environment is due no earlier than the ones
        the housekeeper already waits for, so it is only woken when it sleeps for longer.
        """
        due = self._due(env)
        if self._housekeeper is None:
            self._housekeeper = threading.Thread(
                target=self._housekeep, name="lambench-housekeeper", daemon=True
            )
            self._housekeeper_due = due
            self._housekeeper.start()
        elif self._housekeeper_due is None or due < self._housekeeper_due:
            self._housekeeper_due = due
            self._changed.notify_all()

    def _housekeep(self) -> None:
        while True:
            expired: list[tuple[ExecutionEnvironment, str]] = []
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                next_due = math.inf
                for envs in self._idle.values():
                    keep = []
                    for env in envs:
                        due = self._due(env)
                        if due <= now:
                            expired.append((env, "max lifetime" if self._outlived(env, now) else "idle"))
                        else:
                            keep.append(env)
                            next_due = min(next_due, due)
                    envs[:] = keep
                for pool in self._provisioned.values():
                    for env in list(pool.idle):
                        due = self._due(env)
                        if due <= now:
                            expired.append((env, "max lifetime"))
                            self._drop_provisioned(env)
                        else:
                            next_due = min(next_due, due)
                self._housekeeper_due = None if next_due == math.inf else next_due
            for env, reason in expired:
                env.retire(reason)
            with self._lock:
                if self._is_closed():
                    return
                if not expired:
                    wake = self._housekeeper_due
                    self._changed.wait(None if wake is None else max(0.0, wake - time.monotonic()))

    # -- shutdown -------------------------------------------------------------------------------

    def close(self, timeout_s: float = 5.0) -> None:
        """Retire every environment, join every thread; busy ones are killed (their invokers retire them)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle = [env for envs in self._idle.values() for env in envs]
            self._idle.clear()
            for pool in self._provisioned.values():
                idle.extend(pool.idle)
            self._provisioned.clear()
            busy = list(self._busy) + list(self._starting)
            threads = list(self._threads)
            housekeeper = self._housekeeper
            self._changed.notify_all()
            self._released.notify_all()
        self._retire_all(idle, "service closed")
        for env in busy:
            proc = env.begin_retire()
            if proc is not None:
                processes.signal_group(proc, signal.SIGKILL)
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while (self._busy or self._starting) and time.monotonic() < deadline:
                self._released.wait(timeout=max(0.0, deadline - time.monotonic()))
        for thread in [*threads, housekeeper]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._owned_versions_dir is not None:
            shutil.rmtree(self._owned_versions_dir, ignore_errors=True)


@dataclass(frozen=True)
class _Target:
    """What one invoke runs: the configuration, the version it resolved to, and the qualifier named."""

    config: FunctionConfig
    version: str
    qualifier: str | None


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


def _result(
    outcome: Outcome, config: FunctionConfig, version: str, env_id: str, log_type: str
) -> InvokeResult:
    tail = None
    if log_type == "Tail":
        tail = base64.b64encode(outcome.logs.encode("utf-8")[-TAIL_BYTES:]).decode()
    return InvokeResult(
        request_id=outcome.request_id,
        status_code=200,
        payload=outcome.payload,
        function_error=outcome.function_error,
        error_type=outcome.error_type,
        executed_version=version,
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
