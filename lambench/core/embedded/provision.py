"""Filling the embedded account at start-up: the template's resources and the local functions.

Runs against moto over HTTP with boto3, as a client would, so what a handler later finds is exactly
what boto3 created. Each resource is created on its own: one that moto refuses is reported and the
rest still exist.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lambench.core import cloud_resources as cr
from lambench.core.cloud_resources import CloudResource
from lambench.core.config import FunctionConfig
from lambench.core.diagnostics import logger
from lambench.core.embedded.server import INTERNAL_HEADER
from lambench.core.template import ACCOUNT_ID

#: The role every local function is registered with (moto wants one that exists).
ROLE_NAME = "lambench-local-function"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
#: Code larger than this is registered as a stub zip: moto keeps the bytes in memory.
MAX_REGISTERED_CODE_BYTES = 10 * 1024 * 1024
_SKIPPED_DIRS = {"__pycache__", ".lambench", ".git", ".venv", "node_modules"}

#: Makes a boto3 client for a service against the embedded endpoint.
ClientFactory = Callable[[str], Any]


def internal_client_factory(endpoint: str, region: str) -> ClientFactory:
    """boto3 clients for lambench's own requests: fake credentials, the start-up gate's header."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="lambench", aws_secret_access_key="lambench", region_name=region
    )
    config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60)

    def make(service: str) -> Any:
        client = session.client(service, endpoint_url=endpoint, config=config)
        client.meta.events.register("before-sign.*.*", _mark_internal)
        return client

    return make


def _mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"


def reset_moto(endpoint: str) -> None:
    """Empty every moto backend of this process (moto's `/moto-api/reset`)."""
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset", method="POST", headers={INTERNAL_HEADER: "1"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def create_resources(clients: ClientFactory, resources: Iterable[CloudResource], region: str) -> list[str]:
    """Create each resource; returns one line per resource that could not be created.

    A resource may need another first (a queue's RedrivePolicy names its dead-letter queue), as
    CloudFormation orders them by reference: one that fails is tried again after the others, for
    as long as each round creates something.
    """
    pending = list(resources)
    failures: dict[str, Exception] = {}
    while pending:
        retry = []
        for resource in pending:
            try:
                _CREATORS[resource.type](clients, resource, region)
                failures.pop(resource.logical_id, None)
            except Exception as exc:  # one bad resource must not stop the others
                failures[resource.logical_id] = exc
                retry.append(resource)
        if len(retry) == len(pending):
            break
        pending = retry
    problems = []
    for resource in pending:
        error = failures[resource.logical_id]
        problems.append(f"{resource.logical_id} ({resource.type}): {error}")
        logger(__name__).warning(
            "could not create %s in the embedded account: %s", resource.logical_id, error
        )
    return problems


def _bucket(clients: ClientFactory, resource: CloudResource, region: str) -> None:
    options: dict[str, Any] = {"Bucket": resource.name}
    if region != "us-east-1":
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    clients("s3").create_bucket(**options)


def _queue(clients: ClientFactory, resource: CloudResource, region: str) -> None:
    attributes = {key: json_string(value) for key, value in resource.properties.items() if key != "QueueName"}
    clients("sqs").create_queue(QueueName=resource.name, Attributes=attributes)


def _table(clients: ClientFactory, resource: CloudResource, region: str) -> None:
    props = dict(resource.properties)
    props.pop("TableName", None)
    if resource.type == cr.SIMPLE_TABLE:
        # SAM's SimpleTable: one string (or given) hash key, `id` unless PrimaryKey says otherwise.
        key = props.pop("PrimaryKey", None) or {"Name": "id", "Type": "String"}
        assert isinstance(key, Mapping)
        kind = {"String": "S", "Number": "N", "Binary": "B"}.get(str(key.get("Type", "String")), "S")
        props["AttributeDefinitions"] = [{"AttributeName": key["Name"], "AttributeType": kind}]
        props["KeySchema"] = [{"AttributeName": key["Name"], "KeyType": "HASH"}]
    if "ProvisionedThroughput" in props:
        props.setdefault("BillingMode", "PROVISIONED")
        props["ProvisionedThroughput"] = _numbers(props["ProvisionedThroughput"])
    else:
        props["BillingMode"] = "PAY_PER_REQUEST"
    if props.get("StreamSpecification"):
        spec = props["StreamSpecification"]
        assert isinstance(spec, Mapping)
        props["StreamSpecification"] = {"StreamEnabled": True, **spec}
    clients("dynamodb").create_table(TableName=resource.name, **props)


