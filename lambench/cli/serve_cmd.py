"""`lambench serve` and `lambench env`: keep the project's embedded account running, and point tools at it."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lambench.cli.common import (
    UserError,
    add_project_and_runtime_options,
    add_project_option,
    load_project_functions,
    open_local_backend,
)
from lambench.cli.hot_reload import describe, hot_reload, interruptible

if TYPE_CHECKING:
    from lambench.core.backends.local import LocalBackend
    from lambench.core.cloud_resources import CloudResource
    from lambench.core.http.server import FrontDoorServer
    from lambench.core.sources.runner import EventSources


def configure_serve(serve: argparse.ArgumentParser) -> None:
    """Add the `serve` command's description and options (`cli.commands` names it)."""
    serve.description = (
        "Start the project's embedded account (moto on 127.0.0.1) with the template's buckets, queues, "
        "tables and topics, and its functions registered and invocable through the Lambda API on "
        "lambench's engine. While it runs, other lambench commands of the project (invoke, load) use "
        "this account instead of a private one, so what handlers write can be inspected afterwards, "
        "and 'lambench env' prints the variables that point the AWS CLI at it. The template's API "
        "routes (Api and HttpApi events), function URLs and load balancer rules (Lambda target "
        "groups) are served over HTTP on 127.0.0.1 as API Gateway, Lambda and ELB answer them, one "
        "access line per request."
    )
    add_project_and_runtime_options(serve)
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    serve.add_argument(
        "--api-port",
        type=int,
        default=0,
        metavar="N",
        help="port of the HTTP APIs (REST and HTTP API routes; default: a free one)",
    )
    serve.add_argument(
        "--url-port",
        type=int,
        default=0,
        metavar="N",
        help="port of the first function URL; the next ones take N+1, N+2... (default: free ones)",
    )
    serve.add_argument(
        "--alb-port",
        type=int,
        default=0,
        metavar="N",
        help="port of the Application Load Balancer listener (Lambda target groups; default: a free one)",
    )
    serve.set_defaults(run=run_serve)


def configure_env(env: argparse.ArgumentParser) -> None:
    """Add the `env` command's description and options (`cli.commands` names it)."""
    env.description = (
        "Print 'export' lines for AWS_ENDPOINT_URL, fake credentials and the region of the account a "
        "running 'lambench serve' holds for the project; eval them in a shell "
        '(eval "$(lambench env)") and the AWS CLI, boto3 and the SDKs talk to it.'
    )
    add_project_option(env)
    form = env.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print a JSON object instead")
    form.add_argument("--endpoint", action="store_true", help="print only the endpoint URL")
    env.set_defaults(run=run_env)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    from lambench.core.embedded import shared

    ports = (
        ("--port", args.port),
        ("--api-port", args.api_port),
        ("--url-port", args.url_port),
        ("--alb-port", args.alb_port),
    )
    for option, port in ports:
        if not 0 <= port <= 65535:
            raise UserError(f"{option} {port}: give a port between 1 and 65535 (or 0 for a free one)")
    project = Path(args.project).resolve()
    running = shared.find(project)
    if running is not None:
        raise UserError(
            f"an embedded account already runs for {project} at {running.endpoint} (pid {running.pid})"
        )
    loaded = load_project_functions(args)
    # Signals only raise a flag from here on, so even a Ctrl-C during start-up shuts down cleanly.
    with interruptible() as stopping:
        try:
            context = open_local_backend(args, loaded, share=False, port=args.port)
            backend = context.__enter__()
        except OSError as exc:
            raise UserError(f"cannot listen on port {args.port}: {exc.strerror}") from None
        try:
            print(
                f"lambench: starting the embedded account for {project.name}...", file=sys.stderr, flush=True
            )
            backend.account.start()
            with hot_reload(backend, args, loaded):
                backend.service.subscribe(_print_reloads)
                resumed = backend.service.resume_pending_events()
                if resumed:
                    print(
                        f"lambench: resumed {resumed} queued asynchronous event(s) from .lambench/async",
                        file=sys.stderr,
                        flush=True,
                    )
                running_sources = backend.start_event_sources(loaded.sources)
                front_doors = _start_front_doors(backend, args)
                account = shared.SharedAccount(os.getpid(), backend.account.endpoint, backend.region)
                shared.publish(project, account)
                try:
                    _print_banner(backend, loaded.resources)
                    _print_front_doors(front_doors)
                    _print_sources(running_sources, loaded.warnings)
                    print("\nPress Ctrl-C to stop.", flush=True)
                    while not stopping:
                        time.sleep(0.2)
                    print("\nlambench: stopping the embedded account", file=sys.stderr)
                finally:
                    shared.withdraw(project, os.getpid())
        finally:
            context.__exit__(None, None, None)
    return 0


