"""`lambench invoke`: run a function once on the local engine and print what AWS would return."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.cli.backend_options import add_backend_options, check_backend_options, open_backend
from lambench.cli.common import (
    Loaded,
    UserError,
    add_adhoc_options,
    add_project_and_runtime_options,
    load_project_functions,
    open_service,
    require_function,
    service_errors,
)
from lambench.cli.event_options import add_param_option, event_errors

if TYPE_CHECKING:
    from lambench.core.runtime.invoke_api import InvokeResult


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `invoke` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Invoke a function on the local engine. The response payload goes to stdout and the "
        "invocation's logs (START, your output, END, REPORT) to stderr. The exit status is 0 on "
        "success, 1 on a function error and 2 on a usage error. The event comes from --event, "
        "--event-json, --event-template, --saved-event or standard input; with none of them it is {}."
    )
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME[:QUALIFIER]",
        help="function name, optionally with a version or alias: fn, fn:2, fn:live (optional with --handler)",
    )
    add_project_and_runtime_options(parser)
    add_event_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with the payload, logs, durations, memory and cold/warm",
    )
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="invoke with InvocationType Event: the service answers 202 at once; locally lambench then "
        "waits for the first attempt and prints its logs (a retry it schedules is kept in .lambench/async "
        "and run by the next 'lambench serve' or TUI on the project; LAMBENCH_TIME_SCALE=0.01 shortens "
        "AWS's 1- and 2-minute retry delays)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="invoke now, then again after every hot reload of the function, until Ctrl-C; each result "
        "is preceded by a header line (time, changed files, cold/warm, duration)",
    )
    add_adhoc_options(parser)
    add_backend_options(parser, invoke=True)
    parser.set_defaults(run=run)


def add_event_options(parser: argparse.ArgumentParser) -> None:
    """Where the event comes from: a file, JSON text, a template, a saved event or standard input."""
    event = parser.add_mutually_exclusive_group()
    event.add_argument("--event", metavar="FILE", help="read the event from FILE ('-' for standard input)")
    event.add_argument("--event-json", metavar="JSON", help="the event as a JSON string")
    event.add_argument(
        "--event-template",
        metavar="SERVICE/NAME",
        help="render a built-in template (see 'lambench events list'); --param sets its parameters",
    )
    event.add_argument(
        "--saved-event",
        metavar="NAME",
        help="a saved event: the function's own (.lambench/events/FUNCTION/) or else a shared one",
    )
    add_param_option(parser)


def read_event(args: argparse.Namespace, function: str) -> bytes:
    """The event bytes from the options or stdin, checked to be JSON."""
    data: bytes
    if args.param and args.event_template is None:
        raise UserError("--param sets a template's parameters; use it with --event-template")
    if args.event_template is not None:
        from lambench.cli.event_options import find_template, render_template

        event = render_template(find_template(args.event_template, None), args.param)
        return json.dumps(event, ensure_ascii=False).encode()
    if args.saved_event is not None:
        from lambench.core.events import EventStore

        with event_errors():
            saved = EventStore(args.project).find(args.saved_event, function)
            return json.dumps(saved.load(), ensure_ascii=False).encode()
    if args.event_json is not None:
        data = args.event_json.encode()
        source = "--event-json"
    elif args.event is not None:
        if args.event == "-":
            data, source = bytes(sys.stdin.buffer.read()), "standard input"
        else:
            try:
                with open(args.event, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise UserError(f"cannot read event file {args.event}: {exc.strerror}") from None
            source = args.event
    elif not sys.stdin.isatty() and _stdin_has_data():
        data, source = bytes(sys.stdin.buffer.read()), "standard input"
    else:
        return b"{}"
    if not data.strip():
        return b"{}"
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"the event from {source} is not valid JSON: {exc}") from None
    return data


def _stdin_has_data() -> bool:
    # A closed or empty stdin (CI, cron) must not block; a pipe or file is read.
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    import stat

    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def _note_sources(args: argparse.Namespace, loaded: Loaded, function: str) -> None:
    """Tell a person at a terminal that the function's queue or schedule does not trigger it now."""
    kinds = sorted({s.kind for s in loaded.sources if s.function == function and s.enabled})
    if not kinds or not sys.stderr.isatty():
        return
    from lambench.core.embedded import shared

    if shared.find(Path(args.project).resolve()) is None:
        print(
            f"lambench: note: {function}'s {', '.join(kinds)} event source(s) run only while "
            "'lambench serve' or the TUI holds the account; this invoke runs it directly",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    """Invoke once and print the result."""
    check_backend_options(args)
    if args.backend == "aws":
        return _run_remote(args)
    if not args.name and not args.handler:
        raise UserError("name a function to invoke (see 'lambench functions'), or give --handler")
    loaded = load_project_functions(args)
    name = next(iter(loaded.functions)) if args.handler else args.name
    base_name = require_function(loaded, name, args.project)
    qualifier = name.partition(":")[2] or None
    event = read_event(args, base_name)
    _note_sources(args, loaded, base_name)

    def provision(function: str, alias: str) -> bool:
        # Provisioned environments are only worth starting when this invoke can use them.
        return function == base_name and alias == qualifier

    def publish(function: str) -> bool:
        # Only an invoke of a qualifier needs the template's auto-published alias to be current.
        return function == base_name and qualifier is not None

    if args.watch:
        if args.asynchronous or args.json:
            raise UserError(
                "--watch prints each result as it comes; it cannot be combined with --async or --json"
            )
        return _run_watch(args, loaded, name, base_name, event, publish, provision)
    with service_errors(), open_service(args, loaded, publish=publish, provision=provision) as service:
        if qualifier is not None and provision(base_name, qualifier) and _has_provisioned(loaded, base_name):
            print(f"lambench: starting provisioned environments of {name}...", file=sys.stderr)
            service.wait_provisioned(base_name, qualifier)
        if args.asynchronous:
            return _run_local_async(service, name, event, args.json)
        result = service.invoke(name, event)
    if args.json:
        print(json.dumps(_as_json(result), indent=2))
    else:
        sys.stderr.write(result.logs)
        sys.stderr.flush()
        out = sys.stdout.buffer
        out.write(result.payload)
        if not result.payload.endswith(b"\n"):
            out.write(b"\n")
        out.flush()
    return 1 if result.function_error else 0


def _run_watch(
    args: argparse.Namespace,
    loaded: Loaded,
    name: str,
    base_name: str,
    event: bytes,
    publish: Any,
    provision: Any,
) -> int:
    """Invoke, then invoke again after every reload that touches the function, until Ctrl-C."""
    import queue
    import time

    from lambench.cli.common import open_local_backend
    from lambench.cli.hot_reload import describe, hot_reload, until_interrupted
    from lambench.core.runtime.errors import LambdaServiceError
    from lambench.core.runtime.records import ReloadRecord

    records: queue.SimpleQueue[ReloadRecord] = queue.SimpleQueue()
    rereadable = args.event is not None and args.event != "-"
    with service_errors(), open_local_backend(args, loaded, publish=publish, provision=provision) as backend:
        service = backend.service

        def once(why: str) -> None:
            payload = read_event(args, base_name) if rereadable else event
            stamp = time.strftime("%H:%M:%S")
            try:
                result = service.invoke(name, payload)
            except LambdaServiceError as exc:
                print(f"--- {stamp}  {why}  {exc.error_code}: {exc.message}", flush=True)
                return
            outcome = f"  {result.figures.error_type}" if result.function_error else ""
            temperature = "cold" if result.figures.cold else "warm"
            print(
                f"--- {stamp}  {why}  {temperature}  {result.figures.duration_ms:.2f} ms{outcome}", flush=True
            )
            sys.stderr.write(result.logs)
            sys.stderr.flush()
            sys.stdout.write(result.payload.decode("utf-8", "replace").rstrip("\n") + "\n")
            sys.stdout.flush()

        with hot_reload(backend, args, loaded):
            service.subscribe(lambda r: records.put(r) if isinstance(r, ReloadRecord) else None)
            once("first run")
            print(
                f"lambench: watching {base_name}; save a file to invoke again (Ctrl-C to stop)",
                file=sys.stderr,
            )

            def step() -> None:
                while not records.empty():
                    record = records.get()
                    if record.error is not None:
                        print(f"--- {describe(record)}", flush=True)
                    elif base_name in record.functions:
                        once(", ".join(record.files) + " changed")

            until_interrupted(step)
    return 0


def _run_local_async(service: Any, name: str, event: bytes, as_json: bool) -> int:
    """An Event invoke: print the 202, wait for the first attempt and print its log lines.

    The first attempt's end is the engine's async record for it (succeeded, failed, retry
    scheduled); a retry is not waited for: it stays queued in the project's `.lambench/async`.
    """
    import threading

    from lambench.core.runtime.records import AsyncRecord, AsyncStep, LogRecord

    lines: list[str] = []
    done = threading.Event()
    request: list[str] = []
    early: list[object] = []
    ended: list[AsyncRecord] = []
    lock = threading.Lock()
    final = (AsyncStep.SUCCEEDED, AsyncStep.FAILED, AsyncStep.RETRY_SCHEDULED, AsyncStep.DROPPED)

    def watch(record: object) -> None:
        # Records may arrive before invoke() has returned the request id: hold them until it has.
        with lock:
            if not request:
                early.append(record)
                return
            take(record)

    def take(record: object) -> None:
        if isinstance(record, LogRecord) and record.request_id == request[0]:
            lines.append(record.message)
        elif isinstance(record, AsyncRecord) and record.request_id == request[0]:
            if record.kind is AsyncStep.THROTTLED:
                print(f"lambench: {record.summary()}", file=sys.stderr)
            elif record.kind in final:
                ended.append(record)
                done.set()

    unsubscribe = service.subscribe(watch)
    try:
        result = service.invoke(name, event, invocation_type="Event")
        with lock:
            request.append(result.request_id)
            for record in early:
                take(record)
        print(
            f"lambench: accepted (202), request id {result.request_id}; waiting for the function",
            file=sys.stderr,
        )
        done.wait()
    finally:
        unsubscribe()
    if as_json:
        print(
            json.dumps(
                {
                    "requestId": result.request_id,
                    "statusCode": 202,
                    "logs": "".join(f"{line}\n" for line in lines),
                },
                indent=2,
            )
        )
    else:
        sys.stderr.write("".join(f"{line}\n" for line in lines))
    outcome = ended[0]
    if outcome.kind is AsyncStep.RETRY_SCHEDULED:
        print(
            f"lambench: {outcome.summary()}; the retry is kept in .lambench/async and runs when "
            "'lambench serve' or the TUI next runs on this project",
            file=sys.stderr,
        )
    elif outcome.kind is not AsyncStep.SUCCEEDED:
        print(f"lambench: {outcome.summary()}", file=sys.stderr)
    return 0


def _run_remote(args: argparse.Namespace) -> int:
    """Invoke in a real account (needs --allow-invoke)."""
    if not args.name:
        raise UserError("name the function to invoke")
    if args.handler:
        raise UserError("--handler describes a local function; it cannot be used with --backend aws")
    name, _, qualifier = args.name.partition(":")
    event = read_event(args, name)
    with open_backend(args) as backend:
        outcome = backend.invoke(
            name,
            event,
            qualifier=qualifier or None,
            invocation_type="Event" if args.asynchronous else "RequestResponse",
        )
    if args.json:
        from lambench.core.record import as_dict

        data = as_dict(outcome)
        text = outcome.payload.decode("utf-8", "replace")
        try:
            data["payload"] = json.loads(text) if text else None
        except ValueError:
            data["payload"] = text
        print(json.dumps(data, indent=2))
    else:
        if outcome.logs:
            sys.stderr.write(outcome.logs if outcome.logs.endswith("\n") else outcome.logs + "\n")
        if outcome.status_code == 202:
            print(f"lambench: accepted (202), request id {outcome.request_id}", file=sys.stderr)
        else:
            out = sys.stdout.buffer
            out.write(outcome.payload + (b"" if outcome.payload.endswith(b"\n") else b"\n"))
            out.flush()
    return 1 if outcome.function_error else 0


def _has_provisioned(loaded: Loaded, name: str) -> bool:
    deployment = loaded.deployments.get(name)
    return bool(deployment and deployment.provisioned)


def _as_json(result: InvokeResult) -> dict[str, Any]:
    figures = result.figures
    return {
        "requestId": result.request_id,
        "statusCode": result.status_code,
        "functionError": figures.error_type if result.function_error else None,
        "payload": result.payload_json(),
        "logs": result.logs,
        "durationMs": round(figures.duration_ms, 3),
        "billedDurationMs": figures.billed_duration_ms,
        "initDurationMs": None if figures.init_duration_ms is None else round(figures.init_duration_ms, 3),
        "maxMemoryUsedMB": figures.max_memory_used_mb,
        "memorySizeMB": figures.memory_size_mb,
        "executedVersion": result.executed_version,
        "cold": figures.cold,
        "environmentId": result.environment_id,
    }
