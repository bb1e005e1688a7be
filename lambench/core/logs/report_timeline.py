"""The invocation timeline rebuilt from log lines alone, for functions lambench does not run.

A real account shows lambench nothing but its logs, and those say enough (lambda-facts §5):
each log stream is one execution environment (`YYYY/MM/DD/[<version>]<hex>`), INIT_START opens
its init, START opens an invocation, and REPORT closes it with its duration, billed duration,
memory, `Init Duration` on a cold start, and `Status: timeout` or `Status: error` + `Error Type`
on a failure of the platform. A handler's own uncaught error is not in the REPORT: the runtime's
error line says it (`[ERROR] ValueError: ...` in Python, `Invoke Error` in Node, the Python
runtime's JSON record). `ReportTimeline` turns those lines, text or JSON, into the lifecycle records the
local engine publishes and feeds them to a `Timeline`, so the concurrency and cold-start views
work the same for both backends.

Where a line is missing (the tail began mid-invocation, a `LogType=Tail` excerpt), REPORT alone
is enough: the invocation started `Duration` before it, and init ended where it started and
lasted `Init Duration`. Logs cannot show when an environment is shut down, nor (in text format)
whether it was provisioned, so those stay unknown.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict

from lambench.core.logs.model import LogLine
from lambench.core.logs.parse import parse_report
from lambench.core.record import record, replace
from lambench.core.runtime.figures import ERROR, SUCCESS, TIMEOUT, InvocationFigures
from lambench.core.runtime.platform_logs import Report
from lambench.core.runtime.records import Lifecycle, LifecycleRecord
from lambench.core.timeline.store import Timeline

#: Streams whose state is kept; the least recently active ones are forgotten beyond it.
MAX_STREAMS = 10_000
#: The error type the Invoke API gives a timed-out invocation (REPORT says only `Status: timeout`).
TIMEOUT_ERROR_TYPE = "Sandbox.Timedout"
PROVISIONED = "provisioned-concurrency"

_STREAM_RE = re.compile(r"^\d{4}/\d\d/\d\d/\[([^\]]+)\](.+)$")
_START_RE = re.compile(r"^START RequestId: (\S+)")
_INIT_REPORT_FIELD_RE = re.compile(r"([A-Za-z ]+): ([^\t]*)")
# The runtimes' own lines for an uncaught handler error (lambda-facts §4.9): Python's
# `[ERROR] <Type>: <message>` (a space after the bracket, where a logged record has a tab) and
# Node's `<time>\t<request id>\tERROR\tInvoke Error \t{"errorType":...}`.
_PYTHON_ERROR_RE = re.compile(r"^\[ERROR\] ([A-Za-z_][\w.]*)(?::|\n|$)")
_NODE_ERROR_RE = re.compile(r'^\S+\t\S+\tERROR\tInvoke Error \t.*?"errorType":\s*"([^"]+)"')


def parse_stream(stream: str) -> tuple[str, str]:
    """(version, environment id) of a Lambda log stream name; ($LATEST, the name) for other names."""
    match = _STREAM_RE.match(stream)
    if match is None:
        return "$LATEST", stream
    return match.group(1), match.group(2)


@record
class _Stream:
    """What one environment's lines have said so far."""

    function: str
    version: str
    environment_id: str
    init_type: str | None = None
    init_started: bool = False
    init_ended: bool = False
    invocations: int = 0
    running: str | None = None  # request id between START and REPORT
    running_since: float = 0.0
    # The error type the runtime logged for the running request (an uncaught handler error).
    running_error: str | None = None