def _start_front_doors(backend: LocalBackend, args: argparse.Namespace) -> FrontDoorServer | None:
    from lambench.core.http.server import FrontDoorError

    try:
        return backend.start_front_doors(
            api_port=args.api_port, url_port=args.url_port, alb_port=args.alb_port
        )
    except FrontDoorError as exc:
        raise UserError(f"{exc} (choose another with --api-port / --url-port)") from None


def _print_front_doors(server: FrontDoorServer | None) -> None:
    if server is None:
        return
    doors = server.door.doors
    lines = []
    if server.api_url is not None:
        lines.append(f"  HTTP APIs at {server.api_url}:")
        width = max(len(route.path) for route in doors.routes)
        for route in doors.routes:
            api = doors.apis[route.api_id]
            where = f"{api.api_id}, payload {route.payload_version}"
            if api.path_prefix:
                where += f", also at {api.path_prefix}{route.path if route.path != '$default' else '/...'}"
            if route.authorizer:
                where += f", authorizer {route.authorizer}"
            lines.append(f"    {route.method:<7} {route.path:<{width}}  -> {route.function} ({where})")
    for url in doors.urls:
        lines.append(f"  function URL of {url.function}: {server.url_of(url)} (AuthType {url.auth_type})")
    if server.alb_url is not None:
        lines.append(f"  load balancer at {server.alb_url}:")
        for rule in sorted(doors.alb_rules, key=lambda r: (r.priority is None, r.priority or 0)):
            when = " ".join(
                [*(f"path {p}" for p in rule.paths), *(f"host {h}" for h in rule.hosts), *rule.methods]
            )
            order = f"priority {rule.priority}" if rule.priority is not None else "default action"
            lines.append(f"    {order}: {when or 'any request'} -> {rule.function} ({rule.target_group})")
    print("\n".join(lines), flush=True)


def _print_reloads(record: object) -> None:
    from lambench.core.runtime.records import (
        AsyncRecord,
        AsyncStep,
        HttpRecord,
        ReloadRecord,
        SourceRecord,
        SourceStep,
    )

    if isinstance(record, HttpRecord):
        print(f"lambench: {record.source_ip} {record.summary()}", flush=True)
    elif isinstance(record, ReloadRecord):
        print(f"lambench: {describe(record)}", file=sys.stderr, flush=True)
    elif (isinstance(record, AsyncRecord) and record.kind is not AsyncStep.ACCEPTED) or (
        isinstance(record, SourceRecord) and record.kind not in (SourceStep.BATCH, SourceStep.TRIGGERED)
    ):
        print(f"lambench: {record.summary()}", file=sys.stderr, flush=True)


def _print_sources(running: EventSources | None, warnings: list[str]) -> None:
    lines = []
    if running is not None and running.sources:
        lines.append("  event sources:")
        for source in running.sources:
            state = "" if source.enabled else " (disabled)"
            lines.append(
                f"    {source.function} <- {source.kind} {source.target()}: {source.settings()}{state}"
            )
    lines += [f"  warning: {warning}" for warning in warnings]
    if lines:
        print("\n".join(lines), flush=True)


def _print_banner(backend: LocalBackend, resources: list[CloudResource]) -> None:
    account = backend.account
    lines = [
        f"lambench: embedded account at {account.endpoint} ({account.region}), "
        f"ready in {account.startup_s or 0:.2f} s",
        f"  functions: {', '.join(f.name for f in backend.list_functions()) or 'none'}",
    ]
    if resources:
        lines.append("  resources: " + ", ".join(f"{r.name} ({r.type})" for r in resources))
    for problem in account.problems:
        lines.append(f"  not created: {problem}")
    lines += ["", 'Point the AWS CLI or your scripts at it (or run: eval "$(lambench env)"):']
    lines += [f"  export {key}={shlex.quote(value)}" for key, value in account.user_environment().items()]
    lines += ["", "  e.g. aws lambda invoke --function-name hello /dev/stdout", ""]
    print("\n".join(lines), flush=True)


def run_env(args: argparse.Namespace) -> int:
    """Print the exports for the running account."""
    from lambench.core.embedded import shared
    from lambench.core.embedded.account import user_environment

    project = Path(args.project).resolve()
    account = shared.find(project)
    if account is None:
        raise UserError(
            f"no embedded account is running for {project}; start one with "
            f"'lambench serve --project {shlex.quote(args.project)}' in another terminal"
        )
    if args.endpoint:
        print(account.endpoint)
        return 0
    variables = user_environment(account.endpoint, account.region)
    if args.json:
        print(json.dumps(variables, indent=2))
    else:
        print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in variables.items()))
    return 0
