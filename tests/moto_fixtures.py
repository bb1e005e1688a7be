"""A real moto server over HTTP on 127.0.0.1, and the account set-up the AWS-backend tests share.

moto runs in this process, so its state (and its settings: the no-Docker Lambda, IAM checks) is
global: `MotoServer.reset()` puts everything back between tests.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"
_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


def isolate_aws_environment(monkeypatch: pytest.MonkeyPatch, *, credentials: bool = True) -> None:
    """Fake credentials and region, and nothing from the host's AWS configuration (no IMDS either)."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in _AWS_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/lambench-tests/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/lambench-tests/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    if credentials:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    else:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)


class MotoServer:
    """moto's ThreadedMotoServer on a free loopback port, with its control API at hand."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # moto's werkzeug logs every request; the tests do not need them.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop the server thread."""
        self._server.stop()

    def post(self, path: str, body: Any, *, content_type: str = "application/json") -> bytes:
        """POST to moto's control API (`/moto-api/...`)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method="POST", headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return bytes(answer.read())

    def reset(self) -> None:
        """Forget every resource and put moto's global settings back."""
        self.set_iam_checks(False)
        self.post("/moto-api/config", {"lambda": {"use_docker": True}})
        self.post("/moto-api/reset", {})

    def use_simple_lambda(self) -> None:
        """moto's no-Docker Lambda: Invoke echoes the payload (or the queued answers)."""
        self.post("/moto-api/config", {"lambda": {"use_docker": False}})

    def queue_lambda_answers(self, *answers: str) -> None:
        """The simple Lambda's next Invoke answers, in order."""
        self.post("/moto-api/static/lambda-simple/response", {"results": list(answers), "region": REGION})

    def set_iam_checks(self, on: bool) -> None:
        """Make moto check every request's signature and IAM permissions (or stop checking)."""
        self.post("/moto-api/reset-auth", b"0" if on else b"inf", content_type="text/plain")

    def client(self, service: str, **options: Any) -> Any:
        """A boto3 client of this server."""
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **options)


@contextmanager
def running_moto() -> Iterator[MotoServer]:
    """A moto server for a module's tests, stopped at the end."""
    server = MotoServer()
    try:
        yield server
    finally:
        server.reset()
        server.stop()


def function_zip() -> bytes:
    """A tiny Python function's deployment package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_role(server: MotoServer) -> str:
    """An execution role in moto's IAM (create_function needs its ARN)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = server.client("iam").create_role(
        RoleName="lambench-test", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


def create_function(server: MotoServer, name: str, role: str, **options: Any) -> None:
    """A Python function in moto's Lambda."""
    server.client("lambda").create_function(
        FunctionName=name,
        Runtime=options.pop("Runtime", "python3.12"),
        Role=role,
        Handler=options.pop("Handler", "app.handler"),
        Code={"ZipFile": function_zip()},
        **options,
    )


def user_keys(server: MotoServer, name: str, actions: list[str]) -> tuple[str, str]:
    """An IAM user allowed exactly `actions`; its access key id and secret."""
    iam = server.client("iam")
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="allowed", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
