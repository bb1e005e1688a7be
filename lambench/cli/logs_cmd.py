"""`lambench logs [FN]`: print or follow a function's log, locally or from a real account."""

from __future__ import annotations

import argparse
import contextlib
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from lambench.cli.backend_options import add_backend_options, open_backend
from lambench.cli.common import UserError, add_project_option
from lambench.cli.hot_reload import interruptible
from lambench.core.logs.model import LEVELS, LogBatch, LogLine, LogQuery
from lambench.core.logs.parse import is_platform_line

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STREAM_RE = re.compile(r"^\d{4}/\d\d/\d\d/(\[[^\]]*\])([0-9a-f]{6})")

# ANSI styles by level; platform lines (START/END/REPORT) get their own so output stands apart.
_RESET = "\x1b[0m"
_STYLES = {
    "TRACE": "\x1b[2m",
    "DEBUG": "\x1b[2m",
    "WARN": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "FATAL": "\x1b[1;31m",
}
_PLATFORM_STYLE = "\x1b[36m"
_DIM = "\x1b[2m"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `logs` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Print a function's log lines (platform lines and your output), oldest first, with the time "
        "and the environment (log stream) each came from. Locally the log is the project's "
        "(.lambench/logs/, written by every lambench command that runs functions, so --follow in one "
        "terminal shows invokes made in another); with --backend aws it is the function's CloudWatch "
        "log group, followed with Live Tail where allowed and by polling otherwise. Colored by level "
        "on a terminal, plain when piped."
    )
    parser.add_argument(
        "name", nargs="?", metavar="FN", help="the function (every function when omitted, local only)"
    )
    add_project_option(parser)
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    parser.add_argument("--filter", metavar="TEXT", help="only lines containing TEXT")
    parser.add_argument("--request-id", metavar="ID", help="only the lines of one request")
    parser.add_argument(
        "--level", type=str.upper, choices=LEVELS, help="only lines of this level or more severe"
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="start this long ago (30s, 10m, 2h, 1d) or at an ISO time (default: everything kept locally, "
        "the last hour from AWS; from now with --follow)",
    )
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="(default: auto)"
    )
    add_backend_options(parser)
    parser.set_defaults(run=run)


def parse_since(text: str, now: float | None = None) -> float:
    """Seconds since the epoch for `30s`/`10m`/`2h`/`1d` ago or an ISO 8601 time."""
    now = time.time() if now is None else now
    match = _DURATION_RE.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    import datetime

    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--since {text!r}: give a duration such as 30s, 10m, 2h, 1d, or an ISO time"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()


def format_line(line: LogLine, *, color: bool, show_function: bool) -> str:
    """One printed line: time, environment, (function), text; styled by level when `color`."""
    stamp = time.strftime("%H:%M:%S", time.localtime(line.time)) + f".{int(line.time * 1000) % 1000:03d}"
    match = _STREAM_RE.match(line.stream)
    environment = match.group(1) + match.group(2) if match else line.stream[-16:]
    prefix = f"{stamp} {environment}"
    if show_function:
        prefix += f" {line.function}"
    text = line.text.rstrip("\n").replace("\t", "  ")
    if not color:
        return f"{prefix}  {text}"
    style = _PLATFORM_STYLE if is_platform_line(line.text) else _STYLES.get(line.level or "", "")
    body = f"{style}{text}{_RESET}" if style else text
    return f"{_DIM}{prefix}{_RESET}  {body}"


def _batches(source: Iterator[LogBatch], stop: threading.Event, interrupted: list[int]) -> Iterator[LogBatch]:
    """The source's batches, read on a worker thread so this one only waits on a queue and the flag."""
    batches: queue.Queue[LogBatch | BaseException | None] = queue.Queue(maxsize=64)

    def pump() -> None:
        try:
            for batch in source:
                batches.put(batch)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the main thread, which raises it
            batches.put(exc)
            return
        batches.put(None)

    worker = threading.Thread(target=pump, name="lambench-logs", daemon=True)
    worker.start()
    try:
        while True:
            if interrupted:
                return
            try:
                item = batches.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Let a producer blocked on a full queue see `stop`; one stuck in a network read is a
        # daemon thread and is left behind after two seconds.
        deadline = time.monotonic() + 2.0
        while worker.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)


def run(args: argparse.Namespace) -> int:
    """Print (and with --follow, keep printing) the matching lines."""
    if args.backend == "aws" and not args.name:
        raise UserError("name the function whose log to read (--backend aws reads one log group)")
    query = LogQuery(
        function=args.name,
        since=parse_since(args.since) if args.since else None,
        follow=args.follow,
        text=args.filter,
        request_id=args.request_id,
        level=args.level,
    )
    out: TextIO = sys.stdout
    color = args.color == "always" or (args.color == "auto" and out.isatty())
    stop = threading.Event()
    # With --follow, Ctrl-C only raises a flag; this thread then sets `stop`.
    watching: contextlib.AbstractContextManager[list[int]] = (
        interruptible() if args.follow else contextlib.nullcontext([])
    )
    with watching as interrupted, open_backend(args) as backend:
        if args.name and args.backend == "local":
            names = [f.name for f in backend.list_functions()]
            if args.name not in names:
                known = ", ".join(names)
                raise UserError(f"no function named {args.name!r} in {args.project} (functions: {known})")
        printed = 0
        for batch in _batches(backend.tail(query, stop), stop, interrupted):
            if batch.notice:
                print(f"lambench: {batch.notice}", file=sys.stderr, flush=True)
            if batch.lines:
                out.write(
                    "".join(
                        format_line(line, color=color, show_function=not args.name) + "\n"
                        for line in batch.lines
                    )
                )
                out.flush()
                printed += len(batch.lines)
        if printed == 0 and not args.follow:
            print("lambench: no matching log lines", file=sys.stderr)
    return 0
