"""Platform log lines and billing, character for character (lambda-facts §5.2, §6)."""

from __future__ import annotations

import re

from lambench.core.runtime import errors, platform_logs
from lambench.core.runtime.figures import InvocationFigures
from lambench.core.runtime.identifiers import log_stream_name, new_trace_header


def test_report_line_with_init_duration() -> None:
    report = platform_logs.Report("id-1", InvocationFigures(3.012, 4, 128, 36, init_duration_ms=110.1))
    assert report.line() == (
        "REPORT RequestId: id-1\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 36 MB\tInit Duration: 110.10 ms\t"
    )


def test_report_line_timeout_and_error_forms() -> None:
    timeout = platform_logs.Report(
        "r", InvocationFigures(3000.0, 3403, 128, 73, init_duration_ms=402.04, status="timeout")
    )
    assert timeout.line().endswith("Max Memory Used: 73 MB\tInit Duration: 402.04 ms\tStatus: timeout\t")
    oom = platform_logs.Report(
        "r", InvocationFigures(12.5, 13, 1024, 1024, status="error", error_type="Runtime.OutOfMemory")
    )
    assert oom.line().endswith("Max Memory Used: 1024 MB\tStatus: error\tError Type: Runtime.OutOfMemory\t")


def test_start_end_init_lines() -> None:
    assert platform_logs.start_line("abc", "$LATEST") == "START RequestId: abc Version: $LATEST"
    assert platform_logs.end_line("abc") == "END RequestId: abc"
    assert platform_logs.init_report_line(150.789, "init", "error", "Runtime.UserCodeSyntaxError") == (
        "INIT_REPORT Init Duration: 150.79 ms\tPhase: init\tStatus: error\t"
        "Error Type: Runtime.UserCodeSyntaxError"
    )
    assert platform_logs.init_report_line(10007.333, "invoke", "timeout", None) == (
        "INIT_REPORT Init Duration: 10007.33 ms\tPhase: invoke\tStatus: timeout"
    )
    line = platform_logs.init_start_line("python3.12", "eu-west-1")
    assert re.fullmatch(
        r"INIT_START Runtime Version: python:3\.12\.v\d+\tRuntime Version ARN: "
        r"arn:aws:lambda:eu-west-1::runtime:[0-9a-f]{64}",
        line,
    )
    assert platform_logs.init_start_line("provided.al2023", "us-east-1").startswith(
        "INIT_START Runtime Version: provided:al2023.v"
    )


def test_billing_rounds_up_to_the_millisecond_and_bills_init() -> None:
    assert platform_logs.billed_duration_ms(592.21) == 593
    assert platform_logs.billed_duration_ms(3000.0, 402.04) == 3403
    assert platform_logs.billed_duration_ms(5.0) == 5
    assert platform_logs.billed_duration_ms(5.0000000001) == 5
    assert platform_logs.billed_duration_ms(0.2) == 1


def test_timed_out_line_and_messages() -> None:
    line = platform_logs.timed_out_line("rid", 3, when=0.5)
    assert line == "1970-01-01T00:00:00.500Z rid Task timed out after 3.00 seconds"
    assert errors.timeout_message("rid", 1) == "RequestId: rid Error: Task timed out after 1.00 seconds"
    assert (
        errors.exit_error_message("rid", 0)
        == "RequestId: rid Error: Runtime exited without providing a reason"
    )
    assert (
        errors.exit_error_message("rid", 127)
        == "RequestId: rid Error: Runtime exited with error: exit status 127"
    )
    assert (
        errors.exit_error_message("rid", -9)
        == "RequestId: rid Error: Runtime exited with error: signal: killed"
    )
    assert errors.exit_error_message("rid", -11) == (
        "RequestId: rid Error: Runtime exited with error: signal: segmentation fault"
    )


def test_identifier_shapes() -> None:
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", log_stream_name("$LATEST", "a" * 32))
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", new_trace_header())


def test_the_runtime_version_arn_is_the_sha256_of_runtime_and_interpreter() -> None:
    import hashlib
    import sys

    from lambench.core.runtime.platform_logs import runtime_version_arn

    digest = hashlib.sha256(f"lambench:python3.12:{sys.version}".encode()).hexdigest()
    assert runtime_version_arn("python3.12", "eu-west-1") == f"arn:aws:lambda:eu-west-1::runtime:{digest}"
