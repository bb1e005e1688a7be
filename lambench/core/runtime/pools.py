"""Admission and the environments themselves: idle, busy, starting and provisioned.

An invocation is admitted by the account's concurrency limits (or throttled), then takes a
provisioned environment, an idle one of its version (a warm start), or a new one (a cold start);
afterwards the environment goes back to its pool or is retired. Provisioned configurations keep
their pools full from threads of their own. One lock guards all of this state.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from lambench.core.config import FunctionConfig
from lambench.core.record import record
from lambench.core.runtime import errors, processes
from lambench.core.runtime.concurrency import AccountConcurrency
from lambench.core.runtime.environment import SHUTDOWN_GRACE_S, ExecutionEnvironment
from lambench.core.runtime.housekeeper import Housekeeper
from lambench.core.runtime.invoke_api import InvokeTarget
from lambench.core.runtime.versions import LATEST

if TYPE_CHECKING:
    from lambench.core.runtime.provisioned import ProvisionedPool, ProvisionedStatus

ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"
#: Threads that initialise provisioned environments in parallel, per configuration.
PROVISIONING_THREADS = 4

#: Starts a new environment: (configuration, version, init type).
Spawn = Callable[[FunctionConfig, str, str], ExecutionEnvironment]
PoolKey = tuple[str, str]


@record(frozen=True)
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


@record(frozen=True)
class Lease:
    """An environment taken for one invocation: whether it is alone in flight, and whether it was
    counted against the concurrency limits (a provisioned one is not)."""

    env: ExecutionEnvironment
    alone: bool
    admitted: bool


class EnvironmentPools:
    """Every environment of the service, and the admission that decides who gets one.

    `spawn` makes an environment, `config_of` gives a published version's configuration and
    `is_current` says whether a $LATEST configuration is still the function's; `on_throttle`
    hears about each refused invocation (outside the lock) before it is raised.
    """

    def __init__(
        self,
        *,
        concurrency: AccountConcurrency,
        spawn: Spawn,
        config_of: Callable[[str, str], FunctionConfig],
        is_current: Callable[[FunctionConfig], bool],
        on_throttle: Callable[[InvokeTarget, str, str], None],
        keep_alive_s: float,
        max_lifetime_s: float,
    ) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._released = threading.Condition(self._lock)
        self._idle: dict[PoolKey, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._starting: set[ExecutionEnvironment] = set()
        self._provisioned: dict[PoolKey, ProvisionedPool] = {}
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self._concurrency = concurrency
        self._spawn = spawn
        self._config_of = config_of
        self._is_current = is_current
        self._on_throttle = on_throttle
        self._keep_alive_s = keep_alive_s
        self._max_lifetime_s = max_lifetime_s
        self._housekeeper = Housekeeper(self._expire)

    def check_open(self) -> None:
        """LambdaServiceError once the service has closed."""
        if self._closed:
            raise errors.LambdaServiceError("The local Lambda service is closed")

    # -- reserved concurrency -------------------------------------------------------------------

    def set_reserved(self, function: str, reserved: int | None) -> None:
        """Reserve concurrency for `function` (None removes it, 0 throttles every invoke)."""
        with self._lock:
            self._concurrency.set_reserved(function, reserved)

    def reserved(self, function: str) -> int | None:
        """The function's reserved concurrency, or None."""
        with self._lock:
            return self._concurrency.reserved(function)

    # -- one invocation -------------------------------------------------------------------------

    def acquire(self, target: InvokeTarget, request_id: str) -> Lease:
        """An environment for one invocation, or TooManyRequestsError.

        A provisioned environment needs no admission; an on-demand one is counted against the
        concurrency limits, and a new one also against the scaling rate.
        """
        name, version = target.config.name, target.version
        with self._lock:
            self.check_open()
            if target.qualifier is not None and self._provisioned:
                pool = self._provisioned.get((name, target.qualifier))
                env = pool.take(version) if pool is not None else None
                if env is not None:
                    return self._lend(env, admitted=False)
            idle = self._idle.get((name, version))
            reason = self._concurrency.admit(name, new_environment=not idle)
            if reason is None and idle:
                # Most recently used first: it is the warmest (and AWS reuses recent environments).
                # Idle lists only ever hold environments of the current configuration: a replaced
                # function's are taken out, and `release` does not pool an environment of one.
                return self._lend(idle.pop(), admitted=True)
        if reason is not None:
            self._on_throttle(target, request_id, reason)
            raise errors.TooManyRequestsError(reason)
        try:
            env = self._spawn(target.config, version, ON_DEMAND)
        except BaseException:
            with self._lock:
                self._concurrency.release(name)
            raise
        with self._lock:
            if self._closed:
                self._concurrency.release(name)
                env.retire("service closed")
                self.check_open()
            return self._lend(env, admitted=True)

    def _lend(self, env: ExecutionEnvironment, *, admitted: bool) -> Lease:
        """Mark `env` busy. Lock held."""
        self._busy.add(env)
        return Lease(env, alone=len(self._busy) == 1, admitted=admitted)

    def release(self, lease: Lease) -> None:
        """Take back an environment after its invocation: pool it again, or retire it."""
        env = lease.env
        now = time.monotonic()
        with self._lock:
            self._busy.discard(env)
            if lease.admitted:
                self._concurrency.release(env.config.name)
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
                keep = env.version != LATEST or self._is_current(env.config)
                if keep:
                    self._idle.setdefault((env.config.name, env.version), []).append(env)
            if keep:
                env.idle_since = now
                self._housekeeper.schedule(self._due(env))
            self._released.notify_all()
        if not keep:
            env.retire(reason)

    # -- replacing and removing functions -------------------------------------------------------

    def retire_idle(self, function: str, reason: str, *, latest_only: bool) -> int:
        """Retire `function`'s idle on-demand environments ($LATEST ones only, if asked).

        Busy and starting ones are counted: they are retired after their invocation, because the
        function's configuration has changed (see `release`). Returns how many were retired or counted.
        """
        with self._lock:
            keys = [(function, LATEST)] if latest_only else [key for key in self._idle if key[0] == function]
            old = [env for key in keys for env in self._idle.pop(key, [])]
            marked = sum(
                1
                for env in (*self._busy, *self._starting)
                if env.config.name == function
                and (not latest_only or (env.version == LATEST and env.provisioned_for is None))
            )
        retire_all(old, reason)
        return len(old) + marked

    def environments(self, function: str | None = None) -> list[EnvironmentInfo]:
        """Snapshots of the live environments, optionally of one function, oldest first."""
        with self._lock:
            busy = list(self._busy)
            idle = [env for envs in self._idle.values() for env in envs]
            for pool in self._provisioned.values():
                idle.extend(pool.idle)
        result = [
            _info(env, is_busy)
            for env, is_busy in [(e, True) for e in busy] + [(e, False) for e in idle]
            if function is None or env.config.name == function
        ]
        return sorted(result, key=lambda info: info.created_at)

    # -- provisioned concurrency ----------------------------------------------------------------

    def set_provisioned(self, name: str, qualifier: str, version: str, count: int) -> ProvisionedStatus:
        """Set `name:qualifier`'s configuration to `count` environments of `version` (0 removes it)."""
        # Imported on first use: most runs never configure provisioned concurrency.
        from lambench.core.runtime.provisioned import ProvisionedPool, ProvisionedStatus

        key = (name, qualifier)
        with self._lock:
            self.check_open()
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
        retire_all(idle_surplus, "provisioned concurrency changed")
        return status

    def provisioned_status(self, name: str, qualifier: str) -> ProvisionedStatus:
        """The status of the configuration on `name:qualifier`, or AWS's not-found error."""
        with self._lock:
            return self._pool(name, qualifier).status()

    def wait_provisioned(self, name: str, qualifier: str, timeout_s: float) -> ProvisionedStatus:
        """Block until the configuration is READY or FAILED (or `timeout_s` passes); its status."""
        from lambench.core.runtime.provisioned import IN_PROGRESS

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

    def _start_provisioning(self, key: PoolKey, workers: int) -> None:
        """Start `workers` threads that fill the pool. Lock held."""
        for _ in range(workers):
            thread = threading.Thread(
                target=self._provision, args=(key,), name=f"lambench-provision-{key[0]}", daemon=True
            )
            self._threads.add(thread)
            thread.start()

    def _provision(self, key: PoolKey) -> None:
        try:
            while self._provision_one(key):
                pass
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._changed.notify_all()

    def _provision_one(self, key: PoolKey) -> bool:
        """Initialise one environment the configuration still needs; False when none is needed."""
        with self._lock:
            pool = self._provisioned.get(key)
            if self._closed or pool is None or not pool.needs_more():
                return False
            pool.initializing += 1
        try:
            env = self._spawn(self._config_of(key[0], pool.version), pool.version, PROVISIONED)
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
                self._housekeeper.schedule(self._due(env))
            elif not ok and self._provisioned.get(key) is pool:
                pool.failed = True
            self._changed.notify_all()
        if not accepted:
            env.retire("provisioned concurrency init failed" if not ok else "provisioned concurrency changed")
        return ok

    def _drop_provisioned(self, env: ExecutionEnvironment) -> None:
        """Take a provisioned environment out of its pool and start its replacement. Lock held."""
        key = env.provisioned_for
        pool = self._provisioned.get(key) if key is not None else None
        if pool is not None and key is not None:
            pool.drop(env)
            if not self._closed and pool.needs_more():
                self._start_provisioning(key, 1)

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

    def _expire(self, now: float) -> tuple[list[tuple[ExecutionEnvironment, str]], float]:
        """Take out every idle environment due by `now`; when the next one is due (the housekeeper's pass)."""
        expired: list[tuple[ExecutionEnvironment, str]] = []
        next_due = math.inf
        with self._lock:
            if self._closed:
                return [], math.inf
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
        return expired, next_due

    # -- shutdown -------------------------------------------------------------------------------

    def close(self, deadline: float) -> None:
        """Retire every environment and join every thread by `deadline` (time.monotonic).

        Busy ones are killed; the threads invoking them see the kill and hand them back.
        """
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
            self._changed.notify_all()
            self._released.notify_all()
        self._housekeeper.close()
        retire_all(idle, "service closed")
        for env in busy:
            proc = env.begin_retire()
            if proc is not None:
                processes.signal_group(proc, signal.SIGKILL)
        with self._lock:
            while (self._busy or self._starting) and time.monotonic() < deadline:
                self._released.wait(timeout=max(0.0, deadline - time.monotonic()))
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._housekeeper.join(max(0.0, deadline - time.monotonic()))


def retire_all(envs: Iterable[ExecutionEnvironment], reason: str) -> None:
    """Shut several environments down at once: signal them all, then wait once for the grace period."""
    envs = list(envs)
    procs = [p for p in (env.begin_retire() for env in envs) if p is not None]
    if procs:
        processes.terminate_all(procs, grace_s=SHUTDOWN_GRACE_S)
    for env in envs:
        env.finish_retire(reason)


def _info(env: ExecutionEnvironment, busy: bool) -> EnvironmentInfo:
    return EnvironmentInfo(
        id=env.id,
        function=env.config.name,
        version=env.version,
        pid=env.pid,
        busy=busy,
        warm=env.is_warm,
        invocations=env.invocations,
        created_at=env.created_at,
        log_stream=env.log_stream,
        tmp_dir=env.tmp_dir,
        init_type=env.init_type,
        provisioned_for=env.provisioned_for[1] if env.provisioned_for else None,
    )
