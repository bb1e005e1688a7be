"""lambench's Python runtime as a handler sees it, asserted against lambda-facts to the character.

Covers the error payloads of §4.2/§4.4 and their log lines (§4.9), the environment of §2, the context
object of §3.1, JSON marshalling (§4.5), the Text and JSON log formats (§5.3, §5.4), LogType=Tail (§5.6)
and warm reuse of an environment.

Two rows of §4.4 cannot be produced through `LocalLambda.invoke` and have no test here:
`Runtime.UnmarshalError` (the engine rejects a body that is not JSON before any runtime sees it, and
always sends `Content-Type: application/json`) and `Runtime.LambdaContextUnmarshalError` (the engine
decodes and validates the client context itself, so the runtime never receives malformed JSON).
"""

from __future__ import annotations

import base64
import calendar
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from lambench.core.config import FunctionConfig, LoggingConfig
from lambench.core.runtime.envvars import FAKE_CREDENTIALS, PYTHON_RUNTIME_DIR
from lambench.core.runtime.service import InvokeResult, LocalLambda
from tests.helpers import python_function

ARN = "arn:aws:lambda:us-east-1:123456789012:function"
TEXT_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
JSON_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
LOG_STREAM = r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}"
TRACE_ID = r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0"
ERROR_KEYS = ["errorMessage", "errorType", "requestId", "stackTrace"]
NBSP = "\u00a0"

LAMBDA_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
    "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
    "managed runtimes, runtime updates can be triggered by a function change, or can be applied "
    "automatically. To determine if the runtime has been updated, check the runtime version in the "
    "INIT_START log entry. If this error correlates with a change in the runtime version, you may be able "
    "to mitigate this error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _line_no(config: FunctionConfig, needle: str, module: str = "app.py") -> int:
    """1-based number of the first source line of `module` whose code starts with `needle`."""
    lines = (config.code_dir / module).read_text().splitlines()
    return next(index for index, line in enumerate(lines, 1) if line.strip().startswith(needle))


def _app(config: FunctionConfig, module: str = "app.py") -> str:
    return str(config.code_dir / module)


def _lines(result: InvokeResult) -> list[str]:
    assert result.logs.endswith("\n")
    return result.logs[:-1].split("\n")


def _between_start_and_end(result: InvokeResult) -> list[str]:
    """The function's own log lines of the invocation phase (strictly between START and END)."""
    lines = _lines(result)
    start = lines.index(f"START RequestId: {result.request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {result.request_id}")
    return lines[start + 1 : end]


def _error(result: InvokeResult) -> dict[str, Any]:
    """The error payload, checked for the key order of §4.2 and the invoke's error fields."""
    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    body = json.loads(result.payload)
    assert isinstance(body, dict)
    assert list(body) == ERROR_KEYS
    assert result.figures.error_type == body["errorType"]
    return body


def _json_records(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        if line.startswith("{"):
            parsed = json.loads(line)
            assert isinstance(parsed, dict)
            records.append(parsed)
    return records


def _utc_seconds(stamp: str, fmt: str) -> float:
    return float(calendar.timegm(time.strptime(stamp, fmt)))


# --------------------------------------------------------------------------------------------------
# §4.2 / §4.4 / §4.9: handler exceptions
# --------------------------------------------------------------------------------------------------

HANDLER_RAISES = """
    def helper():
        raise ValueError("boom")


    def handler(event, context):
        helper()
"""


def test_handler_exception_payload(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, HANDLER_RAISES)
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b'{"a": 1}')
    body = _error(result)
    path = _app(cfg)
    assert body == {
        "errorMessage": "boom",
        "errorType": "ValueError",
        "requestId": result.request_id,
        # The runtime's own frames are stripped from the top: the trace starts in the handler.
        "stackTrace": [
            f'  File "{path}", line {_line_no(cfg, "helper()")}, in handler\n    helper()\n',
            f'  File "{path}", line {_line_no(cfg, "raise ValueError")}, in helper\n'
            '    raise ValueError("boom")\n',
        ],
    }
    assert result.figures.error_type == "ValueError"


