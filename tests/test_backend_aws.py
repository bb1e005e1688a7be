"""The real-account backend against a real moto server over HTTP: the same boto3 code path as AWS."""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambench.core.aws_errors import UNSUPPORTED, aws_call, iam_action, is_unsupported, translate
from lambench.core.backends.aws import AwsBackend, outcome_from_response
from lambench.core.backends.base import Backend, BackendError
from lambench.core.backends.masking import MASK, is_secret_name, mask_environment
from lambench.core.backends.metrics import build_queries, check_period, window_period
from lambench.core.logs.model import LogQuery
from tests.moto_fixtures import (
    ACCOUNT,
    REGION,
    MotoServer,
    closed_port,
    create_function,
    create_role,
    isolate_aws_environment,
)

# One attempt and short timeouts: a test that fails over the network fails fast.
FAST = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=20)


@pytest.fixture
def backend(moto: MotoServer) -> Iterator[AwsBackend]:
    aws = AwsBackend(endpoint_url=moto.url, client_config=FAST, tail_poll_interval_s=0.05)
    try:
        yield aws
    finally:
        aws.close()


def _client_error(code: str, message: str, operation: str, status: int = 400, **extra: str) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    response.update(extra)
    return ClientError(response, operation)


# -- listing and describing --------------------------------------------------------------------


def test_list_functions_returns_every_function_sorted_by_name(moto: MotoServer, backend: AwsBackend) -> None:
    role = create_role(moto)
    names = [f"fn-{index:03d}" for index in range(57)]
    for name in random.Random(7).sample(names, len(names)):
        create_function(moto, name, role, MemorySize=256, Timeout=9, Description=f"about {name}")

    functions = backend.list_functions()

    assert [function.name for function in functions] == names
    first = functions[0]
    assert (first.runtime, first.handler, first.memory_mb, first.timeout_s) == (
        "python3.12",
        "app.handler",
        256,
        9,
    )
    assert first.architecture == "x86_64" and first.description == "about fn-000"
    assert first.code_size and first.last_modified


def test_describe_function_shows_versions_aliases_concurrency_tags_and_masks_secrets(
    moto: MotoServer, backend: AwsBackend
) -> None:
    role = create_role(moto)
    variables = {"STAGE": "dev", "DB_PASSWORD": "hunter2", "DATABASE_URL": "postgres://app:pw@db:5432/orders"}
    create_function(moto, "orders", role, Environment={"Variables": variables}, Tags={"team": "payments"})
    lam = moto.client("lambda")
    lam.publish_version(FunctionName="orders", Description="first")
    lam.update_function_code(FunctionName="orders", ZipFile=b"PK\x05\x06" + b"\0" * 18)
    lam.publish_version(FunctionName="orders", Description="second")
    lam.create_alias(
        FunctionName="orders",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    lam.create_alias(FunctionName="orders", Name="beta", FunctionVersion="2", Description="testers")
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=5)

    detail = backend.describe_function("orders")

    assert detail.summary.name == "orders"
    assert detail.arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders"
    assert detail.role == role
    assert [version.version for version in detail.versions] == ["$LATEST", "1", "2"]
    assert detail.versions[1].description == "first" and detail.versions[1].code_sha256
    assert [(alias.name, alias.version, alias.weights) for alias in detail.aliases] == [
        ("beta", "2", {}),
        ("live", "1", {"2": 0.1}),
    ]
    assert detail.aliases[0].description == "testers"
    assert detail.reserved_concurrency == 5
    # moto has no ListProvisionedConcurrencyConfigs: shown as none.
    assert detail.provisioned == ()
    assert detail.tags == {"team": "payments"}
    assert (detail.log_group, detail.log_format) == ("/aws/lambda/orders", "Text")
    assert detail.environment == {
        "STAGE": "dev",
        "DB_PASSWORD": MASK,
        "DATABASE_URL": f"postgres://app:{MASK}@db:5432/orders",
    }
    assert backend.describe_function("orders", show_secrets=True).environment == variables


def test_describe_function_without_reserved_concurrency_or_versions(
    moto: MotoServer, backend: AwsBackend
) -> None:
    create_function(moto, "plain", create_role(moto))
    detail = backend.describe_function("plain")
    assert detail.reserved_concurrency is None
    assert [version.version for version in detail.versions] == ["$LATEST"]
    assert detail.aliases == () and detail.tags == {} and detail.environment == {}


