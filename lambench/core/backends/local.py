"""The default backend: lambench's engine runs the functions, an embedded moto holds the account.

One `LocalBackend` per project: it owns the `LocalLambda`, the `EmbeddedAccount` (or joins the one a
`lambench serve` process runs for the project) and the log feed that keeps the project's log store,
which `lambench logs` in another terminal reads.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.core.config import FunctionConfig
from lambench.core.embedded import shared
from lambench.core.embedded.account import EmbeddedAccount
from lambench.core.embedded.provision import ROLE_ARN
from lambench.core.http.model import HttpFrontDoors
from lambench.core.runtime import errors
from lambench.core.runtime.identifiers import function_arn
from lambench.core.runtime.service import LocalLambda

if TYPE_CHECKING:
    # The Backend interface's records are built only by the calls that return them: a one-shot
    # `lambench invoke` uses the engine alone and never pays for defining them.
    from lambench.core.backends.base import (
        FunctionDetail,
        FunctionSummary,
        InvokeOutcome,
        MetricsSummary,
    )
    from lambench.core.cloud_resources import CloudResource
    from lambench.core.http.server import FrontDoorServer
    from lambench.core.logs.model import LogBatch, LogQuery
    from lambench.core.sources.model import Source
    from lambench.core.sources.runner import EventSources


class LocalBackend:
    """Local functions in lambench's engine, beside an embedded moto account.

    `share` joins the account a `lambench serve` process runs for `project_dir`, when there is one;
    `log_store` keeps the project's on-disk log store (`.lambench/logs/`). `options` go to
    `LocalLambda` (limits, keep-alive, versions, ...).
    """

    kind = "local"
    #: Where `tail` reads: "store" (every lambench process of the project) or "engine" (this one).
    tail_source = "store"

    def __init__(
        self,
        functions: Iterable[FunctionConfig],
        *,
        project_dir: Path,
        region: str = "us-east-1",
        resources: Iterable[CloudResource] = (),
        reserved: Mapping[str, int | None] | None = None,
        share: bool = True,
        log_store: bool = True,
        port: int = 0,
        sources: Iterable[Source] = (),
        http: HttpFrontDoors | None = None,
        **options: Any,
    ) -> None:
        self.project_dir = project_dir
        #: The template's event sources (run by `start_event_sources`).
        self.sources = list(sources)
        #: The template's APIs and function URLs (served by `start_front_doors`), and the server.
        self.http = http if http is not None else HttpFrontDoors()
        self.front_door: FrontDoorServer | None = None
        #: Why the front door could not start (a port in use), for the TUI to say.
        self.front_door_error: str | None = None
        self.region = region
        running = shared.find(project_dir) if share else None
        self.account = EmbeddedAccount(
            region=region,
            resources=resources,
            port=port,
            endpoint=running.endpoint if running else None,
        )
        try:
            self.service = LocalLambda(
                functions, account_environment=self.account.function_environment(), **options
            )
        except BaseException:
            self.account.close()
            raise
        self.account.attach(self.service, reserved)
        self._feed: Any = None
        self._store: Any = None
        if log_store:
            from lambench.core.logs.engine_feed import EngineLogFeed
            from lambench.core.logs.local_store import LocalLogStore, log_dir
            from lambench.core.logs.ring import LogRing

            self._store = LocalLogStore(log_dir(project_dir))
            self._feed = EngineLogFeed(self.service, ring=LogRing(), store=self._store)
        self._closed = False
        self._closers: list[Callable[[], None]] = []

    # -- Backend --------------------------------------------------------------------------------

    @property
    def description(self) -> str:
        """Where the account is."""
        where = "shared by 'lambench serve'" if self.account.shared else "embedded moto"
        return f"local engine, {where} at {self.account.endpoint} ({self.region})"

    @property
    def can_invoke(self) -> bool:
        """Local functions can always be invoked."""
        return True

    def list_functions(self) -> list[FunctionSummary]:
        """The project's functions, in the template's order."""
        return [_summary(config, self._triggers(config.name)) for config in self.service.functions()]

    def _triggers(self, function: str) -> tuple[str, ...]:
        kinds = [source.kind for source in self.sources if source.function == function]
        apis = self.http.apis
        kinds += [
            "Api" if apis[r.api_id].kind == "rest" else "HttpApi"
            for r in self.http.routes
            if r.function == function
        ]
        kinds += ["URL" for url in self.http.urls if url.function == function]
        kinds += ["ALB" for rule in self.http.alb_rules if rule.function == function]
        return tuple(dict.fromkeys(kinds))

    def describe_function(self, name: str, *, show_secrets: bool = False) -> FunctionDetail:
        """One function as the engine knows it."""
        from lambench.core.backends.base import AliasInfo, FunctionDetail, ProvisionedInfo, VersionInfo
        from lambench.core.backends.masking import mask_environment

        config = self.service.get_function(name)
        versions = [VersionInfo("$LATEST")] + [
            VersionInfo(v.number, v.description, v.code_sha256, v.last_modified)
            for v in self.service.versions(name)
        ]
        aliases = [
            AliasInfo(a.name, a.function_version, dict(a.weights), a.description)
            for a in self.service.aliases(name)
        ]
        provisioned = []
        for qualifier in [v.version for v in versions[1:]] + [a.name for a in aliases]:
            try:
                status = self.service.get_provisioned_concurrency(name, qualifier)
            except errors.LambdaServiceError:
                continue
            provisioned.append(
                ProvisionedInfo(
                    qualifier,
                    status.requested,
                    status.allocated,
                    status.available,
                    status.status,
                    status.status_reason,
                )
            )
        environment = dict(config.environment)
        return FunctionDetail(
            summary=_summary(config),
            arn=function_arn(config.region, config.name),
            role=ROLE_ARN,
            environment=environment if show_secrets else mask_environment(environment),
            layers=tuple(str(layer) for layer in config.layers),
            log_group=config.log_group,
            log_format=config.logging.log_format,
            versions=tuple(versions),
            aliases=tuple(aliases),
            reserved_concurrency=self.service.get_function_concurrency(name),
            provisioned=tuple(provisioned),
            tags={},
        )

    def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
    ) -> InvokeOutcome:
        """Invoke in the engine; raises the engine's LambdaServiceError as the Invoke API would."""
        from lambench.core.backends.base import InvokeOutcome

        log_type = "Tail" if invocation_type == "RequestResponse" else "None"
        result = self.service.invoke(
            name, payload, qualifier=qualifier, invocation_type=invocation_type, log_type=log_type
        )
        ran = result.status_code == 200
        return InvokeOutcome(
            request_id=result.request_id,
            status_code=result.status_code,
            payload=result.payload,
            function_error=result.function_error,
            executed_version=result.executed_version,
            logs=base64.b64decode(result.log_result).decode("utf-8", "replace")
            if result.log_result
            else None,
            error_type=result.figures.error_type,
            figures=result.figures if ran else None,
        )

    def tail(self, query: LogQuery, stop: threading.Event) -> Iterator[LogBatch]:
        """The project's log store: this process's lines and every other lambench process's.

        With `tail_source = "engine"` (the TUI), only this process's engine is followed, from its
        in-memory ring: no disk reads, and a line reaches the follower in well under a millisecond.
        """
        from lambench.core.logs.local_store import LocalLogStore, log_dir
        from lambench.core.logs.model import LogBatch

        if self.tail_source == "engine" and self._feed is not None and self._feed.ring is not None:
            return self._feed.ring.follow(query, stop)  # type: ignore[no-any-return]
        store = self._store if self._store is not None else LocalLogStore(log_dir(self.project_dir))
        return store.follow(query, stop) if query.follow else iter([LogBatch(tuple(store.read(query)))])

    def metrics(self, name: str, start: float, end: float, period_s: int = 60) -> MetricsSummary:
        """The function's metrics from the embedded CloudWatch (starting moto if it is not up)."""
        from lambench.core.backends.metrics import read_metrics

        self.service.get_function(name)
        self.account.start()
        self.account.flush()
        # moto truncates EndTime to the second and excludes points at or after it: without the
        # extra second, what was written in the current second would be missed.
        # moto cannot compute percentiles (it answers 500), so they are not asked for.
        return read_metrics(
            self.account.client("cloudwatch"), name, start, math.floor(end) + 1, period_s, percentiles=False
        )

    def start_event_sources(self, sources: Iterable[Source] | None = None) -> EventSources | None:
        """Run the event sources (by default the template's) here; None when there are none or
        `lambench serve` runs the account (it runs them). They stop when the backend closes,
        before the engine and the account.
        """
        from lambench.core.time_scale import time_scale

        sources = self.sources if sources is None else list(sources)
        if not sources or self.account.shared:
            return None
        status_path = self.project_dir / ".lambench" / "sources.json"
        running = self.account.run_event_sources(sources, scale=time_scale(), status_path=status_path)
        if running is not None:
            self._closers.insert(0, running.close)  # closers run last-first: this one last of them
        return running

    def start_front_doors(
        self, *, host: str = "127.0.0.1", api_port: int = 0, url_port: int = 0, alb_port: int = 0
    ) -> FrontDoorServer | None:
        """Serve the template's API routes and function URLs over HTTP; None when it has none.

        Every request invokes through this engine; each one is an `HttpRecord` on the engine's bus
        (the access log). The server stops when the backend closes, before the engine.
        Raises `FrontDoorError` when a port cannot be bound.
        """
        if self.http.empty:
            return None
        from lambench.core.http.front_door import FrontDoor
        from lambench.core.http.server import FrontDoorServer

        service = self.service
        door = FrontDoor(
            self.http,
            lambda function, payload: service.invoke(function, payload),
            on_access=service.announce,
        )
        server = FrontDoorServer(door, host=host, api_port=api_port, url_port=url_port, alb_port=alb_port)
        server.start()
        self._closers.insert(0, server.stop)
        self.front_door = server
        return server

    def update_front_doors(self, doors: HttpFrontDoors) -> None:
        """The template changed: serve its routes from the next request (new ports need a restart)."""
        self.http = doors
        if self.front_door is not None:
            self.front_door.door.update(doors)

    def close_with(self, closer: Callable[[], None]) -> None:
        """Run `closer` first when the backend closes (a hot reloader watching this service)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Stop the engine, write pending logs and metrics, stop moto."""
        if self._closed:
            return
        self._closed = True
        for closer in reversed(self._closers):
            closer()
        try:
            self.service.close()
        finally:
            if self._feed is not None:
                self._feed.close()
                self._store.close()
            self.account.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _summary(config: FunctionConfig, triggers: tuple[str, ...] = ()) -> FunctionSummary:
    from lambench.core.backends.base import FunctionSummary

    return FunctionSummary(
        name=config.name,
        runtime=config.runtime,
        handler=config.handler,
        memory_mb=config.memory_mb,
        timeout_s=config.timeout_s,
        architecture=config.architecture,
        triggers=triggers,
    )
