"""lambench's Node.js runtime as a handler sees it, asserted against lambda-facts (§3.2, §4.3, §4.4, §5.3b).

Every test runs real `node` processes behind the real engine: handler styles and module kinds,
every error type with its exact text, the context, callbackWaitsForEmptyEventLoop, logs, timeouts,
memory, layers, the environment, and the node version check.
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambench.core.config import FunctionConfig, LoggingConfig
from lambench.core.runtime.invoke_api import InvokeResult
from lambench.core.runtime.service import LocalLambda

TEXT_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def node_function(
    tmp_path: Path, files: dict[str, str], handler: str = "index.handler", *, name: str = "fn", **options: Any
) -> FunctionConfig:
    """Write `files` (relative path -> source) into a fresh code directory and describe the function."""
    code = tmp_path / name
    for relative, text in files.items():
        target = code / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    options.setdefault("runtime", "nodejs20.x")
    return FunctionConfig.create(name=name, handler=handler, code_dir=code, **options)


def invoke(service: LocalLambda, name: str = "fn", event: Any = None) -> tuple[InvokeResult, Any, str]:
    """(result, payload as JSON, the invocation's log text)."""
    result = service.invoke(name, json.dumps(event if event is not None else {}), log_type="Tail")
    log = base64.b64decode(result.log_result).decode() if result.log_result else ""
    return result, json.loads(result.payload), log


@pytest.fixture
def one(tmp_path: Path) -> Iterator[Any]:
    """`one(files, handler, **options)`: a LocalLambda serving that one function, closed after the test."""
    services: list[LocalLambda] = []

    def build(files: dict[str, str], handler: str = "index.handler", **options: Any) -> LocalLambda:
        service = LocalLambda([node_function(tmp_path, files, handler, **options)])
        services.append(service)
        return service

    yield build
    for service in services:
        service.close()


# -- handler styles and module kinds ------------------------------------------------------------


def test_an_async_handler_sees_every_context_field_and_keeps_globals_warm(one: Any) -> None:
    service = one(
        {
            "index.js": """
            let count = 0;
            exports.handler = async (event, context) => {
              count += 1;
              const { getRemainingTimeInMillis, succeed, fail, done, ...fields } = context;
              return { count, event, fields, remaining: getRemainingTimeInMillis(),
                       kinds: [typeof getRemainingTimeInMillis, typeof succeed, typeof fail, typeof done] };
            };
            """
        },
        timeout_s=5,
    )
    result, first, _ = invoke(service, event={"a": 1})
    assert result.status_code == 200 and result.function_error is None
    fields = first["fields"]
    assert fields["callbackWaitsForEmptyEventLoop"] is True
    assert (fields["functionName"], fields["functionVersion"], fields["memoryLimitInMB"]) == (
        "fn",
        "$LATEST",
        "128",
    )
    assert fields["logGroupName"] == "/aws/lambda/fn"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", fields["logStreamName"])
    assert fields["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert fields["awsRequestId"] == result.request_id
    assert "clientContext" not in fields and "identity" not in fields  # undefined: left out by JSON
    assert 4000 < first["remaining"] <= 5000
    assert first["kinds"] == ["function"] * 4
    assert first["event"] == {"a": 1}
    _, second, _ = invoke(service)
    assert second["count"] == 2  # the same environment, its module state kept


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"app.mjs": "export const handler = async () => ({ kind: 'mjs' });"}, "app.handler"),
        (
            {
                "package.json": '{"type": "module"}',
                "app.js": "export const handler = async () => ({ kind: 'esm js' });",
            },
            "app.handler",
        ),
        ({"app.cjs": "module.exports.handler = async () => ({ kind: 'cjs' });"}, "app.handler"),
        (
            {"src/deep/app.js": "exports.main = { fn: async () => ({ kind: 'nested' }) };"},
            "src/deep/app.main.fn",
        ),
    ],
)
def test_commonjs_es_modules_and_handlers_in_subdirectories(
    one: Any, files: dict[str, str], handler: str
) -> None:
    result, payload, _ = invoke(one(files, handler))
    assert result.function_error is None, payload
    assert payload["kind"] in ("mjs", "esm js", "cjs", "nested")