def _topic(clients: ClientFactory, resource: CloudResource, region: str) -> None:
    attributes = {key: json_string(value) for key, value in resource.properties.items() if key != "TopicName"}
    clients("sns").create_topic(Name=resource.name, Attributes=attributes)


def _stream(clients: ClientFactory, resource: CloudResource, region: str) -> None:
    props = resource.properties
    shards = props.get("ShardCount", 1)
    # moto's streams are ACTIVE at once: no waiting for the status.
    clients("kinesis").create_stream(StreamName=resource.name, ShardCount=int(str(shards)))


_CREATORS: dict[str, Callable[[ClientFactory, CloudResource, str], None]] = {
    cr.S3_BUCKET: _bucket,
    cr.SQS_QUEUE: _queue,
    cr.DYNAMODB_TABLE: _table,
    cr.SIMPLE_TABLE: _table,
    cr.SNS_TOPIC: _topic,
    cr.KINESIS_STREAM: _stream,
}


def json_string(value: object) -> str:
    """An attribute value as SQS and SNS take them: strings, with booleans lowercase, JSON for objects."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _numbers(value: object) -> object:
    # CloudFormation accepts "5" where the API wants 5.
    if isinstance(value, Mapping):
        return {
            key: int(item) if isinstance(item, str) and item.isdigit() else item
            for key, item in value.items()
        }
    return value


def register_functions(
    clients: ClientFactory, functions: Iterable[FunctionConfig], reserved: Mapping[str, int | None]
) -> list[str]:
    """Register each local function in moto's Lambda so ListFunctions shows it.

    Returns one line per function that could not be registered.
    """
    problems = []
    iam = clients("iam")
    try:
        iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
            ),
        )
    except Exception as exc:  # an existing role is fine; anything else shows below
        logger(__name__).debug("role: %s", exc)
    client = clients("lambda")
    for config in functions:
        try:
            options: dict[str, Any] = {
                "FunctionName": config.name,
                "Runtime": config.runtime,
                "Role": ROLE_ARN,
                "Handler": config.handler or "bootstrap",
                "Code": {"ZipFile": zip_code(config.code_dir)},
                "MemorySize": config.memory_mb,
                "Timeout": config.timeout_s,
                "Architectures": [config.architecture],
                "Environment": {"Variables": dict(config.environment)},
                "LoggingConfig": {"LogFormat": config.logging.log_format, "LogGroup": config.log_group},
                "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
            }
            client.create_function(**options)
            if reserved.get(config.name) is not None:
                client.put_function_concurrency(
                    FunctionName=config.name, ReservedConcurrentExecutions=reserved[config.name]
                )
        except Exception as exc:  # one function must not stop the others
            problems.append(f"{config.name}: {exc}")
            logger(__name__).warning("could not register %s in the embedded account: %s", config.name, exc)
    return problems


def zip_code(code_dir: Path) -> bytes:
    """The function's code as a zip, as it would be deployed; a stub when it is too large to keep."""
    # Imported here: only an account that starts (a function calling AWS) registers code.
    import zipfile

    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(code_dir):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            for name in sorted(files):
                if name.endswith((".pyc", "~", ".swp")):
                    continue
                path = Path(root, name)
                try:
                    total += path.stat().st_size
                except OSError:
                    continue
                if total > MAX_REGISTERED_CODE_BYTES:
                    return _stub_zip()
                archive.write(path, path.relative_to(code_dir).as_posix())
    return buffer.getvalue()


def _stub_zip() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("LAMBENCH_CODE_TOO_LARGE.txt", "lambench runs this function's code from disk.\n")
    return buffer.getvalue()
