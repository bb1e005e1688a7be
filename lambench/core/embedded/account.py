"""The embedded account of one project: moto, the template's resources, logs and metrics.

`EmbeddedAccount` owns an `EmbeddedMoto` (or joins one that `lambench serve` runs for the project,
see `shared.py`), creates the template's resources and registers the functions when moto starts,
routes Lambda invokes to the engine, and mirrors the engine's logs and metrics into CloudWatch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lambench.core.cloud_resources import CloudResource
from lambench.core.diagnostics import logger
from lambench.core.embedded.cloudwatch_sink import CloudWatchSink
from lambench.core.embedded.event_config_route import EventInvokeConfigRoute
from lambench.core.embedded.lambda_route import LambdaInvokeRoute
from lambench.core.embedded.server import EmbeddedMoto

if TYPE_CHECKING:
    from pathlib import Path

    from lambench.core.runtime.destinations import Delivery
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.sources.model import Source
    from lambench.core.sources.runner import EventSources


#: The credentials a user (or a function) presents to the embedded account; moto accepts any.
FAKE_ACCESS_KEY_ID = "LAMBENCHFAKEACCESSKEY"
FAKE_SECRET_ACCESS_KEY = "lambench/fake/secret/access/key/not/real"


def user_environment(endpoint: str, region: str) -> dict[str, str]:
    """Variables a user exports to point the AWS CLI or scripts at an embedded account."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


class EmbeddedAccount:
    """moto for one project, filled from its template and fed by its engine.

    With `endpoint` given, the account is one another lambench process serves: nothing is started
    here and the resources already exist there. Otherwise moto is bound now and started on first
    need (a client connecting, or `start()`).
    """

    def __init__(
        self,
        *,
        region: str,
        resources: Iterable[CloudResource] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        endpoint: str | None = None,
    ) -> None:
        self.region = region
        self._resources = list(resources)
        self._moto = EmbeddedMoto(host, port) if endpoint is None else None
        self._endpoint = endpoint or (self._moto.endpoint if self._moto else "")
        self._sink: CloudWatchSink | None = None
        self._service: LocalLambda | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._clients: Callable[[str], Any] | None = None
        self._clients_lock = threading.Lock()
        self.problems: list[str] = []

    @property
    def endpoint(self) -> str:
        """The account's URL, for `AWS_ENDPOINT_URL`."""
        return self._endpoint

    @property
    def shared(self) -> bool:
        """Whether another process (`lambench serve`) runs this account."""
        return self._moto is None

    @property
    def started(self) -> bool:
        """Whether moto is up (always true for a shared account)."""
        return self._moto is None or self._moto.started

    @property
    def startup_s(self) -> float | None:
        """Seconds from moto's first need to the account being open, once it is."""
        return self._moto.startup_s if self._moto else None

    def function_environment(self) -> dict[str, str]:
        """Variables that point a function's SDK at this account."""
        return {"AWS_ENDPOINT_URL": self.endpoint}

    def user_environment(self) -> dict[str, str]:
        """Variables a user exports to point the AWS CLI or scripts at this account."""
        return user_environment(self.endpoint, self.region)

    def attach(self, service: LocalLambda, reserved: Mapping[str, int | None] | None = None) -> None:
        """Serve `service`'s functions from this account and mirror its logs and metrics."""
        self._service = service
        service.set_destination_sender(self._send_destination)
        groups = {config.name: config.log_group for config in service.functions()}
        self._sink = CloudWatchSink(lambda name: groups.get(name) or f"/aws/lambda/{name}")
        self._unsubscribe = service.subscribe(self._sink.subscriber)
        if self._moto is None:
            self._sink.start(self.client)
            return
        self._moto.add_route(LambdaInvokeRoute(service))
        self._moto.add_route(EventInvokeConfigRoute(service))
        functions = service.functions()
        reserved = dict(reserved or {})

        def fill(endpoint: str) -> None:
            from lambench.core.embedded import provision

            clients = self.client
            # moto keeps its state in module globals, shared by every server in the process: a new
            # account starts empty, whatever an earlier one in this process left behind.
            provision.reset_moto(endpoint)
            self.problems += provision.create_resources(clients, self._resources, self.region)
            self.problems += provision.register_functions(clients, functions, reserved)
            assert self._sink is not None
            self._sink.start(clients)

        self._moto.add_start_hook(fill)

    def run_event_sources(
        self, sources: Iterable[Source], *, scale: float = 1.0, status_path: Path | None = None
    ) -> EventSources | None:
        """Start the template's event sources on the attached engine (None for a shared account:
        the process that runs it runs them). Close the result before the account."""
        if self._moto is None or self._service is None:
            return None
        from lambench.core.embedded.notification_route import AccountEventObserver
        from lambench.core.sources.runner import EventSources

        service = self._service

        def invoke(name: str, payload: bytes, invocation_type: str) -> Any:
            return service.invoke(name, payload, invocation_type=invocation_type)

        running = EventSources(
            sources,
            invoke=invoke,
            announce=service.announce,
            clients=self.client,
            send=self._send_destination,
            region=self.region,
            scale=scale,
            status_path=status_path,
        )
        if running.notifier.wanted:
            self._moto.add_observer(AccountEventObserver(running.notifier.report))
        # Pollers start once the template's queues and streams exist; the first of them to ask
        # for a client starts moto, if nothing else has.
        self._moto.when_open(running.start)
        threading.Thread(target=self._start_quietly, name="lambench-moto-start", daemon=True).start()
        return running

    def _start_quietly(self) -> None:
        try:
            self.start()
        except Exception:  # reported to whoever starts it next; the sources wait for it
            logger(__name__).exception("the embedded account did not start")

    def _send_destination(self, delivery: Delivery) -> None:
        from lambench.core.embedded.destination_sender import send

        send(self.client, delivery)

    def start(self, timeout: float = 60.0) -> None:
        """Start moto now and wait until the account is filled and open."""
        if self._moto is not None:
            self._moto.start(timeout)

    def client(self, service_name: str) -> Any:
        """A boto3 client on this account for lambench's own requests."""
        with self._clients_lock:
            if self._clients is None:
                from lambench.core.embedded.provision import internal_client_factory

                self._clients = internal_client_factory(self.endpoint, self.region)
        return self._clients(service_name)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the logs and metrics published so far are in CloudWatch."""
        return self._sink is not None and self.started and self._sink.flush(timeout)

    def close(self) -> None:
        """Stop mirroring, write what is pending, stop moto (if this process runs it)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sink is not None:
            self._sink.close()
        if self._moto is not None:
            self._moto.stop()