def test_a_callback_waits_for_the_event_loop_unless_told_not_to(one: Any) -> None:
    service = one(
        {
            "index.js": """
            let fired = [];
            exports.handler = (event, context, callback) => {
              context.callbackWaitsForEmptyEventLoop = event.wait;
              setTimeout(() => fired.push(event.n), 300);
              callback(null, { fired: [...fired] });
            };
            exports.peek = (event, context, callback) => callback(null, fired);
            """
        }
    )
    started = time.monotonic()
    result, payload, _ = invoke(service, event={"wait": True, "n": 1})
    assert time.monotonic() - started >= 0.29  # answered once the timer ran
    assert result.figures.duration_ms >= 290
    started = time.monotonic()
    result, payload, _ = invoke(service, event={"wait": False, "n": 2})
    assert time.monotonic() - started < 0.25 and result.function_error is None
    # The timer of the second invocation was frozen with the environment, as on AWS; it runs
    # during the next one.
    assert payload == {"fired": [1]}


def test_done_succeed_and_fail_answer_at_once(one: Any) -> None:
    service = one(
        {
            "index.js": """
            exports.handler = (event, context) => {
              setTimeout(() => {}, 2000);
              if (event.how === 'succeed') context.succeed({ ok: 1 });
              else if (event.how === 'done') context.done(null, 'fine');
              else if (event.how === 'fail') context.fail(new Error('nope'));
              else context.fail();
            };
            """
        }
    )
    started = time.monotonic()
    assert invoke(service, event={"how": "succeed"})[1] == {"ok": 1}
    assert invoke(service, event={"how": "done"})[1] == "fine"
    result, payload, _ = invoke(service, event={"how": "fail"})
    assert (result.function_error, payload["errorType"], payload["errorMessage"]) == (
        "Unhandled",
        "Error",
        "nope",
    )
    _, handled, _ = invoke(service, event={"how": "bare"})
    assert handled == {"errorType": "string", "errorMessage": "handled", "trace": []}
    assert time.monotonic() - started < 1.5  # none waited for the 2 s timers


def test_a_handler_that_never_answers(one: Any) -> None:
    service = one(
        {
            "index.js": """
            exports.quiet = (event, context) => {};
            exports.stuck = async () => new Promise(() => {});
            """
        },
        "index.quiet",
    )
    assert invoke(service)[1] is None
    stuck = one({"index.js": "exports.stuck = async () => new Promise(() => {});"}, "index.stuck")
    _, payload, _ = invoke(stuck)
    assert payload["errorType"] == "Runtime.NodeJsExit"
    assert payload["errorMessage"] == (
        "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused "
        "by a Promise that was never settled. For more information, see "
        "https://nodejs.org/docs/latest/api/process.html#exit-codes"
    )


# -- errors -------------------------------------------------------------------------------------