def test_unknown_function_is_one_line_naming_it(backend: AwsBackend) -> None:
    with pytest.raises(BackendError) as caught:
        backend.describe_function("nope")
    error = caught.value
    assert error.code == "ResourceNotFoundException" and not error.retryable
    assert error.message.startswith("lambda GetFunction: function 'nope' not found")
    assert "\n" not in error.message


def test_description_names_the_endpoint_and_region(moto: MotoServer, backend: AwsBackend) -> None:
    as_backend: Backend = backend  # the protocol, checked by mypy
    assert as_backend.description == f"endpoint {moto.url} (region {REGION})"
    assert as_backend.kind == "aws"


def test_description_names_the_account_from_sts(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only STS goes to moto (botocore's per-service endpoint variable); nothing else is called.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto.url)
    aws = AwsBackend(client_config=FAST)
    try:
        assert aws.description == f"AWS account {ACCOUNT} (profile default, region {REGION})"
    finally:
        aws.close()


def test_description_falls_back_to_the_region_when_sts_fails(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{closed_port()}")
    aws = AwsBackend(region="eu-west-1", client_config=FAST)
    try:
        assert aws.description == "AWS region eu-west-1 (profile default)"
    finally:
        aws.close()


def test_close_drops_clients_and_the_backend_still_works_after(moto: MotoServer, backend: AwsBackend) -> None:
    create_function(moto, "again", create_role(moto))
    assert [f.name for f in backend.list_functions()] == ["again"]
    backend.close()
    assert [f.name for f in backend.list_functions()] == ["again"]


# -- invoke ------------------------------------------------------------------------------------


def test_invoke_is_refused_without_allow_invoke(moto: MotoServer, backend: AwsBackend) -> None:
    create_function(moto, "hello", create_role(moto))
    assert not backend.can_invoke
    with pytest.raises(BackendError, match=r"^invoke is off for a real account: pass --allow-invoke"):
        backend.invoke("hello", b"{}")


def test_invoke_with_allow_invoke_round_trips_through_moto(moto: MotoServer) -> None:
    moto.use_simple_lambda()
    create_function(moto, "hello", create_role(moto))
    moto.client("lambda").publish_version(FunctionName="hello")
    aws = AwsBackend(endpoint_url=moto.url, allow_invoke=True, client_config=FAST)
    try:
        assert aws.can_invoke
        sync = aws.invoke("hello", b'{"name": "Ada"}')
        assert (sync.status_code, sync.payload, sync.function_error) == (200, b'{"name": "Ada"}', None)
        assert sync.request_id
        # moto's simple Lambda sends no log tail: the figures stay unknown rather than invented.
        assert sync.logs is None and sync.figures is None

        qualified = aws.invoke("hello", b'{"v": 1}', qualifier="1")
        assert qualified.payload == b'{"v": 1}'

        queued = '{"errorType": "ValueError", "errorMessage": "bad"}'
        moto.queue_lambda_answers(queued)
        assert aws.invoke("hello", b"{}").payload == queued.encode()

        event = aws.invoke("hello", b'{"a": 1}', invocation_type="Event")
        assert (event.status_code, event.payload, event.logs) == (202, b"", None)

        with pytest.raises(BackendError, match="unknown invocation type"):
            aws.invoke("hello", b"{}", invocation_type="Later")
    finally:
        aws.close()


REQUEST_ID = "0c7f9b2e-5b1a-4c55-a9b1-2f1a3e4d5c6b"


def _tail(*lines: str) -> str:
    return base64.b64encode("".join(lines).encode()).decode()


def test_invoke_answer_with_log_tail_gives_figures_error_type_and_cold() -> None:
    logs = _tail(
        f"START RequestId: {REQUEST_ID} Version: $LATEST\n",
        f"[ERROR]\t2026-11-22T10:00:00.000Z\t{REQUEST_ID}\tboom\n",
        f"END RequestId: {REQUEST_ID}\n",
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 41 MB\tInit Duration: 180.25 ms\t\n",
    )
    response = {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "LogResult": logs,
        "ExecutedVersion": "$LATEST",
        "ResponseMetadata": {"RequestId": "other", "HTTPStatusCode": 200},
    }
    payload = b'{"errorType": "ValueError", "errorMessage": "boom"}'

    outcome = outcome_from_response(response, payload, "RequestResponse")

    assert outcome.request_id == REQUEST_ID
    assert (outcome.function_error, outcome.error_type, outcome.executed_version) == (
        "Unhandled",
        "ValueError",
        "$LATEST",
    )
    assert outcome.logs is not None and outcome.logs.startswith("START RequestId:")
    figures = outcome.figures
    assert figures is not None
    assert (figures.duration_ms, figures.billed_duration_ms, figures.init_duration_ms) == (12.5, 13, 180.25)
    assert (figures.max_memory_used_mb, figures.memory_size_mb, figures.cold) == (41, 256, True)


def test_invoke_answer_of_a_warm_start_and_of_a_non_json_error() -> None:
    logs = _tail(
        f"END RequestId: {REQUEST_ID}\n",
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 30 MB\t\nXRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSampled: true\n",
    )
    response = {"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": logs}
    outcome = outcome_from_response(response, b"not json", "RequestResponse")
    figures = outcome.figures
    assert figures is not None
    assert figures.cold is False and figures.init_duration_ms is None and figures.duration_ms == 1.0
    assert figures.status == "error"
    assert outcome.function_error == "Unhandled" and outcome.error_type is None


def test_throttled_invoke_is_retryable_and_names_the_reason() -> None:
    exc = _client_error(
        "TooManyRequestsException",
        "Rate Exceeded.",
        "Invoke",
        429,
        Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
    )
    error = translate(exc, "lambda Invoke")
    assert error.retryable and error.code == "TooManyRequestsException"
    assert "Reason: ReservedFunctionConcurrentInvocationLimitExceeded" in error.message
    assert error.message.startswith("lambda Invoke: throttled")


# -- metrics -----------------------------------------------------------------------------------


def test_metrics_read_back_what_cloudwatch_holds(moto: MotoServer, backend: AwsBackend) -> None:
    cloudwatch = moto.client("cloudwatch")
    base = (int(time.time()) // 60) * 60 - 600
    dimensions = [{"Name": "FunctionName", "Value": "orders"}]
    other = [{"Name": "FunctionName", "Value": "someone-else"}]
    data = [
        ("Invocations", base + 5, 3.0, dimensions),
        ("Invocations", base + 65, 4.0, dimensions),
        ("Invocations", base + 70, 100.0, other),
        ("Errors", base + 65, 1.0, dimensions),
        ("Throttles", base + 125, 2.0, dimensions),
        ("ConcurrentExecutions", base + 5, 2.0, dimensions),
        ("ConcurrentExecutions", base + 65, 6.0, dimensions),
        ("Duration", base + 5, 120.0, dimensions),
    ]
    for name, stamp, value, dims in data:
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": dims,
                    "Timestamp": datetime.fromtimestamp(stamp, tz=timezone.utc),
                    "Value": value,
                }
            ],
        )

    summary = backend.metrics("orders", base, base + 600, period_s=60)

    assert (summary.function, summary.start, summary.end, summary.period_s) == (
        "orders",
        base,
        base + 600,
        60,
    )
    assert (summary.invocations, summary.errors, summary.throttles) == (7.0, 1.0, 2.0)
    assert summary.max_concurrent == 6.0
    assert [(p.time - base, p.value) for p in summary.series["Invocations"]] == [(0, 3.0), (60, 4.0)]
    assert [(p.time - base, p.value) for p in summary.series["Throttles"]] == [(120, 2.0)]
    # moto computes no percentiles (it answers HTTP 500 when Duration has data): unknown, not made up.
    assert summary.duration_p50_ms is None and summary.duration_p99_ms is None
    assert summary.series["Duration p50"] == ()

    # Refused once, percentiles are not asked for again: one GetMetricData call, not two.
    calls: list[str] = []
    backend._client("cloudwatch").meta.events.register(
        "before-call.cloudwatch.GetMetricData", lambda **_: calls.append("call")
    )
    again = backend.metrics("orders", base, base + 600, period_s=60)
    assert again.invocations == 7.0 and len(calls) == 1

    empty = backend.metrics("quiet", base, base + 600)
    assert (empty.invocations, empty.errors, empty.max_concurrent) == (None, None, None)


def test_metrics_queries_and_periods() -> None:
    queries = build_queries("fn", 60, 3600)
    assert [(q["Id"], q["MetricStat"]["Stat"], q["MetricStat"]["Period"]) for q in queries] == [
        ("invocations", "Sum", 60),
        ("errors", "Sum", 60),
        ("throttles", "Sum", 60),
        ("durationP50", "p50", 60),
        ("durationP99", "p99", 60),
        ("concurrent", "Maximum", 60),
        ("windowP50", "p50", 3600),
        ("windowP99", "p99", 3600),
    ]
    assert all(
        q["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": "fn"}] for q in queries
    )
    assert len(build_queries("fn", 60, 60, percentiles=False)) == 4
    assert (window_period(0, 90), window_period(0, 3600), window_period(0, 3601)) == (120, 3600, 7200)
    for good in (1, 5, 60, 300):
        check_period(good)
    for bad in (0, 7, 90):
        with pytest.raises(BackendError, match="multiple of 60"):
            check_period(bad)


