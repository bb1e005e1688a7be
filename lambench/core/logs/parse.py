"""Reading log lines as Lambda writes them: level, request id, and the platform lines' figures.

Handles the formats of lambda-facts §5: platform lines (START/END/REPORT/INIT_START/INIT_REPORT),
Python text records (`[INFO]\\t<time>\\t<request id>\\t<message>`), Node text records
(`<time>\\t<request id>\\tINFO\\t<message>`), JSON application records (`"level"`, or `"log_level"`
in some runtime builds) and JSON platform records (`"type": "platform.report"`). Anything else (a
bare `print`) has no level.
"""

from __future__ import annotations

import json
import re

from lambench.core.logs.model import LEVELS, LogLine, LogQuery
from lambench.core.runtime.figures import SUCCESS, InvocationFigures
from lambench.core.runtime.platform_logs import Report

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_PLATFORM_RE = re.compile(rf"^(START|END|REPORT) RequestId: ({_UUID})")
_PYTHON_TEXT_RE = re.compile(r"^\[([A-Z]+)\]\t[0-9T:.\-]+Z\t([^\t]*)\t")
_NODE_TEXT_RE = re.compile(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z\t([^\t]*)\t([A-Z]+)\t")
_TIMEOUT_RE = re.compile(rf"^\S+ ({_UUID}) Task timed out after ")
_FIELD_RE = re.compile(r"([A-Za-z ]+): ([^\t]*)")

# Python's level names and a few spellings seen in the wild, folded onto LEVELS.
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL", "ERR": "ERROR", "INFORMATION": "INFO"}
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


def normalise_level(level: str | None) -> str | None:
    """A level name as lambench shows it (`WARNING` becomes `WARN`), or None if it is not one."""
    if not level:
        return None
    upper = level.upper()
    upper = _LEVEL_ALIASES.get(upper, upper)
    return upper if upper in _RANK else None


def level_rank(level: str) -> int:
    """Position of a normalised level in LEVELS (TRACE is 0); raises KeyError for others."""
    return _RANK[level]


def classify(text: str) -> tuple[str | None, str | None]:
    """The (level, request id) a log message states, each None when it does not say."""
    if text.startswith(("START ", "END ", "REPORT ")):
        match = _PLATFORM_RE.match(text)
        if match:
            return None, match.group(2)
    if text.startswith("["):
        match = _PYTHON_TEXT_RE.match(text)
        if match:
            return normalise_level(match.group(1)), match.group(2) or None
    if text.startswith("{"):
        return _classify_json(text)
    if text[:1].isdigit():
        match = _NODE_TEXT_RE.match(text)
        if match:
            request_id = match.group(1)
            return normalise_level(match.group(2)), None if request_id in ("", "undefined") else request_id
        match = _TIMEOUT_RE.match(text)
        if match:
            return "ERROR", match.group(1)
    return None, None


def _classify_json(text: str) -> tuple[str | None, str | None]:
    try:
        record = json.loads(text)
    except ValueError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    inner = record.get("record")
    if isinstance(record.get("type"), str) and isinstance(inner, dict):
        request_id = inner.get("requestId")
        return None, request_id if isinstance(request_id, str) else None
    level = record.get("level", record.get("log_level"))
    request_id = record.get("requestId", record.get("request_id"))
    return (
        normalise_level(level) if isinstance(level, str) else None,
        request_id if isinstance(request_id, str) and request_id else None,
    )


def make_line(function: str, stream: str, time: float, text: str) -> LogLine:
    """A LogLine for one event, its level and request id read from the text."""
    level, request_id = classify(text)
    return LogLine(time=time, function=function, stream=stream, request_id=request_id, level=level, text=text)


def is_platform_line(text: str) -> bool:
    """Whether the line is one the platform writes (START, END, REPORT, INIT_*, XRAY, JSON platform)."""
    return text.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_")) or (
        text.startswith('{"time"') and '"type":"platform.' in text.replace(" ", "")
    )


def matches(line: LogLine, query: LogQuery) -> bool:
    """Whether `line` passes the query's function, time, text, request-id and level filters."""
    if query.function is not None and line.function != query.function:
        return False
    if query.since is not None and line.time < query.since:
        return False
    if query.request_id is not None and line.request_id != query.request_id:
        return False
    if query.level is not None:
        wanted = normalise_level(query.level)
        if line.level is None or wanted is None or _RANK[line.level] < _RANK[wanted]:
            return False
    return query.text is None or query.text in line.text


def parse_report(text: str) -> Report | None:
    """The figures of a text REPORT line, or None if `text` is not one.

    Tolerates a trailing `XRAY TraceId` line and fields AWS may add later.
    """
    if not text.startswith("REPORT RequestId: "):
        return None
    first_line = text.split("\n", 1)[0]
    fields: dict[str, str] = {}
    for part in first_line.split("\t"):
        match = _FIELD_RE.fullmatch(part.strip()) if part.strip() else None
        if match:
            fields[match.group(1).strip()] = match.group(2).strip()
    try:
        init_ms = _number(fields["Init Duration"]) if "Init Duration" in fields else None
        figures = InvocationFigures(
            duration_ms=_number(fields["Duration"]),
            billed_duration_ms=int(_number(fields["Billed Duration"])),
            memory_size_mb=int(_number(fields["Memory Size"])),
            max_memory_used_mb=int(_number(fields["Max Memory Used"])),
            init_duration_ms=init_ms,
            # Cold when it shows an Init Duration; a provisioned environment's first REPORT shows
            # one too, which only a reader that saw its INIT_START can tell apart.
            cold=init_ms is not None,
            status=fields.get("Status") or SUCCESS,
            error_type=fields.get("Error Type"),
        )
        return Report(fields["REPORT RequestId"], figures)
    except (KeyError, ValueError):
        return None


def _number(value: str) -> float:
    # "3.01 ms", "128 MB"
    return float(value.split()[0])