def test_a_thrown_error_is_posted_with_its_trace_and_logged_as_invoke_error(one: Any) -> None:
    service = one({"index.js": "exports.handler = async () => { throw new TypeError('bad thing'); };"})
    result, payload, log = invoke(service)
    assert result.function_error == "Unhandled"
    assert list(payload) == ["errorType", "errorMessage", "trace"]
    assert (payload["errorType"], payload["errorMessage"]) == ("TypeError", "bad thing")
    assert payload["trace"][0] == "TypeError: bad thing"
    assert payload["trace"][1].startswith("    at ") and "index.js:1:" in payload["trace"][1]
    line = next(line for line in log.splitlines() if "Invoke Error" in line)
    match = re.fullmatch(rf"({TEXT_TS})\t({UUID})\tERROR\tInvoke Error \t(\{{.*\}})", line)
    assert match, line
    assert match.group(2) == result.request_id
    logged = json.loads(match.group(3))
    assert list(logged) == ["errorType", "errorMessage", "stack"]
    assert logged["stack"] == payload["trace"]


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            {"index.js": ""},
            "../index.handler",
            "Runtime.MalformedHandlerName",
            "'../index.handler' is not a valid handler name. Use absolute paths when specifying root "
            "directories in handler names.",
        ),
        (
            {"index.js": ""},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'\nRequire stack:\n- /var/runtime/index.mjs",
        ),
        (
            {"index.js": "exports.other = 1;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.js": "exports.handler = 42;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
        ),
        (
            {"index.js": "exports.handler = ("},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected end of input",
        ),
        (
            {"index.mjs": "export const handler = ("},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected end of input",
        ),
    ],
)
def test_init_errors_have_aws_types_and_messages(
    one: Any, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    result, payload, log = invoke(one(files, handler))
    assert result.function_error == "Unhandled"
    assert (payload["errorType"], payload["errorMessage"]) == (error_type, message)
    assert isinstance(payload["trace"], list)
    # Logged before any invocation: the request id field is the literal `undefined`.
    assert re.search(
        rf"{TEXT_TS}\tundefined\tERROR\tUncaught Exception \t\{{\"errorType\":\"{re.escape(error_type)}\"",
        log,
    ), log


def test_a_missing_dependency_inside_the_module_is_an_import_module_error(one: Any) -> None:
    _, payload, _ = invoke(one({"index.js": "require('not-installed'); exports.handler = async () => 1;"}))
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"].startswith("Error: Cannot find module 'not-installed'\nRequire stack:\n- ")


def test_an_uncaught_exception_and_an_unhandled_rejection_end_the_runtime(one: Any) -> None:
    service = one(
        {
            "index.js": """
            let invocations = 0;
            exports.handler = async (event) => {
              invocations += 1;
              if (event.throwLater) setTimeout(() => { throw new RangeError('later'); }, 0);
              if (event.reject) Promise.reject(new Error('boom'));
              if (event.throwLater || event.reject) await new Promise((resolve) => setTimeout(resolve, 1000));
              return invocations;
            };
            """
        }
    )
    _, payload, log = invoke(service, event={"throwLater": True})
    assert (payload["errorType"], payload["errorMessage"]) == ("RangeError", "later")
    assert "\tERROR\tUncaught Exception \t{" in log
    assert invoke(service)[1] == 1  # a fresh runtime: its counter started again
    _, payload, log = invoke(service, event={"reject": True})
    assert (payload["errorType"], payload["errorMessage"]) == (
        "Runtime.UnhandledPromiseRejection",
        "Error: boom",
    )
    assert "\tERROR\tUnhandled Promise Rejection \t{" in log
    assert invoke(service)[1] == 1


# -- logs, environment, limits ------------------------------------------------------------------


def test_console_lines_carry_timestamp_request_id_and_level(one: Any) -> None:
    service = one(
        {
            "index.js": """
            console.log('at init');
            exports.handler = async () => {
              console.log('plain', { a: 1 });
              console.info('two\\nlines');
              console.warn('careful');
              console.error('bad');
              console.debug('detail');
              console.trace('fine');
              console.log();
              return null;
            };
            """
        }
    )
    result, _, log = invoke(service)
    rid = result.request_id
    lines = [line for line in log.split("\n") if re.match(TEXT_TS, line)]
    assert [re.sub(rf"^{TEXT_TS}\t", "", line) for line in lines] == [
        "undefined\tINFO\tat init",
        f"{rid}\tINFO\tplain {{ a: 1 }}",
        f"{rid}\tINFO\ttwo\rlines",
        f"{rid}\tWARN\tcareful",
        f"{rid}\tERROR\tbad",
        f"{rid}\tDEBUG\tdetail",
        f"{rid}\tTRACE\tfine",
        f"{rid}\tINFO\tundefined",
    ]


def test_json_log_format_and_level(one: Any) -> None:
    service = one(
        {
            "index.js": "exports.handler = async () => {\n"
            "  console.debug('hidden');\n"
            "  console.info('shown', 2);\n"
            "  console.error(new Error('e'));\n"
            "  return 1;\n"
            "};"
        },
        logging=LoggingConfig(log_format="JSON", application_log_level="INFO"),
    )
    result, _, log = invoke(service)
    records = [json.loads(line) for line in log.splitlines() if line.startswith('{"timestamp"')]
    assert [r["level"] for r in records] == ["INFO", "ERROR"]
    assert list(records[0]) == ["timestamp", "level", "requestId", "message"]
    assert records[0]["message"] == "shown 2" and records[0]["requestId"] == result.request_id
    assert records[1]["message"]["errorType"] == "Error" and records[1]["message"]["errorMessage"] == "e"


def test_the_environment_is_awss_for_node(one: Any, tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    (layer / "nodejs" / "node_modules" / "greeting").mkdir(parents=True)
    (layer / "nodejs" / "node_modules" / "greeting" / "index.js").write_text(
        "module.exports = 'from a layer';"
    )
    service = one(
        {
            "index.js": """
            const greeting = require('greeting');
            const fs = require('fs');
            const path = require('path');
            exports.handler = async () => {
              const file = path.join(require('os').tmpdir(), 'kept.txt');
              fs.appendFileSync(file, 'x');
              return { greeting, tmp: fs.readFileSync(file, 'utf8'), env: process.env };
            };
            """
        },
        layers=[layer],
        environment={"NODE_OPTIONS": "--max-http-header-size=20000"},
    )
    _, payload, _ = invoke(service)
    env = payload["env"]
    assert payload["greeting"] == "from a layer"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_HANDLER"] == "index.handler"
    assert env["NODE_PATH"].split(":")[:2] == [
        str(layer / "nodejs" / "node20" / "node_modules"),
        str(layer / "nodejs" / "node_modules"),
    ]
    assert env["NODE_PATH"].endswith(":" + env["LAMBDA_TASK_ROOT"])
    assert env["NODE_OPTIONS"] == "--max-http-header-size=20000"
    assert "PYTHONPATH" not in env and "_LAMBENCH_RUNTIME_API_FD" not in env
    assert invoke(service)[1]["tmp"] == "xx"  # /tmp is kept across warm invokes


def test_a_timeout_resets_the_runtime_and_its_globals(one: Any) -> None:
    service = one(
        {
            "index.js": """
            let count = 0;
            exports.handler = async (event) => {
              count += 1;
              if (event.hang) await new Promise((resolve) => setTimeout(resolve, 5000));
              return count;
            };
            """
        },
        timeout_s=1,
    )
    assert invoke(service)[1] == 1
    _, payload, log = invoke(service, event={"hang": True})
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in log
    assert invoke(service)[1] == 1  # the module was loaded again


def test_memory_over_the_limit_is_an_out_of_memory_kill(one: Any) -> None:
    service = one(
        {
            "index.js": "exports.handler = async () => {\n"
            "  const keep = [];\n"
            "  for (;;) keep.push(Buffer.alloc(16 << 20, 1));\n"
            "};"
        },
        memory_mb=128,
        timeout_s=20,
    )
    result, payload, _ = invoke(service)
    assert payload["errorType"] == "Runtime.OutOfMemory"
    assert result.figures.max_memory_used_mb is not None and result.figures.max_memory_used_mb >= 128


def test_a_node_version_other_than_the_runtimes_is_a_warning_or_strictly_an_error(
    one: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"index.js": "exports.handler = async () => process.version;"}
    result, payload, log = invoke(one(files, runtime="nodejs18.x"))
    assert result.function_error is None and payload.startswith("v")
    assert re.search(
        r"lambench: WARNING: nodejs18\.x function running on node v\d+\.\d+\.\d+ \(.*\); install Node\.js 18",
        log,
    )
    monkeypatch.setenv("LAMBENCH_STRICT_RUNTIME", "1")
    result, payload, log = invoke(one(files, runtime="nodejs18.x", name="strict"), "strict")
    assert result.function_error == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    assert "lambench: --strict-runtime: nodejs18.x function running on node" in log


def test_a_missing_node_says_how_to_install_it(one: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBENCH_NODE", "/nonexistent/node")
    result, payload, log = invoke(one({"index.js": "exports.handler = async () => 1;"}))
    assert result.function_error == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    line = next(line for line in log.splitlines() if line.startswith("lambench: "))
    assert line.startswith(
        "lambench: Node.js functions need node, and there is "
        "LAMBENCH_NODE='/nonexistent/node' is not an executable"
    )
    assert "apt-get install nodejs" in line


def test_a_saved_mjs_handler_serves_the_next_invoke(tmp_path: Path) -> None:
    from lambench.core.reload import HotReloader
    from lambench.core.template import load_project
    from tests.helpers import wait_for

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "app.mjs").write_text("export const handler = async () => 'first';\n")
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Web:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {FunctionName: web, CodeUri: web/, Handler: app.handler, Runtime: nodejs20.x}\n"
    )
    project = load_project(tmp_path)
    with LocalLambda(project.functions.values()) as service:
        reloader = HotReloader(
            service, project_dir=tmp_path, template=template, deployments=project.deployments
        )
        reloader.start()
        try:
            assert invoke(service, "web")[1] == "first"
            (tmp_path / "web" / "app.mjs").write_text("export const handler = async () => 'second';\n")
            assert wait_for(lambda: invoke(service, "web")[1] == "second", timeout=15)
        finally:
            reloader.close()


def test_a_streaming_handler_answers_what_it_wrote(one: Any) -> None:
    service = one(
        {
            "index.mjs": """
            export const handler = awslambda.streamifyResponse(async (event, stream) => {
              stream.setContentType('text/csv');
              stream.write('a,b\\n');
              stream.write(Buffer.from('1,2\\n'));
              stream.end();
            });
            export const sync = awslambda.streamifyResponse((event, stream) => {});
            export const open = awslambda.streamifyResponse(async (event, stream) => { stream.write('x'); });
            """
        }
    )
    result = service.invoke("fn", b"{}")
    assert (result.function_error, result.payload, result.content_type) == (None, b"a,b\n1,2\n", "text/csv")
    for handler, message in (
        ("sync", "Streaming does not support non-async handlers."),
        ("open", "Response stream is not finished."),
    ):
        other = one(
            {"index.mjs": (Path(service.get_function("fn").code_dir) / "index.mjs").read_text()},
            f"index.{handler}",
            name=handler,
        )
        _, payload, _ = invoke(other, handler)
        assert (payload["errorType"], payload["errorMessage"]) == ("Error", message)


def test_the_functions_own_node_modules_are_found(one: Any) -> None:
    service = one(
        {
            "node_modules/left-pad/package.json": '{"name": "left-pad", "main": "lib.js"}',
            "node_modules/left-pad/lib.js": "module.exports = (s, n) => String(s).padStart(n, '0');",
            "src/index.mjs": "import pad from 'left-pad';\nexport const handler = async () => pad(7, 3);",
        },
        "src/index.handler",
    )
    result, payload, _ = invoke(service)
    assert (result.function_error, payload) == (None, "007")


def test_invoke_with_response_stream_reads_a_streaming_handler_through_the_account(tmp_path: Path) -> None:
    from lambench.core.backends.local import LocalBackend
    from tests.helpers import account_client

    streamer = node_function(
        tmp_path,
        {
            "index.mjs": """
            export const handler = awslambda.streamifyResponse(async (event, stream) => {
              stream.setContentType('text/csv');
              stream.write('a,b\\\\n');
              stream.end('1,2\\\\n');
            });
            export const broken = awslambda.streamifyResponse(async () => { throw new Error('no stream'); });
            """
        },
        name="streamer",
    )
    broken = FunctionConfig.create(
        name="broken", handler="index.broken", code_dir=streamer.code_dir, runtime="nodejs20.x"
    )
    with LocalBackend([streamer, broken], project_dir=tmp_path, share=False, log_store=False) as backend:
        backend.account.start()
        client = account_client(backend, "lambda")
        answer = client.invoke_with_response_stream(FunctionName="streamer", Payload=b"{}")
        assert answer["StatusCode"] == 200 and answer["ResponseStreamContentType"] == "text/csv"
        events = list(answer["EventStream"])
        chunks = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
        assert chunks == b"a,b\\n1,2\\n"
        assert "InvokeComplete" in events[-1] and "ErrorCode" not in events[-1]["InvokeComplete"]
        failed = list(client.invoke_with_response_stream(FunctionName="broken", Payload=b"{}")["EventStream"])
        complete = failed[-1]["InvokeComplete"]
        assert complete["ErrorCode"] == "Error"
        assert json.loads(complete["ErrorDetails"])["errorMessage"] == "no stream"