def test_metrics_window_must_be_forward(backend: AwsBackend) -> None:
    with pytest.raises(BackendError, match="ends before it starts"):
        backend.metrics("fn", 100.0, 50.0)


# -- errors as one clear line ------------------------------------------------------------------


def test_no_credentials(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch, credentials=False)
    aws = AwsBackend(endpoint_url=moto.url, client_config=FAST)
    with pytest.raises(BackendError) as caught:
        aws.list_functions()
    assert caught.value.code == "NoCredentials"
    assert caught.value.message.startswith("lambda ListFunctions: no AWS credentials found")
    assert "aws configure" in caught.value.message


def test_unknown_profile(moto: MotoServer) -> None:
    aws = AwsBackend(profile="nobody", endpoint_url=moto.url)
    with pytest.raises(BackendError) as caught:
        aws.list_functions()
    assert caught.value.code == "ProfileNotFound"
    assert "AWS profile 'nobody'" in caught.value.message and "--profile" in caught.value.message
    assert aws.description == f"endpoint {moto.url} (region not set)"


def test_no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    aws = AwsBackend()
    with pytest.raises(BackendError) as caught:
        aws.list_functions()
    assert caught.value.code == "NoRegion" and "--region" in caught.value.message


def test_network_down_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)
    aws = AwsBackend(endpoint_url=f"http://127.0.0.1:{closed_port()}", client_config=FAST)
    with pytest.raises(BackendError) as caught:
        aws.list_functions()
    assert caught.value.retryable and caught.value.code == "EndpointConnectionError"
    assert caught.value.message.startswith("lambda ListFunctions: cannot reach AWS")
    assert "--endpoint" in caught.value.message


