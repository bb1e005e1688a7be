"""The platform's own log lines (START, END, REPORT, INIT_START, INIT_REPORT) and billing.

Formats follow lambda-facts §5.2 to the character, billing §6: durations rounded up to the next
millisecond, with the init phase billed on cold starts of on-demand environments (since Aug 2025).
"""

from __future__ import annotations

import math
import sys
import time

from lambench.core.digests import sha256_hex
from lambench.core.record import record, replace
from lambench.core.runtime.figures import ERROR, SUCCESS, InvocationFigures


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    """Billed milliseconds: ceil(duration + init), never below 1 ms (lambda-facts §6)."""
    total = duration_ms + (init_duration_ms or 0.0)
    # Round to microseconds first so float noise (5.0000000001) does not bill an extra millisecond.
    return max(1, math.ceil(round(total, 3)))


def runtime_version(runtime: str) -> str:
    """The `Runtime Version` of INIT_START: `python:3.12.v<N>` / `nodejs:20.v<N>` / `provided:al2023.v<N>`.

    lambench names its own build `v1`; the shape is AWS's, so log parsers keep working.
    """
    family, _, rest = runtime.partition("python")
    if not family and rest:
        return f"python:{rest}.v1"
    if runtime.startswith("nodejs"):
        # `nodejs20.x` -> `nodejs:20.v1` (AWS: `nodejs:20.v32`).
        return f"nodejs:{runtime.removeprefix('nodejs').split('.')[0]}.v1"
    base, _, flavour = runtime.partition(".")
    return f"{base}:{flavour or 'al'}.v1"


def runtime_version_arn(runtime: str, region: str) -> str:
    """`arn:aws:lambda:<region>::runtime:<64 hex>`, stable for one runtime on one interpreter."""
    digest = sha256_hex(f"lambench:{runtime}:{sys.version}".encode())
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def init_start_line(runtime: str, region: str) -> str:
    """`INIT_START Runtime Version: <rt>:<ver>.v<N>\\tRuntime Version ARN: <arn>`."""
    return (
        f"INIT_START Runtime Version: {runtime_version(runtime)}\t"
        f"Runtime Version ARN: {runtime_version_arn(runtime, region)}"
    )


def start_line(request_id: str, version: str) -> str:
    """`START RequestId: <id> Version: <version>` (one space before Version)."""
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    """`END RequestId: <id>`."""
    return f"END RequestId: {request_id}"


@record(frozen=True)
class Report:
    """One REPORT line: the request and its figures.

    The line's `Status` field is `figures.status` where that is `timeout` or `error`; it is only
    ever set for the platform's errors (a function's own error leaves it out), so a line read back
    has status `success` where it has no Status at all.
    """

    request_id: str
    figures: InvocationFigures

    def line(self) -> str:
        """The REPORT line: every field followed by a tab, in AWS's order (lambda-facts §5.2)."""
        figures = self.figures
        parts = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {figures.duration_ms:.2f} ms",
            f"Billed Duration: {figures.billed_duration_ms} ms",
            f"Memory Size: {figures.memory_size_mb} MB",
            f"Max Memory Used: {figures.max_memory_used_mb} MB",
        ]
        if figures.init_duration_ms is not None:
            parts.append(f"Init Duration: {figures.init_duration_ms:.2f} ms")
        if figures.status != SUCCESS:
            parts.append(f"Status: {figures.status}")
            if figures.status == ERROR and figures.error_type is not None:
                parts.append(f"Error Type: {figures.error_type}")
        return "\t".join(parts) + "\t"


def report_line(request_id: str, figures: InvocationFigures, *, platform: bool) -> str:
    """The REPORT line of an invocation the engine ran; `platform` is False for a function's own error."""
    shown = figures if platform else replace(figures, status=SUCCESS, error_type=None)
    return Report(request_id, shown).line()


def init_report_line(init_duration_ms: float, phase: str, status: str, error_type: str | None) -> str:
    """`INIT_REPORT Init Duration: X ms\\tPhase: init|invoke\\tStatus: error|timeout[\\tError Type: T]`."""
    line = f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type is not None:
        line += f"\tError Type: {error_type}"
    return line


def timed_out_line(request_id: str, timeout_s: float, when: float | None = None) -> str:
    """`<ISO timestamp> <request id> Task timed out after N.NN seconds`, logged before END.

    The plain-text form of this line in the Sandbox.Timedout era is unconfirmed (lambda-facts §14
    item 4); lambench keeps the long-standing form.
    """
    return f"{iso_timestamp(when)} {request_id} Task timed out after {timeout_s:.2f} seconds"


def iso_timestamp(when: float | None = None) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC."""
    now = time.time() if when is None else when
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
