"""The real-account backend: a Lambda account reached through boto3's standard credential chain.

`AwsBackend` lists and inspects functions, invokes them when the user allowed it, reads their
CloudWatch metrics and tails their log groups. boto3 is imported on first use, so lambench's
start-up never pays for it. `endpoint_url` points every client at another endpoint (a moto
server in the tests, or an emulator). Every AWS call runs inside `aws_call`, so what escapes is a
one-line `BackendError`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from lambench.core.aws_errors import UNSUPPORTED, aws_call
from lambench.core.backends.base import (
    AliasInfo,
    BackendError,
    FunctionDetail,
    FunctionSummary,
    InvokeOutcome,
    MetricsSummary,
    ProvisionedInfo,
    VersionInfo,
)
from lambench.core.backends.masking import mask_environment
from lambench.core.logs.model import LogBatch, LogQuery
from lambench.core.logs.parse import parse_report
from lambench.core.record import replace
from lambench.core.runtime.figures import ERROR

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
# A synchronous invoke may run for the 900 s maximum timeout; botocore's default read timeout
# (60 s) would cut it off and, worse, retry it: the invoke client waits longer and never retries.
_INVOKE_READ_TIMEOUT_S = 905
_NOT_FOUND = frozenset({"ResourceNotFoundException", "ResourceNotFound"})


class AwsBackend:
    """A real AWS account (or, with `endpoint_url`, anything speaking the AWS APIs).

    `profile` and `region` go to `boto3.Session`, so environment variables, `~/.aws/config`,
    SSO and instance roles work as with the AWS CLI. Invoke is refused unless `allow_invoke`.
    `client_config` (a botocore `Config`) is merged over lambench's defaults for every client.
    """

    kind = "aws"

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        allow_invoke: bool = False,
        client_config: Any = None,
        tail_poll_interval_s: float = 1.0,
    ) -> None:
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.allow_invoke = allow_invoke
        self._region = region
        self._client_config = client_config
        self._tail_poll_interval_s = tail_poll_interval_s
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._account: str | None = None
        self._account_known = False
        self._log_groups: dict[str, str] = {}
        # Whether to ask CloudWatch for Duration percentiles: an endpoint that refused them once
        # (moto answers 500) is not asked again, which would cost botocore's retries each time.
        self._percentiles = True

    # -- boto3 -------------------------------------------------------------------------------

    @property
    def region(self) -> str | None:
        """The region in use: the one given, else the profile's (known once boto3 has a session)."""
        if self._region is not None:
            return self._region
        session = self._session
        return session.region_name if session is not None else None

    def _call(self, call: str, resource: str | None = None) -> AbstractContextManager[None]:
        return aws_call(call, profile=self.profile, region=self.region, resource=resource)

    def _ensure_session(self) -> Any:
        # Called with the lock held.
        if self._session is None:
            import boto3

            self._session = boto3.Session(profile_name=self.profile, region_name=self._region)
        return self._session

    def _client(self, service: str) -> Any:
        """A cached boto3 client; `lambda-invoke` is the Lambda client for Invoke (long reads, no retry)."""
        with self._lock:
            client = self._clients.get(service)
            if client is not None:
                return client
            session = self._ensure_session()
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10)
            if self.endpoint_url:
                # StartLiveTail prefixes the host with `stream-`, which an emulator's address lacks.
                config = config.merge(Config(inject_host_prefix=False))
            if self._client_config is not None:
                config = config.merge(self._client_config)
            name = service
            if service == "lambda-invoke":
                name = "lambda"
                once = {"mode": "standard", "max_attempts": 1}
                config = config.merge(Config(read_timeout=_INVOKE_READ_TIMEOUT_S, retries=once))
            client = session.client(name, endpoint_url=self.endpoint_url, config=config)
            self._clients[service] = client
            return client

    # -- the account -------------------------------------------------------------------------

    @property
    def description(self) -> str:
        """`AWS account 1234... (profile P, region R)`, or `endpoint URL (region R)`; never raises."""
        # An unknown profile: the first real call will say so clearly.
        with contextlib.suppress(Exception), self._lock:
            self._ensure_session()
        region = self.region or "not set"
        if self.endpoint_url:
            return f"endpoint {self.endpoint_url} (region {region})"
        profile = self.profile or (getattr(self._session, "profile_name", None) or "default")
        account = self._account_id()
        if account:
            return f"AWS account {account} (profile {profile}, region {region})"
        return f"AWS region {region} (profile {profile})"

    def _account_id(self) -> str | None:
        if not self._account_known:
            try:
                with self._call("sts GetCallerIdentity"):
                    self._account = str(self._client("sts").get_caller_identity()["Account"])
            except BackendError:
                self._account = None
            self._account_known = True
        return self._account

    @property
    def can_invoke(self) -> bool:
        """Whether invoke is allowed: only with --allow-invoke for a real account."""
        return self.allow_invoke

    # -- functions ---------------------------------------------------------------------------

    def list_functions(self) -> list[FunctionSummary]:
        """Every function of the region ($LATEST), sorted by name."""
        with self._call("lambda ListFunctions"):
            pages = self._client("lambda").get_paginator("list_functions").paginate()
            functions = [function for page in pages for function in page.get("Functions", ())]
        return sorted((_summary(function) for function in functions), key=lambda summary: summary.name)

    def describe_function(self, name: str, *, show_secrets: bool = False) -> FunctionDetail:
        """Configuration, versions, aliases, concurrency and tags; secrets masked unless asked."""
        resource = f"function '{name}'"
        with self._call("lambda GetFunction", resource):
            answer = self._client("lambda").get_function(FunctionName=name)
        config = answer["Configuration"]
        versions = [_version(item) for item in self._paginate("ListVersionsByFunction", "Versions", name)]
        aliases = [_alias(item) for item in self._paginate("ListAliases", "Aliases", name)]
        try:
            provisioned = [
                _provisioned(item)
                for item in self._paginate(
                    "ListProvisionedConcurrencyConfigs", "ProvisionedConcurrencyConfigs", name
                )
            ]
        except BackendError as error:
            # moto does not implement ListProvisionedConcurrencyConfigs (a bare 404): an endpoint
            # without the operation has no provisioned concurrency to show.
            if error.code != UNSUPPORTED:
                raise
            provisioned = []
        environment = dict((config.get("Environment") or {}).get("Variables") or {})
        logging = config.get("LoggingConfig") or {}
        log_group = logging.get("LogGroup") or f"/aws/lambda/{name}"
        self._log_groups[name] = log_group
        # GetFunction carries the reserved concurrency (absent when none is set), which spares
        # a GetFunctionConcurrency call.
        reserved = (answer.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
        return FunctionDetail(
            summary=_summary(config),
            arn=str(config.get("FunctionArn", "")),
            role=config.get("Role"),
            environment=environment if show_secrets else mask_environment(environment),
            layers=tuple(str(layer.get("Arn", "")) for layer in config.get("Layers") or ()),
            log_group=log_group,
            log_format=logging.get("LogFormat") or "Text",
            versions=tuple(versions),
            aliases=tuple(sorted(aliases, key=lambda alias: alias.name)),
            reserved_concurrency=int(reserved) if reserved is not None else None,
            provisioned=tuple(provisioned),
            tags=dict(answer.get("Tags") or {}),
        )

    def _paginate(self, operation: str, key: str, name: str) -> list[dict[str, Any]]:
        with self._call(f"lambda {operation}", f"function '{name}'"):
            method = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
            pages = self._client("lambda").get_paginator(method).paginate(FunctionName=name)
            return [item for page in pages for item in page.get(key, ())]

    # -- invoke ------------------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
    ) -> InvokeOutcome:
        """Invoke for real: RequestResponse with the log tail (LogType=Tail), Event or DryRun."""
        if not self.allow_invoke:
            raise BackendError(
                f"invoke is off for a real account: pass --allow-invoke to run {name} in the account",
                code="InvokeNotAllowed",
            )
        if invocation_type not in INVOCATION_TYPES:
            raise BackendError(
                f"lambda Invoke: unknown invocation type {invocation_type!r}: "
                f"use {', '.join(INVOCATION_TYPES)}"
            )
        request: dict[str, Any] = {
            "FunctionName": name,
            "Payload": payload,
            "InvocationType": invocation_type,
        }
        if qualifier:
            request["Qualifier"] = qualifier
        if invocation_type == "RequestResponse":
            request["LogType"] = "Tail"
        target = f"{name}:{qualifier}" if qualifier else name
        with self._call("lambda Invoke", f"function '{target}'"):
            response = self._client("lambda-invoke").invoke(**request)
            stream = response.get("Payload")
            body = stream.read() if stream is not None else b""
        return outcome_from_response(response, body, invocation_type)

    # -- metrics and logs --------------------------------------------------------------------

    def metrics(self, name: str, start: float, end: float, period_s: int = 60) -> MetricsSummary:
        """CloudWatch metrics of `name` in one GetMetricData call."""
        from lambench.core.backends.metrics import read_metrics

        with self._call("cloudwatch GetMetricData", f"function '{name}'"):
            return read_metrics(
                self._client("cloudwatch"),
                name,
                start,
                end,
                period_s,
                percentiles=self._percentiles,
                without_percentiles=self._stop_asking_for_percentiles,
            )

    def _stop_asking_for_percentiles(self) -> None:
        self._percentiles = False

    def log_group(self, name: str) -> str:
        """The function's log group: its LoggingConfig's, else `/aws/lambda/<name>`."""
        group = self._log_groups.get(name)
        if group is not None:
            return group
        try:
            with self._call("lambda GetFunctionConfiguration", f"function '{name}'"):
                config = self._client("lambda").get_function_configuration(FunctionName=name)
            group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
        except BackendError as error:
            if error.code in _NOT_FOUND or not (error.code or "").startswith("AccessDenied"):
                raise
            # Allowed to read logs but not the function: the default group is right unless the
            # function was given a custom one.
            group = f"/aws/lambda/{name}"
        self._log_groups[name] = group
        return group

    def tail(self, query: LogQuery, stop: threading.Event) -> Iterator[LogBatch]:
        """The function's log lines from CloudWatch Logs (live tail, else polling when following)."""
        from lambench.core.logs.cloudwatch import CloudWatchTail

        if query.function is None:
            raise BackendError(
                "logs: a real account's log tail needs a function: name one "
                "(lambench logs FUNCTION --backend aws)"
            )
        tail = CloudWatchTail(
            lambda: self._client("logs"),
            query.function,
            self.log_group(query.function),
            query,
            poll_interval_s=self._tail_poll_interval_s,
            profile=self.profile,
            region=self.region,
        )
        return tail.batches(stop)

    def close(self) -> None:
        """Drop the clients and their connection pools."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            self._session = None
        for client in clients:
            close = getattr(client, "close", None)
            if close is not None:
                close()


# -- turning answers into lambench's dataclasses ----------------------------------------------


def _summary(config: Mapping[str, Any]) -> FunctionSummary:
    runtime = config.get("Runtime") or ("image" if config.get("PackageType") == "Image" else "")
    architectures = config.get("Architectures") or ["x86_64"]
    return FunctionSummary(
        name=str(config.get("FunctionName", "")),
        runtime=str(runtime),
        handler=str(config.get("Handler") or ""),
        memory_mb=int(config.get("MemorySize") or 128),
        timeout_s=int(config.get("Timeout") or 3),
        architecture=str(architectures[0]),
        description=str(config.get("Description") or ""),
        last_modified=config.get("LastModified"),
        code_size=config.get("CodeSize"),
    )


def _version(item: Mapping[str, Any]) -> VersionInfo:
    return VersionInfo(
        version=str(item.get("Version", "")),
        description=str(item.get("Description") or ""),
        code_sha256=str(item.get("CodeSha256") or ""),
        last_modified=item.get("LastModified"),
    )


def _alias(item: Mapping[str, Any]) -> AliasInfo:
    weights = (item.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasInfo(
        name=str(item.get("Name", "")),
        version=str(item.get("FunctionVersion", "")),
        weights={str(version): float(weight) for version, weight in weights.items()},
        description=str(item.get("Description") or ""),
    )


def _provisioned(item: Mapping[str, Any]) -> ProvisionedInfo:
    # arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER
    parts = str(item.get("FunctionArn", "")).split(":")
    return ProvisionedInfo(
        qualifier=parts[7] if len(parts) > 7 else "",
        requested=int(item.get("RequestedProvisionedConcurrentExecutions") or 0),
        allocated=int(item.get("AllocatedProvisionedConcurrentExecutions") or 0),
        available=int(item.get("AvailableProvisionedConcurrentExecutions") or 0),
        status=str(item.get("Status", "")),
        reason=item.get("StatusReason"),
    )


def decode_log_result(log_result: str | None) -> str | None:
    """The text of an Invoke answer's LogResult (base64 of the log's last 4 KB), or None."""
    if not log_result:
        return None
    try:
        return base64.b64decode(log_result).decode("utf-8", "replace")
    except ValueError:
        return None


def _error_type(payload: bytes) -> str | None:
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    error_type = document.get("errorType") if isinstance(document, dict) else None
    return error_type if isinstance(error_type, str) else None


def outcome_from_response(response: Mapping[str, Any], payload: bytes, invocation_type: str) -> InvokeOutcome:
    """An InvokeOutcome from boto3's Invoke answer and the payload read from it.

    The figures and `cold` come from the REPORT line of the decoded log tail (cold when it has an
    Init Duration); an Event or DryRun invoke has no payload and no figures.
    """
    metadata = response.get("ResponseMetadata") or {}
    status = int(response.get("StatusCode") or metadata.get("HTTPStatusCode") or 0)
    logs = decode_log_result(response.get("LogResult"))
    marker = logs.rfind("REPORT RequestId: ") if logs else -1
    report = parse_report(logs[marker:]) if logs and marker >= 0 else None
    function_error = response.get("FunctionError") or None
    error_type = _error_type(payload) if function_error else None
    figures = report.figures if report else None
    if figures is not None and function_error and not figures.failed:
        # A REPORT line leaves a handler's own error out; the Invoke answer said it.
        figures = replace(figures, status=ERROR, error_type=error_type)
    synchronous = invocation_type == "RequestResponse"
    return InvokeOutcome(
        request_id=report.request_id if report else metadata.get("RequestId"),
        status_code=status,
        payload=payload if synchronous else b"",
        function_error=function_error,
        executed_version=response.get("ExecutedVersion"),
        logs=logs,
        error_type=error_type,
        figures=figures,
    )