def test_rejected_credentials_from_moto_iam_checks(moto: MotoServer, backend: AwsBackend) -> None:
    # With IAM checks on, moto does not know the "testing" access key: a real rejection.
    moto.set_iam_checks(True)
    with pytest.raises(BackendError) as caught:
        backend.metrics("fn", 0, 600)
    assert caught.value.code == "InvalidClientTokenId" and not caught.value.retryable
    assert caught.value.message.startswith("cloudwatch GetMetricData: AWS rejected the credentials")


@pytest.mark.parametrize(
    ("code", "call", "expected"),
    [
        ("AccessDeniedException", "lambda ListFunctions", "grant lambda:ListFunctions to your IAM identity"),
        ("AccessDeniedException", "lambda Invoke", "grant lambda:InvokeFunction"),
        ("AccessDenied", "logs FilterLogEvents", "grant logs:FilterLogEvents"),
        ("ExpiredTokenException", "lambda GetFunction", "have expired"),
        ("ExpiredToken", "sts GetCallerIdentity", "aws sso login --profile dev"),
        ("UnrecognizedClientException", "lambda ListFunctions", "rejected the credentials"),
        ("InvalidSignatureException", "lambda ListFunctions", "clock"),
    ],
)
def test_client_errors_moto_cannot_produce(code: str, call: str, expected: str) -> None:
    exc = _client_error(code, "User: arn:aws:iam::1:user/x is not authorized", call.split()[1], 403)
    error = translate(exc, call, profile="dev", region="eu-west-1")
    assert expected in error.message and error.message.startswith(call + ": ")
    assert error.code == code and not error.retryable
    assert "\n" not in error.message


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"]
)
def test_throttling_is_retryable(code: str) -> None:
    error = translate(_client_error(code, "Rate exceeded", "ListFunctions"), "lambda ListFunctions")
    assert error.retryable and "throttled" in error.message


