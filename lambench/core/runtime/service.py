"""`LocalLambda`: the local Lambda service, a small facade over the pieces that do the work.

- `registry.FunctionRegistry`: functions by name, their counters, qualifier and alias routing.
- `pools.EnvironmentPools`: admission (concurrency limits and throttles) and every environment:
  idle, busy, starting and provisioned, with the housekeeper that retires idle ones.
- `async_dispatch.AsyncDispatcher`: `Event` invocations: the (durable) queue, retries, event age
  and destinations (`async_config`, `async_journal`, `destinations`).
- `invoke_api`: the Invoke API's parameter checks and its answer.

A synchronous invoke resolves its qualifier to a version, is admitted (or throttled), takes an
environment (warm, provisioned or cold), runs the event in the calling thread and hands the
environment back. Concurrent callers therefore get separate environments, as in AWS. Every step is
published as a record to subscribers (the timeline, the log tail and the metrics).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.core.config import FunctionConfig
from lambench.core.diagnostics import logger
from lambench.core.runtime import errors, invoke_api, processes
from lambench.core.runtime.async_board import AsyncQueueSnapshot
from lambench.core.runtime.async_config import AsyncConfig, destination_kind, resource_name
from lambench.core.runtime.async_dispatch import CONDITION_SUCCESS, AsyncDispatcher
from lambench.core.runtime.concurrency import AccountConcurrency, ConcurrencyLimits, check_provisioned_count
from lambench.core.runtime.cpu_limit import make_limiter
from lambench.core.runtime.environment import EnvironmentHooks, ExecutionEnvironment, Invocation, Outcome
from lambench.core.runtime.identifiers import function_arn, new_request_id, new_trace_header
from lambench.core.runtime.invoke_api import InvokeResult, InvokeTarget
from lambench.core.runtime.memory import MemoryProbe, default_probe
from lambench.core.runtime.pools import ON_DEMAND, PROVISIONED, EnvironmentInfo, EnvironmentPools
from lambench.core.runtime.records import Record, ThrottleRecord
from lambench.core.runtime.registry import FunctionRegistry, FunctionStats
from lambench.core.runtime.scratch import make_scratch_dir, remove_tree
from lambench.core.runtime.versions import LATEST, Alias, Version, VersionStore

if TYPE_CHECKING:
    from lambench.core.runtime.async_journal import AsyncJournal, PendingEvent
    from lambench.core.runtime.destinations import Delivery, Sender
    from lambench.core.runtime.provisioned import ProvisionedStatus

__all__ = [
    "LATEST",
    "ON_DEMAND",
    "PROVISIONED",
    "EnvironmentInfo",
    "FunctionStats",
    "InvokeResult",
    "LocalLambda",
]

#: How long an idle on-demand environment is kept. AWS does not document it; 5 to 15 minutes is
#: what is commonly observed, and lambench takes the low end.
DEFAULT_KEEP_ALIVE_S = 300.0
#: The longest an environment lives, busy or idle; AWS recycles environments after a few hours
#: (an observation, not a documented figure).
DEFAULT_MAX_LIFETIME_S = 2 * 3600.0

Subscriber = Callable[[Record], None]


class LocalLambda:
    """The local Lambda service: functions, versions, aliases, concurrency and a thread-safe `invoke`.

    Use it as a context manager, or call `close()`: it retires every environment and joins every
    thread it started. Environments left open at interpreter exit (or on SIGTERM) are retired too.

    `versions` is where published versions and aliases live (a project's `.lambench/versions`); by
    default they go to a temporary directory that `close()` removes. Idle on-demand environments
    are retired after `keep_alive_s`, and every environment after `max_lifetime_s` (provisioned
    ones are replaced first, as AWS recycles them).

    `async_dir` (a project's `.lambench/async`) makes accepted `Event` invocations durable: they
    are journaled there before the 202, and `resume_pending_events` runs what an earlier process
    left unfinished. `time_scale` multiplies every asynchronous wait (default: the
    `LAMBENCH_TIME_SCALE` environment variable, else 1).
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
        async_dir: Path | str | None = None,
        time_scale: float | None = None,
        cpu_scaling: str | None = None,
    ) -> None:
        if keep_alive_s <= 0 or max_lifetime_s <= 0:
            raise ValueError("keep_alive_s and max_lifetime_s must be positive")
        self._subscribers: list[Subscriber] = []
        self._subscribe_lock = threading.Lock()
        #: How environments get CPU in proportion to memory: `off` (full speed), `auto`, `cgroup`, `duty`;
        #: by default LAMBENCH_CPU_SCALING's (`--cpu-scaling`), else off (cpu_limit.py says why).
        self.cpu = make_limiter(cpu_scaling or os.environ.get("LAMBENCH_CPU_SCALING") or "off")
        self._probe = probe or default_probe()
        self._python = python
        self._credentials = dict(credentials) if credentials else None
        self._account_environment = dict(account_environment) if account_environment else None
        self._owned_versions_dir: str | None = None
        if isinstance(versions, VersionStore):
            store = versions
        elif versions is not None:
            store = VersionStore(versions)
        else:
            self._owned_versions_dir = make_scratch_dir("lambench-versions-")
            store = VersionStore(self._owned_versions_dir)
        self._registry = FunctionRegistry(store, seed=seed)
        self._versions = store
        self._pools = EnvironmentPools(
            concurrency=AccountConcurrency(limits),
            spawn=self._new_environment,
            config_of=self._registry.version_config,
            is_current=self._registry.is_current,
            on_throttle=self._throttled,
            keep_alive_s=keep_alive_s,
            max_lifetime_s=max_lifetime_s,
        )
        if time_scale is None:
            from lambench.core.time_scale import time_scale as scale_from_environment

            time_scale = scale_from_environment()
        self._async_configs: dict[str, AsyncConfig] = {}
        self._sender: Sender | None = None
        self._journal: AsyncJournal | None = None
        if async_dir is not None:
            from lambench.core.runtime.async_journal import AsyncJournal

            self._journal = AsyncJournal(async_dir)
        self._async = AsyncDispatcher(
            self._run,
            resolve=self._resolve_target,
            config_of=self.get_event_invoke_config,
            finish=self._finish_async,
            publish=self._publish,
            journal=self._journal,
            scale=time_scale,
        )
        self._closed = False
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
        self._pools.check_open()
        self._registry.put(config)
        self._pools.retire_idle(config.name, "function updated", latest_only=True)

    def reload_function(self, name: str, config: FunctionConfig | None = None) -> int:
        """Make the next invoke of `name`'s $LATEST a cold start with fresh code (and `config`, if given).

        Idle $LATEST environments are retired now; busy ones finish their invocation and are retired
        after it, never pooled again; from this call on no new invocation reaches an old one.
        Published versions are snapshots and are left alone. Returns how many environments were
        retired or marked.
        """
        self._pools.check_open()
        self._registry.renew(name, config)
        return self._pools.retire_idle(name, "function updated", latest_only=True)

    def remove_function(self, name: str) -> int:
        """Remove `name`: its idle environments are retired now, busy ones after their invocation.

        Returns how many environments were retired or marked.
        """
        self._pools.check_open()
        self._registry.remove(name)
        return self._pools.retire_idle(name, "function removed", latest_only=False)

    def announce(self, record: Record) -> None:
        """Publish a record made outside the engine (a hot reload) to every subscriber."""
        self._publish(record)

    def get_function(self, name: str) -> FunctionConfig:
        """The configuration of `name` (unqualified), or ResourceNotFoundError."""
        return self._registry.get(name)

    def functions(self) -> list[FunctionConfig]:
        """Every function, in the order they were added."""
        return self._registry.all()

    def stats(self, name: str) -> FunctionStats:
        """A copy of the service's counters for one function."""
        return self._registry.stats(name)

    def environments(self, function: str | None = None) -> list[EnvironmentInfo]:
        """Snapshots of the live environments, optionally of one function."""
        return self._pools.environments(function)

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
        return self._put_alias(name, alias, True, version, weights or {}, description)

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
        return self._put_alias(name, alias, False, version, weights, description)

    def _put_alias(
        self,
        name: str,
        alias: str,
        create: bool,
        version: str | None,
        weights: Mapping[str, float] | None,
        description: str | None,
    ) -> Alias:
        region = self.get_function(name).region
        return self._versions.put_alias(
            name,
            alias,
            version=version,
            weights=weights,
            description=description,
            create=create,
            region=region,
        )

    def delete_alias(self, name: str, alias: str) -> None:
        """DeleteAlias."""
        self.get_function(name)
        self._versions.delete_alias(name, alias)

    def aliases(self, name: str) -> list[Alias]:
        """ListAliases."""
        self.get_function(name)
        return self._versions.aliases(name)

    # -- concurrency ----------------------------------------------------------------------------

    def put_function_concurrency(self, name: str, reserved: int | None) -> None:
        """PutFunctionConcurrency, or DeleteFunctionConcurrency with None; 0 throttles every invoke."""
        self.get_function(name)
        self._pools.set_reserved(name, reserved)

    def get_function_concurrency(self, name: str) -> int | None:
        """The function's reserved concurrency, or None."""
        self.get_function(name)
        return self._pools.reserved(name)

    def put_provisioned_concurrency(self, name: str, qualifier: str, count: int) -> ProvisionedStatus:
        """PutProvisionedConcurrencyConfig: start `count` environments for a version or alias.

        Returns at once with status IN_PROGRESS; `wait_provisioned` waits for READY or FAILED.
        The count must be at least 1; `delete_provisioned_concurrency` removes a configuration.
        """
        check_provisioned_count(count)
        version = self._registry.provisioned_version(name, qualifier, for_put=True)
        return self._pools.set_provisioned(name, qualifier, version, count)

    def get_provisioned_concurrency(self, name: str, qualifier: str) -> ProvisionedStatus:
        """GetProvisionedConcurrencyConfig; ProvisionedConcurrencyConfigNotFoundException if there is none."""
        self._registry.provisioned_version(name, qualifier)
        return self._pools.provisioned_status(name, qualifier)

    def delete_provisioned_concurrency(self, name: str, qualifier: str) -> None:
        """DeleteProvisionedConcurrencyConfig (204 even when there is none, as in AWS).

        Its idle environments are retired at once, busy ones after their invocation.
        """
        version = self._registry.provisioned_version(name, qualifier)
        self._pools.set_provisioned(name, qualifier, version, 0)

    def wait_provisioned(self, name: str, qualifier: str, timeout_s: float = 60.0) -> ProvisionedStatus:
        """Block until the configuration is READY or FAILED (or `timeout_s` passes); its status."""
        return self._pools.wait_provisioned(name, qualifier, timeout_s)

    # -- subscribers ----------------------------------------------------------------------------

    # -- asynchronous invocation ------------------------------------------------------------------

    def put_event_invoke_config(self, name: str, config: AsyncConfig) -> None:
        """Set `name`'s asynchronous settings (PutFunctionEventInvokeConfig: replaces them all)."""
        self._registry.get(name)
        self._async_configs[name] = config

    def get_event_invoke_config(self, name: str) -> AsyncConfig:
        """`name`'s asynchronous settings (AWS's defaults when none were put)."""
        return self._async_configs.get(name) or AsyncConfig()

    def set_destination_sender(self, sender: Sender | None) -> None:
        """Who delivers to SQS, SNS and EventBridge destinations (the embedded account)."""
        self._sender = sender

    def resume_pending_events(self) -> int:
        """Run the events an earlier lambench process on this project accepted and did not finish."""
        if self._journal is None:
            return 0
        events = self._journal.adopt_orphans()
        self._async.resume(events)
        return len(events)

    def pending_events(self) -> int:
        """Accepted `Event` invocations not finished: queued, waiting for a retry, or running."""
        return self._async.pending()

    def async_queue(self, function: str | None = None) -> AsyncQueueSnapshot:
        """Where the accepted `Event` invocations (of `function`, or all) stand, and the last finished."""
        return self._async.board.snapshot(function)

    def _resolve_target(self, name: str, qualifier: str | None) -> InvokeTarget:
        config, version = self._registry.resolve(name, qualifier)
        return InvokeTarget(config, version, qualifier)

    def _finish_async(
        self, event: PendingEvent, condition: str, target: InvokeTarget | None, outcome: Outcome | None
    ) -> None:
        from lambench.core.runtime import destinations

        settings = self.get_event_invoke_config(event.function)
        if target is None:
            try:
                target = self._resolve_target(event.function, event.qualifier)
            except errors.LambdaServiceError:
                return
        failed = condition != CONDITION_SUCCESS
        arn = settings.on_failure if failed else settings.on_success
        qualified = function_arn(target.config.region, target.config.name, target.version)
        if arn is not None:
            # An event that aged out while throttled never ran: lambench reports the throttle's
            # 429 and no response payload (unconfirmed: no capture shows this record).
            record = destinations.destination_record(
                request_id=event.request_id,
                function_arn=qualified,
                condition=condition,
                approximate_invoke_count=event.attempts,
                request_payload=event.payload,
                executed_version=target.version,
                status_code=200 if outcome is not None else 429,
                function_error=outcome.function_error if outcome is not None else None,
                response_payload=outcome.payload if outcome is not None else None,
            )
            body = json.dumps(record)
            detail_type = destinations.DETAIL_TYPE_FAILURE if failed else destinations.DETAIL_TYPE_SUCCESS
            self._deliver(
                event,
                condition,
                destinations.Delivery(
                    arn=arn,
                    kind=destination_kind(arn),
                    body=body,
                    detail_type=detail_type,
                    resources=(arn, qualified),
                ),
            )
        if failed and settings.dead_letter_arn is not None:
            if outcome is not None:
                code, message = 200, destinations.error_message(outcome.payload)
            else:
                code, message = 429, "Rate Exceeded."
            self._deliver(
                event,
                condition,
                destinations.Delivery(
                    arn=settings.dead_letter_arn,
                    kind=destination_kind(settings.dead_letter_arn),
                    body=event.payload.decode("utf-8", errors="replace"),
                    attributes=destinations.dead_letter_attributes(event.request_id, code, message),
                ),
                dead_letter=True,
            )

    def _deliver(
        self, event: PendingEvent, condition: str, delivery: Delivery, *, dead_letter: bool = False
    ) -> None:
        from lambench.core.runtime.records import AsyncRecord, AsyncStep

        problem: str | None = None
        for attempt in range(3):
            try:
                if delivery.kind == "lambda":
                    self.invoke(resource_name(delivery.arn), delivery.body, invocation_type="Event")
                elif self._sender is None:
                    problem = "no account to deliver to (lambench runs without its embedded account)"
                    break
                else:
                    self._sender(delivery)
                problem = None
                break
            except Exception as exc:  # the account's client raises whatever boto3 raises
                problem = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1 * (attempt + 1))
        self._async.board.delivered(
            event.request_id, time.time(), delivery.arn, dead_letter=dead_letter, problem=problem
        )
        self._publish(
            AsyncRecord(
                kind=AsyncStep.DELIVERED if problem is None else AsyncStep.DELIVERY_FAILED,
                time=time.time(),
                function=event.function,
                request_id=event.request_id,
                attempt=event.attempts,
                condition=condition,
                destination=delivery.arn,
                message=problem,
            )
        )

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every lifecycle, log and throttle record; returns a function that unsubscribes.

        Callbacks run on the invoking thread and must not block: queue the record and return.
        """
        # Copy on write: publishing reads the list without a lock.
        with self._subscribe_lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._subscribe_lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def _publish(self, record: Record) -> None:
        for callback in self._subscribers:
            try:
                callback(record)
            except Exception:
                logger("lambench.engine").exception(
                    "a lambench subscriber failed on %s", type(record).__name__
                )

    def _throttled(self, target: InvokeTarget, request_id: str, reason: str) -> None:
        self._registry.count_throttle(target.config.name)
        self._publish(
            ThrottleRecord(
                time=time.time(),
                function=target.config.name,
                version=target.version,
                qualifier=target.qualifier,
                request_id=request_id,
                reason=reason,
            )
        )

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
        invoke_api.check_types(invocation_type, log_type)
        function_name, qualifier = invoke_api.split_name(name, qualifier)
        config, version = self._registry.resolve(function_name, qualifier)
        body = invoke_api.request_body(payload, invocation_type)
        context_json = invoke_api.decode_client_context(client_context)
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
            return invoke_api.empty_result(request_id, 204, config)
        target = InvokeTarget(config, version, qualifier)
        if invocation_type == "Event":
            self._async.submit(target, invocation)
            return invoke_api.empty_result(request_id, 202, config)
        outcome, env_id = self._run(target, invocation)
        return invoke_api.ran_result(outcome, target, env_id, log_type)

    def _run(self, target: InvokeTarget, invocation: Invocation) -> tuple[Outcome, str]:
        lease = self._pools.acquire(target, invocation.request_id)
        env = lease.env
        outcome: Outcome | None = None
        try:
            outcome = env.invoke(invocation, poll=lease.alone)
        except BaseException:
            # Interrupted mid-invocation (Ctrl-C, a bug): its runtime's state is unknown, so it
            # must never serve another event.
            env.retire("invocation interrupted", grace_s=0.0)
            raise
        finally:
            if outcome is not None:
                self._registry.count_invocation(
                    env.config.name, cold=outcome.figures.cold, error=outcome.function_error is not None
                )
            self._pools.release(lease)
        return outcome, env.id

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
            cpu=self.cpu,
        )
        self._registry.count_environment(config.name)
        return env

    # -- shutdown -------------------------------------------------------------------------------

    def close(self, timeout_s: float = 5.0) -> None:
        """Retire every environment, join every thread; busy ones are killed (their invokers retire them)."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout_s
        self._async.close()
        self._pools.close(deadline)
        self._async.join(deadline)
        self.cpu.close()
        if self._journal is not None:
            self._journal.close()
        if self._owned_versions_dir is not None:
            remove_tree(self._owned_versions_dir)