class ReportTimeline:
    """Feeds a `Timeline` with the lifecycle records that log lines imply.

    `feed` takes lines in the order each stream wrote them (streams may interleave). Thread-safe;
    per-stream state is bounded to the MAX_STREAMS most recently active streams.
    """

    def __init__(self, timeline: Timeline, *, max_streams: int = MAX_STREAMS) -> None:
        self.timeline = timeline
        self.max_streams = max_streams
        self._streams: OrderedDict[tuple[str, str], _Stream] = OrderedDict()
        self._lock = threading.Lock()

    def feed(self, line: LogLine) -> None:
        """Fold one log line in; lines that say nothing about the lifecycle only mark the stream alive."""
        with self._lock:
            stream, new = self._stream(line)
            text, time = line.text, line.time
            report: Report | None = None
            event: tuple[str, dict[str, object]] | None = None
            if text.startswith("REPORT RequestId: "):
                report = parse_report(text)
            elif text.startswith("{") and '"platform.' in text:
                event = _platform_event(text)
                if event is not None and event[0] == "platform.report":
                    report = _json_report(event[1])
            if report is not None:
                # Creates the environment itself, when the invocation began.
                self._report(stream, time, report, new)
                return
            if new:
                self._created(stream, time)
            if event is not None:
                self._json_platform(stream, time, *event)
            elif text.startswith("START RequestId: "):
                match = _START_RE.match(text)
                if match:
                    self._start(stream, time, match.group(1))
            elif text.startswith("INIT_START "):
                self._init_start(stream, time, None)
            elif text.startswith("INIT_REPORT "):
                self._init_report_text(stream, time, text)
            elif stream.running is not None and stream.running_error is None:
                stream.running_error = _handler_error(text)

    def _stream(self, line: LogLine) -> tuple[_Stream, bool]:
        key = (line.function, line.stream)
        stream = self._streams.get(key)
        if stream is not None:
            self._streams.move_to_end(key)
            return stream, False
        version, environment_id = parse_stream(line.stream)
        stream = self._streams[key] = _Stream(line.function, version, environment_id)
        if len(self._streams) > self.max_streams:
            self._streams.popitem(last=False)
        return stream, True

    def _emit(self, stream: _Stream, kind: Lifecycle, time: float, **fields: object) -> None:
        self.timeline.feed(
            LifecycleRecord(
                kind=kind,
                time=time,
                function=stream.function,
                version=stream.version,
                environment_id=stream.environment_id,
                **fields,  # type: ignore[arg-type]
            )
        )

    def _created(self, stream: _Stream, time: float, init_type: str | None = None) -> None:
        self._emit(stream, Lifecycle.ENVIRONMENT_CREATED, time, init_type=init_type)

    def _init_start(self, stream: _Stream, time: float, init_type: str | None, phase: str = "init") -> None:
        if stream.init_started and phase == "init":
            return
        stream.init_started = True
        if init_type is not None:
            stream.init_type = init_type
        self._emit(stream, Lifecycle.INIT_START, time, init_type=init_type, phase=phase)

    def _init_end(
        self,
        stream: _Stream,
        time: float,
        duration_ms: float,
        status: str,
        error_type: str | None,
        phase: str = "init",
    ) -> None:
        if phase == "init" and stream.init_ended:
            return
        if not stream.init_started or phase != "init":
            self._init_start(stream, time - duration_ms / 1000, None, phase)
        stream.init_ended = True
        self._emit(
            stream,
            Lifecycle.INIT_END,
            time,
            phase=phase,
            duration_ms=duration_ms,
            status=status,
            error_type=error_type,
        )

    def _start(self, stream: _Stream, time: float, request_id: str) -> None:
        # Cold when the environment's init was seen and nothing ran since; a provisioned
        # environment's first invocation is warm (its init happened ahead of any request).
        cold = stream.init_started and stream.invocations == 0 and stream.init_type != PROVISIONED
        stream.running, stream.running_since, stream.running_error = request_id, time, None
        self._emit(stream, Lifecycle.INVOKE_START, time, request_id=request_id, cold=cold)

    def _report(self, stream: _Stream, time: float, report: Report, new: bool) -> None:
        if stream.running == report.request_id:
            start = stream.running_since
        else:
            # No START seen for it: it began `Duration` before its REPORT.
            start = time - report.figures.duration_ms / 1000
            if new:
                self._created(stream, start)
        init_ms = report.figures.init_duration_ms
        cold = init_ms is not None and stream.init_type != PROVISIONED
        if init_ms is not None:
            self._init_end(stream, start, init_ms, "success", None)
        if stream.running != report.request_id:
            self._emit(stream, Lifecycle.INVOKE_START, start, request_id=report.request_id, cold=cold)
        status, error_type = report.figures.status, report.figures.error_type
        if status == SUCCESS and stream.running == report.request_id and stream.running_error is not None:
            # AWS's REPORT leaves a handler's own error out; the runtime's error line said it.
            status, error_type = ERROR, stream.running_error
        if status == TIMEOUT and error_type is None:
            error_type = TIMEOUT_ERROR_TYPE
        stream.running, stream.running_error = None, None
        stream.invocations += 1
        figures = replace(report.figures, cold=cold, status=status, error_type=error_type)
        self._emit(stream, Lifecycle.INVOKE_END, time, request_id=report.request_id, figures=figures)

    def _init_report_text(self, stream: _Stream, time: float, text: str) -> None:
        """`INIT_REPORT Init Duration: X ms\\tPhase: p\\tStatus: s[\\tError Type: T]`: a failed init."""
        fields = dict(
            (match.group(1).strip(), match.group(2).strip())
            for part in text[len("INIT_REPORT ") :].split("\t")
            if (match := _INIT_REPORT_FIELD_RE.fullmatch(part.strip()))
        )
        try:
            duration = float(fields["Init Duration"].split()[0])
        except (KeyError, ValueError, IndexError):
            return
        self._init_end(
            stream,
            time,
            duration,
            fields.get("Status", "success"),
            fields.get("Error Type"),
            fields.get("Phase", "init"),
        )

    def _json_platform(self, stream: _Stream, time: float, kind: str, record: dict[str, object]) -> None:
        """JSON-format platform records other than the report (lambda-facts §5.4)."""
        if kind == "platform.initStart":
            phase = _str(record.get("phase")) or "init"
            self._init_start(stream, time, _str(record.get("initializationType")), phase)
        elif kind == "platform.initReport":
            duration = _number(_metrics(record).get("durationMs"))
            if duration is not None:
                status = _str(record.get("status")) or "success"
                phase = _str(record.get("phase")) or "init"
                self._init_end(stream, time, duration, status, _str(record.get("errorType")), phase)
        elif kind == "platform.start":
            request_id = _str(record.get("requestId"))
            if request_id is not None:
                self._start(stream, time, request_id)