def test_handler_exception_without_message_and_custom_class(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        class CustomError(Exception):
            pass


        def handler(event, context):
            if event.get("empty"):
                raise KeyError()
            raise CustomError("some error occurred")
        """,
    )
    with LocalLambda([cfg]) as service:
        custom = service.invoke("fn", b"{}")
        empty = service.invoke("fn", b'{"empty": true}')
    body = _error(custom)
    assert (body["errorType"], body["errorMessage"]) == ("CustomError", "some error occurred")
    assert body["stackTrace"] == [
        f'  File "{_app(cfg)}", line {_line_no(cfg, "raise CustomError")}, in handler\n'
        '    raise CustomError("some error occurred")\n'
    ]
    body = _error(empty)
    assert (body["errorType"], body["errorMessage"], body["requestId"]) == ("KeyError", "", empty.request_id)
    # An empty message leaves only the type on the [ERROR] line (no colon).
    assert _between_start_and_end(empty)[0].startswith(
        "[ERROR] KeyError\rTraceback (most recent call last):\r"
    )


def test_handler_exception_log_line(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, HANDLER_RAISES)
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    path = _app(cfg)
    # One event: lines joined by CR, leading spaces of the trace turned into NBSPs, no trailing CR.
    expected = "\r".join(
        [
            "[ERROR] ValueError: boom",
            "Traceback (most recent call last):",
            f'{NBSP * 2}File "{path}", line {_line_no(cfg, "helper()")}, in handler',
            f"{NBSP * 4}helper()",
            f'{NBSP * 2}File "{path}", line {_line_no(cfg, "raise ValueError")}, in helper',
            f'{NBSP * 4}raise ValueError("boom")',
        ]
    )
    assert _between_start_and_end(result) == [expected]
    # The LAMBDA_WARNING belongs to init failures only.
    assert "LAMBDA_WARNING" not in result.logs
    assert result.logs.endswith(
        f"Max Memory Used: {result.figures.max_memory_used_mb} MB\tInit Duration: "
        f"{result.figures.init_duration_ms:.2f} ms\t\n"
    )
    # Handler exceptions are function errors, not runtime failures: no Status in REPORT.
    assert "Status:" not in result.logs


def test_marshal_error(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        import datetime


        def handler(event, context):
            return {"when": datetime.datetime(2024, 1, 2, 3, 4, 5)}
        """,
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    body = _error(result)
    message = "Unable to marshal response: Object of type datetime is not JSON serializable"
    assert body == {
        "errorMessage": message,
        "errorType": "Runtime.MarshalError",
        "requestId": result.request_id,
        "stackTrace": [],
    }
    assert result.figures.error_type == "Runtime.MarshalError"
    assert _between_start_and_end(result) == [
        f"[ERROR] Runtime.MarshalError: {message}\rTraceback (most recent call last):"
    ]


# --------------------------------------------------------------------------------------------------
# §4.4 / §4.9: initialisation failures
# --------------------------------------------------------------------------------------------------

PLAIN_HANDLER = """
    def handler(event, context):
        return "ok"
"""

# Runtime.UnmarshalError and Runtime.LambdaContextUnmarshalError are not produced here: the engine validates
# the event JSON and decodes the client context before the runtime sees either (see the module docstring).
INIT_FAILURES = [
    pytest.param(
        """
        import nosuchmodule


        def handler(event, context):
            return "ok"
        """,
        "app.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'nosuchmodule'",
        id="import-error",
    ),
    pytest.param(
        PLAIN_HANDLER,
        "missing.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'missing': No module named 'missing'",
        id="module-file-missing",
    ),
    pytest.param(
        """
        def other(event, context):
            return "ok"
        """,
        "app.handler",
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app'",
        id="handler-not-found",
    ),
    pytest.param(
        PLAIN_HANDLER,
        "app",
        "Runtime.MalformedHandlerName",
        "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        id="malformed-handler-name",
    ),
    pytest.param(
        PLAIN_HANDLER,
        "sys.handler",
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module sys as a handler module",
        id="builtin-module-conflict",
    ),
]


@pytest.mark.parametrize(("code", "handler", "error_type", "message"), INIT_FAILURES)
def test_init_failure_payload(tmp_path: Path, code: str, handler: str, error_type: str, message: str) -> None:
    cfg = python_function(tmp_path, code, handler=handler)
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    assert _error(result) == {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "",
        "stackTrace": [],
    }
    assert result.figures.error_type == error_type


def test_handler_resolution(tmp_path: Path) -> None:
    """The handler splits at its last dot; slashes in the module part become dots (§4.4)."""
    code = """
        def handler(event, context):
            return __name__
    """
    configs = [
        python_function(tmp_path, code, name="slash", handler="sub/inner.handler", module="sub/inner.py"),
        python_function(tmp_path, code, name="dotted", handler="pkg.mod.handler", module="pkg/mod.py"),
        python_function(tmp_path, code, name="missing", handler="sub/nothing.handler", module="sub/inner.py"),
    ]
    with LocalLambda(configs) as service:
        slash = service.invoke("slash", b"{}")
        dotted = service.invoke("dotted", b"{}")
        missing = service.invoke("missing", b"{}")
    assert (slash.function_error, slash.payload_json()) == (None, "sub.inner")
    assert (dotted.function_error, dotted.payload_json()) == (None, "pkg.mod")
    assert _error(missing) == {
        "errorMessage": "Unable to import module 'sub/nothing': No module named 'sub.nothing'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


def test_user_code_syntax_error(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        def handler(event, context)
            return "ok"
        """,
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    line = _line_no(cfg, "def handler")
    assert _error(result) == {
        "errorMessage": f"Syntax error in module 'app': expected ':' (app.py, line {line})",
        "errorType": "Runtime.UserCodeSyntaxError",
        "requestId": "",
        # One entry, capital "Line", no comma after the file name.
        "stackTrace": [f'  File "{_app(cfg)}" Line {line}\n    def handler(event, context)\n'],
    }
    assert result.figures.error_type == "Runtime.UserCodeSyntaxError"


def test_module_level_exception(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        CONFIG = {}
        raise RuntimeError("failed at import")


        def handler(event, context):
            return "ok"
        """,
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    body = _error(result)
    assert (body["errorMessage"], body["errorType"], body["requestId"]) == (
        "failed at import",
        "RuntimeError",
        "",
    )
    assert result.figures.error_type == "RuntimeError"
    stack = body["stackTrace"]
    assert isinstance(stack, list) and len(stack) >= 2
    # The import machinery's frames stay (as on AWS); the runtime's own do not.
    assert any("importlib" in entry for entry in stack)
    assert not any("lambench_python_runtime" in entry for entry in stack)
    assert stack[-1] == (
        f'  File "{_app(cfg)}", line {_line_no(cfg, "raise RuntimeError")}, in <module>\n'
        '    raise RuntimeError("failed at import")\n'
    )


def test_init_failure_log_lines(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        import nosuchmodule


        def handler(event, context):
            return "ok"
        """,
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    error_line = (
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'nosuchmodule'"
        "\rTraceback (most recent call last):"
    )
    warning = re.compile(rf"\[WARNING\]\t{TEXT_TS}\t\t" + re.escape(LAMBDA_WARNING))
    lines = _lines(result)
    # Once for the INIT phase and once for the suppressed init inside the invoke: each time the warning
    # (empty request-id field) comes immediately before the error report.
    positions = [index for index, line in enumerate(lines) if line == error_line]
    assert len(positions) == 2
    for index in positions:
        assert warning.fullmatch(lines[index - 1]), lines[index - 1]
    assert sum(1 for line in lines if "LAMBDA_WARNING" in line) == 2

    def init_report(phase: str) -> str:
        return (
            rf"INIT_REPORT Init Duration: \d+\.\d{{2}} ms\tPhase: {phase}\tStatus: error\t"
            r"Error Type: Runtime\.ImportModuleError"
        )

    assert len([line for line in lines if line.startswith("INIT_REPORT")]) == 2
    assert re.fullmatch(init_report("init"), lines[positions[0] + 1])
    assert re.fullmatch(init_report("invoke"), lines[positions[1] + 1])
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\t")
    assert lines[-1].endswith("\tStatus: error\tError Type: Runtime.ImportModuleError\t")
    assert "Init Duration" not in lines[-1]


def test_init_failure_repeats_on_next_invoke(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, 'raise RuntimeError("nope")\n')
    with LocalLambda([cfg]) as service:
        first = service.invoke("fn", b"{}")
        second = service.invoke("fn", b"{}")
    for result in (first, second):
        body = _error(result)
        assert (body["errorType"], body["errorMessage"], body["requestId"]) == ("RuntimeError", "nope", "")
    assert first.request_id != second.request_id


# --------------------------------------------------------------------------------------------------
# §2: environment variables
# --------------------------------------------------------------------------------------------------

ENV_HANDLER = """
    import os

    import layermod


    def handler(event, context):
        return {
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "layer": layermod.VALUE,
            "stream": context.log_stream_name,
        }
"""

AWS_KEYS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "LANG",
    "LC_CTYPE",
    "LD_LIBRARY_PATH",
    "PATH",
    "PWD",
    "PYTHONPATH",
    "TZ",
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
}


def _env_function(tmp_path: Path, **options: Any) -> FunctionConfig:
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True, exist_ok=True)
    (layer / "python" / "layermod.py").write_text('VALUE = "from-layer"\n')
    return python_function(tmp_path, ENV_HANDLER, layers=[layer], **options)


def test_environment_variables(tmp_path: Path) -> None:
    cfg = _env_function(tmp_path, memory_mb=256, environment={"USER_VAR": "user-value"})
    with LocalLambda([cfg]) as service:
        first = service.invoke("fn", b"{}")
        second = service.invoke("fn", b"{}")
        [info] = service.environments()
    assert first.function_error is None and second.function_error is None, first.payload
    answer = first.payload_json()
    env: dict[str, str] = answer["env"]
    code = str(cfg.code_dir)
    runtime_dir = str(PYTHON_RUNTIME_DIR)

    # Exactly AWS's set (§2.3) plus TMPDIR (lambench's stand-in for /tmp) and the user's variable; the layer
    # list lambench hands its runtime (_LAMBENCH_LAYERS) is consumed, not shown; SHLVL is tested below.
    assert set(env) == AWS_KEYS | {"TMPDIR", "USER_VAR", "SHLVL"}
    assert "_LAMBENCH_LAYERS" not in env
    assert answer["layer"] == "from-layer"

    expected = {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "LAMBDA_TASK_ROOT": code,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "PWD": code,
        "PYTHONPATH": runtime_dir,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "LC_CTYPE": "C.UTF-8",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_HANDLER": "app.handler",
        "TMPDIR": info.tmp_dir,
        "USER_VAR": "user-value",
        **FAKE_CREDENTIALS,
    }
    assert {key: env.get(key) for key in expected} == expected
    assert all(env[key] for key in FAKE_CREDENTIALS)
    assert answer["cwd"] == code
    assert re.fullmatch(r"127\.0\.0\.1:\d{1,5}", env["AWS_LAMBDA_RUNTIME_API"])
    assert re.fullmatch(LOG_STREAM, env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == answer["stream"] == info.log_stream

    # One stream for the environment's lifetime; a fresh trace header for every invocation.
    second_env: dict[str, str] = second.payload_json()["env"]
    assert second.environment_id == first.environment_id
    assert second_env["AWS_LAMBDA_LOG_STREAM_NAME"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert re.fullmatch(TRACE_ID, env["_X_AMZN_TRACE_ID"])
    assert re.fullmatch(TRACE_ID, second_env["_X_AMZN_TRACE_ID"])
    assert second_env["_X_AMZN_TRACE_ID"] != env["_X_AMZN_TRACE_ID"]


def test_user_values_for_reserved_variables_are_overridden(tmp_path: Path) -> None:
    cfg = _env_function(
        tmp_path,
        environment={
            "AWS_REGION": "eu-west-3",
            "AWS_LAMBDA_FUNCTION_NAME": "impostor",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "9999",
            "LAMBDA_TASK_ROOT": "/elsewhere",
            "TZ": "America/New_York",
            "LANG": "C.UTF-8",
        },
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    env: dict[str, str] = result.payload_json()["env"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["LAMBDA_TASK_ROOT"] == str(cfg.code_dir)
    assert env["TZ"] == ":UTC"
    # LANG is an unreserved default (§2.2): the user's value wins.
    assert env["LANG"] == "C.UTF-8"


def test_log_format_variables_follow_logging_config(tmp_path: Path) -> None:
    code = """
        import os


        def handler(event, context):
            return [os.environ.get("AWS_LAMBDA_LOG_FORMAT"), os.environ.get("AWS_LAMBDA_LOG_LEVEL")]
    """
    configs = [
        python_function(tmp_path, code, name="text"),
        python_function(tmp_path, code, name="json", logging=LoggingConfig(log_format="JSON")),
        python_function(
            tmp_path,
            code,
            name="debug",
            logging=LoggingConfig(log_format="JSON", application_log_level="DEBUG"),
        ),
    ]
    with LocalLambda(configs) as service:
        answers = {name: service.invoke(name, b"{}").payload_json() for name in ("text", "json", "debug")}
    assert answers == {"text": [None, None], "json": ["JSON", "INFO"], "debug": ["JSON", "DEBUG"]}


def test_shlvl_is_zero_as_on_aws(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        import os


        def handler(event, context):
            return os.environ.get("SHLVL")
        """,
    )
    with LocalLambda([cfg]) as service:
        assert service.invoke("fn", b"{}").payload_json() == "0"


# --------------------------------------------------------------------------------------------------
# §3.1: the context object
# --------------------------------------------------------------------------------------------------

CONTEXT_HANDLER = """
    import os
    import time


    def handler(event, context):
        first = context.get_remaining_time_in_millis()
        limit = time.monotonic() + 1.0
        second = context.get_remaining_time_in_millis()
        while second >= first and time.monotonic() < limit:
            second = context.get_remaining_time_in_millis()
        cc = context.client_context
        client = None if cc is None else cc.client
        return {
            "type": type(context).__name__,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "stream_env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "client_context_is_none": cc is None,
            "custom": None if cc is None else cc.custom,
            "env": None if cc is None else cc.env,
            "client": None if client is None else {
                name: getattr(client, name)
                for name in (
                    "installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"
                )
            },
            "identity": [
                type(context.identity).__name__,
                context.identity.cognito_identity_id,
                context.identity.cognito_identity_pool_id,
            ],
            "tenant_id": context.tenant_id,
            "remaining": [first, second],
            "repr": repr(context),
        }
"""


def test_context_attributes(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, CONTEXT_HANDLER, memory_mb=256, timeout_s=3)
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
        qualified = service.invoke("fn:$LATEST", b"{}")
    assert result.function_error is None, result.payload
    ctx = result.payload_json()
    assert ctx["type"] == "LambdaContext"
    assert ctx["aws_request_id"] == result.request_id
    assert ctx["log_group_name"] == "/aws/lambda/fn"
    assert re.fullmatch(LOG_STREAM, ctx["log_stream_name"])
    assert ctx["log_stream_name"] == ctx["stream_env"]
    assert ctx["function_name"] == "fn"
    assert ctx["function_version"] == "$LATEST"
    # A string, copied from the environment variable.
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["invoked_function_arn"] == f"{ARN}:fn"
    assert ctx["client_context_is_none"] is True
    assert ctx["identity"] == ["CognitoIdentity", None, None]
    assert ctx["tenant_id"] is None
    first, second = ctx["remaining"]
    assert 3000 - 500 <= first <= 3000
    assert 0 < second < first
    assert ctx["repr"] == (
        f"LambdaContext([aws_request_id={result.request_id},log_group_name=/aws/lambda/fn,"
        f"log_stream_name={ctx['log_stream_name']},function_name=fn,memory_limit_in_mb=256,"
        f"function_version=$LATEST,invoked_function_arn={ARN}:fn,client_context=None,"
        "identity=CognitoIdentity([cognito_identity_id=None,cognito_identity_pool_id=None]),tenant_id=None])"
    )
    assert qualified.payload_json()["invoked_function_arn"] == f"{ARN}:fn:$LATEST"
    assert qualified.payload_json()["aws_request_id"] == qualified.request_id


def test_context_client_context(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, CONTEXT_HANDLER)
    client = {
        "installation_id": "inst-1",
        "app_title": "Title",
        "app_version_name": "1.0",
        "app_version_code": "7",
        "app_package_name": "com.example",
    }
    with LocalLambda([cfg]) as service:
        full = service.invoke(
            "fn",
            b"{}",
            client_context={
                "custom": {"k": "v"},
                "env": {"platform": "Android", "locale": "en"},
                "client": client,
            },
        )
        partial = service.invoke(
            "fn", b"{}", client_context={"custom": {"k": "v"}, "client": {"installation_id": "inst-2"}}
        )
        custom_only = service.invoke("fn", b"{}", client_context={"custom": {"k": "v"}})
    ctx = full.payload_json()
    assert ctx["client_context_is_none"] is False
    assert ctx["custom"] == {"k": "v"}
    assert ctx["env"] == {"platform": "Android", "locale": "en"}
    assert ctx["client"] == client
    assert (
        "client_context=ClientContext([custom={'k': 'v'},env={'platform': 'Android', 'locale': 'en'},"
        "client=Client([installation_id=inst-1,app_title=Title,app_version_name=1.0,app_version_code=7,"
        "app_package_name=com.example])])" in ctx["repr"]
    )
    # Keys the caller left out read as None.
    ctx = partial.payload_json()
    assert ctx["env"] is None
    assert ctx["client"] == {
        "installation_id": "inst-2",
        "app_title": None,
        "app_version_name": None,
        "app_version_code": None,
        "app_package_name": None,
    }
    ctx = custom_only.payload_json()
    assert (ctx["custom"], ctx["env"], ctx["client"]) == ({"k": "v"}, None, None)


def test_context_log_writes_verbatim(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        def handler(event, context):
            context.log("first part, ")
            context.log("second part\\n")
            context.log(42)
            context.log("\\n")
            return None
        """,
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    assert _between_start_and_end(result) == ["first part, second part", "42"]


# --------------------------------------------------------------------------------------------------
# §4.5: JSON marshalling
# --------------------------------------------------------------------------------------------------

MARSHAL_HANDLER = """
    import decimal


    def handler(event, context):
        if event.get("none"):
            return None
        if event.get("bytes"):
            return b"raw \\xff bytes"
        if event.get("str"):
            return "plain"
        return {
            "price": decimal.Decimal("1.10"),
            "big": decimal.Decimal("12345678901234567890.123456789"),
            "dnan": decimal.Decimal("NaN"),
            "nan": float("nan"),
            "text": "h\\u00e9llo \\u2713",
            "none": None,
            "tuple": (1, 2),
        }
"""


def test_marshalling_python312(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, MARSHAL_HANDLER)
    with LocalLambda([cfg]) as service:
        rich = service.invoke("fn", b"{}")
        none = service.invoke("fn", b'{"none": true}')
        raw = service.invoke("fn", b'{"bytes": true}')
        text = service.invoke("fn", b'{"str": true}')
    assert rich.function_error is None, rich.payload
    # Decimals as raw numbers (digits kept), NaN allowed, non-ASCII as UTF-8 for python3.12.
    expected = (
        '{"price": 1.10, "big": 12345678901234567890.123456789, "dnan": NaN, "nan": NaN, '
        '"text": "h\u00e9llo \u2713", "none": null, "tuple": [1, 2]}'
    )
    assert rich.payload == expected.encode()
    assert rich.content_type == "application/json"
    assert (none.payload, none.content_type, none.function_error) == (b"null", "application/json", None)
    assert raw.function_error is None
    assert (raw.payload, raw.content_type) == (b"raw \xff bytes", "application/unknown")
    assert (text.payload, text.content_type) == (b'"plain"', "application/json")


def test_marshalling_python311_escapes_non_ascii(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, MARSHAL_HANDLER, runtime="python3.11")
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    assert result.payload == (
        b'{"price": 1.10, "big": 12345678901234567890.123456789, "dnan": NaN, "nan": NaN, '
        b'"text": "h\\u00e9llo \\u2713", "none": null, "tuple": [1, 2]}'
    )


# --------------------------------------------------------------------------------------------------
# §5.3 / §5.4: application log lines
# --------------------------------------------------------------------------------------------------

LOGGING_HANDLER = """
    import logging

    logging.getLogger().warning("during init")
    log = logging.getLogger("mine")


    def handler(event, context):
        print("printed line")
        logging.getLogger().debug("debug record")
        logging.getLogger().info("info record")
        logging.getLogger().warning("x")
        log.error("named %s", "logger")
        try:
            raise KeyError("kk")
        except KeyError:
            log.exception("caught it")
        return None
"""


def test_text_log_format(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, LOGGING_HANDLER)
    with LocalLambda([cfg]) as service:
        before = time.time()
        result = service.invoke("fn", b"{}")
        after = time.time()
    rid = result.request_id
    lines = _lines(result)
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    # During init the request-id field is empty.
    init_lines = [line for line in lines[:start] if line.startswith("[WARNING]")]
    assert len(init_lines) == 1
    assert re.fullmatch(rf"\[WARNING\]\t{TEXT_TS}\t\tduring init", init_lines[0])

    body = _between_start_and_end(result)
    assert body[0] == "printed line"
    # Root level stays WARNING in Text mode without a level: debug and info are dropped.
    assert "debug record" not in result.logs and "info record" not in result.logs
    match = re.fullmatch(rf"\[WARNING\]\t({TEXT_TS})\t{re.escape(rid)}\tx", body[1])
    assert match, body[1]
    # UTC: the stamp is the wall-clock time of the call, not local time.
    stamp = _utc_seconds(match.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
    assert before - 1 <= stamp <= after + 1
    assert re.fullmatch(rf"\[ERROR\]\t{TEXT_TS}\t{re.escape(rid)}\tnamed logger", body[2])
    assert re.fullmatch(rf"\[ERROR\]\t{TEXT_TS}\t{re.escape(rid)}\tcaught it", body[3])
    assert body[4] == "Traceback (most recent call last):"
    assert body[-1] == "KeyError: 'kk'"


def test_json_log_format(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path, LOGGING_HANDLER, logging=LoggingConfig(log_format="JSON", application_log_level="DEBUG")
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    rid = result.request_id
    lines = _lines(result)
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    [init_record] = _json_records(lines[:start])
    assert list(init_record) == ["timestamp", "level", "message", "logger", "requestId"]
    assert (init_record["level"], init_record["message"], init_record["logger"]) == (
        "WARNING",
        "during init",
        "root",
    )

    body = _between_start_and_end(result)
    # print() output is not converted.
    assert body[0] == "printed line"
    records = _json_records(body)
    assert len(records) == len(body) - 1
    for record in records:
        assert re.fullmatch(JSON_TS, record["timestamp"]), record
        assert record["requestId"] == rid
    plain = [
        {key: value for key, value in record.items() if key != "timestamp"}
        for record in records
        if "stackTrace" not in record
    ]
    assert plain == [
        {"level": "DEBUG", "message": "debug record", "logger": "root", "requestId": rid},
        {"level": "INFO", "message": "info record", "logger": "root", "requestId": rid},
        {"level": "WARNING", "message": "x", "logger": "root", "requestId": rid},
        {"level": "ERROR", "message": "named logger", "logger": "mine", "requestId": rid},
    ]
    simple_keys = ["timestamp", "level", "message", "logger", "requestId"]
    assert all(list(record) == simple_keys for record in records[:4])
    [failure] = [record for record in records if "stackTrace" in record]
    path = _app(cfg)
    assert {key: value for key, value in failure.items() if key != "timestamp"} == {
        "level": "ERROR",
        "message": "caught it",
        "logger": "mine",
        "stackTrace": [
            f'  File "{path}", line {_line_no(cfg, "raise KeyError")}, in handler\n    raise KeyError("kk")\n'
        ],
        "errorType": "KeyError",
        "errorMessage": "'kk'",
        "requestId": rid,
        "location": f"{path}:handler:{_line_no(cfg, 'log.exception')}",
    }


def test_json_log_default_level_is_info_and_extra_is_merged(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        import logging


        def handler(event, context):
            logging.getLogger().debug("hidden")
            logging.getLogger().info("shown", extra={"orderId": 7, "dropped": None})
            logging.getLogger().log(25, "between levels")
            return None
        """,
        logging=LoggingConfig(log_format="JSON"),
    )
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    assert "hidden" not in result.logs
    records = _json_records(_between_start_and_end(result))
    assert [{key: value for key, value in record.items() if key != "timestamp"} for record in records] == [
        {"level": "INFO", "message": "shown", "logger": "root", "requestId": result.request_id, "orderId": 7},
        # Levels are normalised to the multiple of ten below.
        {"level": "INFO", "message": "between levels", "logger": "root", "requestId": result.request_id},
    ]


def test_json_mode_unhandled_error_record(tmp_path: Path) -> None:
    cfg = python_function(tmp_path, HANDLER_RAISES, logging=LoggingConfig(log_format="JSON"))
    with LocalLambda([cfg]) as service:
        result = service.invoke("fn", b"{}")
    body = _error(result)
    [line] = _between_start_and_end(result)
    record = json.loads(line)
    assert list(record) == ["timestamp", "level", *ERROR_KEYS]
    assert re.fullmatch(JSON_TS, record["timestamp"])
    assert record["level"] == "ERROR"
    assert {key: record[key] for key in ERROR_KEYS} == body
    assert "[ERROR]" not in result.logs


# --------------------------------------------------------------------------------------------------
# §5.6: LogType=Tail
# --------------------------------------------------------------------------------------------------


def test_tail_is_last_4096_bytes_of_the_log(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        def handler(event, context):
            for index in range(event["lines"]):
                print(f"line {index:04d} " + "\\u00e9" * 30)
            return None
        """,
    )
    with LocalLambda([cfg]) as service:
        long = service.invoke("fn", b'{"lines": 200}', log_type="Tail")
        short = service.invoke("fn", b'{"lines": 1}', log_type="Tail")
        untailed = service.invoke("fn", b'{"lines": 1}')
    assert long.log_result is not None and short.log_result is not None
    data = base64.b64decode(long.log_result, validate=True)
    log_bytes = long.logs.encode("utf-8")
    assert len(log_bytes) > 4096
    assert data == log_bytes[-4096:]
    report = _lines(long)[-1]
    assert report.startswith(f"REPORT RequestId: {long.request_id}\tDuration: ")
    assert data.endswith((report + "\n").encode())
    # A short log is returned whole (warm: START to REPORT).
    short_data = base64.b64decode(short.log_result, validate=True).decode("utf-8")
    assert short_data == short.logs
    assert short_data.startswith(f"START RequestId: {short.request_id} Version: $LATEST\n")
    assert f"\nREPORT RequestId: {short.request_id}\t" in short_data
    assert untailed.log_result is None


# --------------------------------------------------------------------------------------------------
# Warm reuse
# --------------------------------------------------------------------------------------------------


def test_warm_environment_keeps_module_state(tmp_path: Path) -> None:
    cfg = python_function(
        tmp_path,
        """
        COUNT = 0


        def handler(event, context):
            global COUNT
            COUNT += 1
            return COUNT
        """,
    )
    with LocalLambda([cfg]) as service:
        results = [service.invoke("fn", b"{}") for _ in range(3)]
        assert len(service.environments()) == 1
    assert [result.payload_json() for result in results] == [1, 2, 3]
    assert [result.figures.cold for result in results] == [True, False, False]
    assert results[0].figures.init_duration_ms is not None and results[0].figures.init_duration_ms > 0
    assert [result.figures.init_duration_ms for result in results[1:]] == [None, None]
    assert len({result.environment_id for result in results}) == 1
    assert results[0].logs.startswith("INIT_START Runtime Version: python:3.12.v")
    assert "\tInit Duration: " in _lines(results[0])[-1]
    for result in results[1:]:
        assert result.logs.startswith(f"START RequestId: {result.request_id} Version: $LATEST\n")
        assert "INIT_START" not in result.logs and "Init Duration" not in result.logs
