"""The embedded account: lazy moto, template resources, handlers' AWS calls, Invoke over HTTP, CloudWatch."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambench.core.backends.local import LocalBackend
from lambench.core.template import load_project
from tests.helpers import account_client, copy_demo, python_function, wait_for

REPO = Path(__file__).resolve().parent.parent
STREAM_RE = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")


client = account_client


def started(backend: LocalBackend) -> bool:
    """Whether moto runs (a function, so the type checker does not carry one answer to the next)."""
    return backend.account.started


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LocalBackend]:
    project_dir = copy_demo(tmp_path)
    project = load_project(project_dir)
    backend = LocalBackend(
        project.functions.values(),
        project_dir=project_dir,
        resources=project.cloud_resources,
        reserved={name: d.reserved_concurrency for name, d in project.deployments.items()},
        share=False,
        versions=project_dir / ".lambench" / "versions",
    )
    yield backend
    backend.close()


def test_moto_waits_for_a_client_and_orders_put_item_lands_in_the_table(demo: LocalBackend) -> None:
    hello = demo.service.invoke("hello", b"{}")
    assert hello.function_error is None
    # No handler has called AWS yet: moto has not been imported, let alone started.
    assert not started(demo)
    result = demo.service.invoke("orders", json.dumps({"item": "book", "qty": 2}))
    assert result.function_error is None, result.payload
    order_id = json.loads(result.payload)["orderId"]
    assert started(demo)
    items = client(demo, "dynamodb").scan(TableName="OrdersTable")["Items"]
    assert items == [{"orderId": {"S": order_id}, "item": {"S": "book"}, "qty": {"N": "2"}}]


def test_template_resources_exist_and_functions_are_registered(demo: LocalBackend) -> None:
    demo.account.start()
    assert demo.account.problems == []
    assert client(demo, "s3").list_buckets()["Buckets"][0]["Name"] == "uploadsbucket"
    assert client(demo, "sqs").get_queue_url(QueueName="JobsQueue")["QueueUrl"].endswith("/JobsQueue")
    table = client(demo, "dynamodb").describe_table(TableName="OrdersTable")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "orderId", "KeyType": "HASH"}]
    functions = client(demo, "lambda").list_functions()["Functions"]
    assert {f["FunctionName"] for f in functions} == {f.name for f in demo.list_functions()}
    slow = client(demo, "lambda").get_function_concurrency(FunctionName="slow")
    assert slow["ReservedConcurrentExecutions"] == 5


def test_invoke_over_the_lambda_api_runs_the_local_function(demo: LocalBackend) -> None:
    lam = client(demo, "lambda")
    answer = lam.invoke(FunctionName="hello", Payload=b'{"name": "moto"}', LogType="Tail")
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert json.loads(answer["Payload"].read())["statusCode"] == 200
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert "START RequestId: " in tail and "\nREPORT RequestId: " in tail
    failed = lam.invoke(FunctionName="timeout", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Sandbox.Timedout"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="hello:nope", Payload=b"{}")


def test_throttles_come_back_as_429_with_the_reason(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(e, c):\n    return 1\n", name="capped")
    with LocalBackend([config], project_dir=tmp_path, share=False, log_store=False) as backend:
        backend.service.put_function_concurrency("capped", 0)
        lam = client(backend, "lambda")
        with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
            lam.invoke(FunctionName="capped", Payload=b"{}")
        assert info.value.response["Error"]["Message"] == "Rate Exceeded."
        assert info.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_logs_land_in_cloudwatch_as_aws_writes_them(tmp_path: Path) -> None:
    code = "def handler(event, context):\n    print('one')\n    print('two')\n    return 'ok'\n"
    config = python_function(tmp_path, code, name="printer")
    with LocalBackend([config], project_dir=tmp_path, share=False, log_store=False) as backend:
        backend.account.start()
        first = backend.service.invoke("printer", b"{}")
        second = backend.service.invoke("printer", b"{}")
        assert backend.account.flush()
        logs = client(backend, "logs")
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/printer")["logStreams"]
        assert len(streams) == 1 and STREAM_RE.match(streams[0]["logStreamName"])
        events = logs.get_log_events(
            logGroupName="/aws/lambda/printer", logStreamName=streams[0]["logStreamName"], startFromHead=True
        )["events"]
        messages = [event["message"] for event in events]
        assert messages[0].startswith("INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: ")
        assert messages[1:5] == [
            f"START RequestId: {first.request_id} Version: $LATEST",
            "one",
            "two",
            f"END RequestId: {first.request_id}",
        ]
        assert messages[5].startswith(f"REPORT RequestId: {first.request_id}\tDuration: ")
        assert "Init Duration: " in messages[5] and messages[5].endswith("\t")
        assert messages[6] == f"START RequestId: {second.request_id} Version: $LATEST"
        assert "Init Duration" not in messages[10]
        assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)


def test_metrics_reach_cloudwatch(tmp_path: Path) -> None:
    code = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError\n    return 1\n"
    config = python_function(tmp_path, code, name="counted")
    with LocalBackend([config], project_dir=tmp_path, share=False, log_store=False) as backend:
        backend.account.start()
        for payload in (b"{}", b"{}", b'{"fail": true}'):
            backend.service.invoke("counted", payload)
        backend.service.put_function_concurrency("counted", 0)
        with pytest.raises(Exception, match="Rate Exceeded"):
            backend.service.invoke("counted", b"{}")
        assert backend.account.flush()
        now = time.time()
        cloudwatch = client(backend, "cloudwatch")

        def total(metric: str, stat: str = "Sum") -> float:
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": "counted"}],
                StartTime=now - 600,
                EndTime=now + 60,
                Period=60,
                Statistics=[stat],
            )["Datapoints"]
            values = [float(point[stat]) for point in points]
            return sum(values) if stat == "Sum" else max(values)

        assert total("Invocations") == 3
        assert total("Errors") == 1
        assert total("Throttles") == 1
        assert total("ConcurrentExecutions", "Maximum") == 1
        assert total("Duration", "SampleCount") >= 1


def test_a_functions_own_endpoint_variable_wins(tmp_path: Path) -> None:
    code = "import os\ndef handler(event, context):\n    return os.environ['AWS_ENDPOINT_URL']\n"
    mine = python_function(
        tmp_path, code, name="mine", environment={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    )
    theirs = python_function(tmp_path, code, name="theirs")
    with LocalBackend([mine, theirs], project_dir=tmp_path, share=False, log_store=False) as backend:
        assert json.loads(backend.service.invoke("mine", b"{}").payload) == "http://127.0.0.1:9"
        assert json.loads(backend.service.invoke("theirs", b"{}").payload) == backend.account.endpoint


def test_an_unstarted_account_closes_without_starting_moto(tmp_path: Path) -> None:
    config = python_function(tmp_path, "def handler(e, c):\n    return 1\n")
    backend = LocalBackend([config], project_dir=tmp_path, share=False, log_store=False)
    backend.service.invoke("fn", b"{}")
    backend.close()
    assert not backend.account.started
    assert wait_for(
        lambda: not any(t.name.startswith("lambench-moto") for t in __import__("threading").enumerate())
    )


def test_the_aws_backend_works_against_the_embedded_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real-account code path, end to end, with lambench's engine behind the endpoint."""
    for key, value in {"AWS_ACCESS_KEY_ID": "user", "AWS_SECRET_ACCESS_KEY": "user"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    import threading

    from lambench.core.backends.aws import AwsBackend
    from lambench.core.logs.model import LogQuery
    from lambench.core.logs.report_timeline import ReportTimeline
    from lambench.core.timeline import Timeline

    code = "def handler(event, context):\n    print('working')\n    return {'ok': True}\n"
    config = python_function(tmp_path, code, name="remote")
    with LocalBackend([config], project_dir=tmp_path, share=False, log_store=False) as local:
        local.account.start()
        remote = AwsBackend(region="us-east-1", endpoint_url=local.account.endpoint, allow_invoke=True)
        try:
            assert [f.name for f in remote.list_functions()] == ["remote"]
            first = remote.invoke("remote", b"{}")
            second = remote.invoke("remote", b"{}")
            assert json.loads(first.payload) == {"ok": True}
            assert first.figures is not None and second.figures is not None
            assert first.figures.cold is True and second.figures.cold is False
            assert first.logs is not None and "working\n" in first.logs
            assert first.figures.init_duration_ms is not None
            assert local.account.flush()
            batches = list(
                remote.tail(LogQuery(function="remote", since=time.time() - 600), threading.Event())
            )
            lines = [line for batch in batches for line in batch.lines]
            assert next(line.text for line in lines if line.request_id == first.request_id).startswith(
                "START"
            )
            timeline = Timeline()
            rebuilt = ReportTimeline(timeline)
            for line in lines:
                rebuilt.feed(line)
            summary = timeline.summary()
            assert summary.invocations == 2
            assert summary.cold_starts == 1
        finally:
            remote.close()