def _platform_event(text: str) -> tuple[str, dict[str, object]] | None:
    """(type, record) of a JSON platform line, or None if `text` is not one."""
    try:
        event = json.loads(text)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    kind, record = event.get("type"), event.get("record")
    if not isinstance(kind, str) or not kind.startswith("platform.") or not isinstance(record, dict):
        return None
    return kind, record


def _handler_error(text: str) -> str | None:
    """The error type of a runtime's uncaught-handler-error line, or None for any other line."""
    if text.startswith("[ERROR] "):
        match = _PYTHON_ERROR_RE.match(text)
        return match.group(1) if match else None
    if text.startswith("{") and '"errorType"' in text:
        # Python's JSON form: the runtime's record has no `logger`, unlike `logger.exception(...)`.
        try:
            record = json.loads(text)
        except ValueError:
            return None
        if (
            isinstance(record, dict)
            and record.get("level", record.get("log_level")) == "ERROR"
            and "logger" not in record
            and "stackTrace" in record
        ):
            return _str(record.get("errorType"))
        return None
    if text[:1].isdigit() and "\tERROR\tInvoke Error " in text:
        match = _NODE_ERROR_RE.match(text)
        return match.group(1) if match else None
    return None


def _json_report(record: dict[str, object]) -> Report | None:
    metrics = _metrics(record)
    request_id = _str(record.get("requestId"))
    duration = _number(metrics.get("durationMs"))
    if request_id is None or duration is None:
        return None
    billed = _number(metrics.get("billedDurationMs"))
    memory = _number(metrics.get("memorySizeMB"))
    max_memory = _number(metrics.get("maxMemoryUsedMB"))
    status = _str(record.get("status"))
    init_ms = _number(metrics.get("initDurationMs"))
    figures = InvocationFigures(
        duration_ms=duration,
        billed_duration_ms=int(billed) if billed is not None else None,
        memory_size_mb=int(memory) if memory is not None else None,
        max_memory_used_mb=int(max_memory) if max_memory is not None else None,
        init_duration_ms=init_ms,
        cold=init_ms is not None,
        # `success` is how AWS says what a text REPORT leaves out; `failure` is an error too.
        status=SUCCESS if status in (None, SUCCESS) else (ERROR if status == "failure" else status),
        error_type=_str(record.get("errorType")),
    )
    return Report(request_id, figures)


def _metrics(record: dict[str, object]) -> dict[str, object]:
    metrics = record.get("metrics")
    return metrics if isinstance(metrics, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