def test_unsupported_operation_and_server_errors() -> None:
    missing_route = _client_error("404", "<!doctype html><title>404 Not Found</title>", "X", 404)
    assert is_unsupported(missing_route)
    assert translate(missing_route, "lambda ListProvisionedConcurrencyConfigs").code == UNSUPPORTED
    assert not is_unsupported(_client_error("ResourceNotFoundException", "Function not found", "X", 404))
    server = translate(_client_error("ServiceException", "oops", "X", 500), "lambda GetFunction")
    assert server.retryable and "internal error" in server.message
    assert iam_action("logs StartLiveTail") == "logs:StartLiveTail"


def test_aws_call_lets_other_exceptions_through() -> None:
    with pytest.raises(ValueError), aws_call("lambda ListFunctions"):
        raise ValueError("not from AWS")
    with pytest.raises(BackendError) as caught, aws_call("lambda ListFunctions"):
        raise _client_error("SomethingNew", "a new failure", "ListFunctions")
    assert caught.value.message == "lambda ListFunctions: SomethingNew: a new failure"


# -- masking -----------------------------------------------------------------------------------


def test_masking_by_name_value_and_url() -> None:
    env = {
        "STAGE": "prod",
        "TABLE_NAME": "orders",
        "MONKEY_COUNT": "3",
        "API_KEY": "abc",
        "stripeApiKey": "abc",
        "GITHUB_TOKEN": "abc",
        "DB_PASS": "abc",
        "CLIENT_SECRET_ARN": "arn:aws:secretsmanager:...",
        "UPSTREAM": "AKIAIOSFODNN7EXAMPLE",
        "SIGNING": "-----BEGIN RSA PRIVATE KEY-----\nMII...",
        "REDIS_URL": "redis://:s3cret@cache:6379/0",
        "PUBLIC_URL": "https://example.com/a:b@c",
        "EMPTY_SECRET": "",
    }
    masked = mask_environment(env)
    assert list(masked) == list(env)
    assert {name for name, value in masked.items() if value == MASK} == {
        "API_KEY",
        "stripeApiKey",
        "GITHUB_TOKEN",
        "DB_PASS",
        "CLIENT_SECRET_ARN",
        "UPSTREAM",
        "SIGNING",
    }
    assert masked["REDIS_URL"] == f"redis://:{MASK}@cache:6379/0"
    assert masked["PUBLIC_URL"] == env["PUBLIC_URL"]
    assert masked["EMPTY_SECRET"] == ""
    assert not is_secret_name("KEYBOARD_LAYOUT") and is_secret_name("private_key")


# -- tail --------------------------------------------------------------------------------------


def test_tail_needs_a_function(backend: AwsBackend) -> None:
    with pytest.raises(BackendError, match="needs a function"):
        backend.tail(LogQuery(), threading.Event())


def test_tail_reads_the_functions_log_group(moto: MotoServer, backend: AwsBackend) -> None:
    create_function(moto, "talker", create_role(moto))
    logs = moto.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/talker")
    logs.create_log_stream(logGroupName="/aws/lambda/talker", logStreamName="2026/11/22/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/aws/lambda/talker",
        logStreamName="2026/11/22/[$LATEST]abc",
        logEvents=[{"timestamp": now - 1000, "message": "one\n"}, {"timestamp": now, "message": "two\n"}],
    )

    batches = list(backend.tail(LogQuery(function="talker"), threading.Event()))

    lines = [line for batch in batches for line in batch.lines]
    assert [(line.text, line.stream, line.function) for line in lines] == [
        ("one", "2026/11/22/[$LATEST]abc", "talker"),
        ("two", "2026/11/22/[$LATEST]abc", "talker"),
    ]
    with pytest.raises(BackendError) as caught:
        backend.tail(LogQuery(function="ghost"), threading.Event())
    assert caught.value.code == "ResourceNotFoundException"
