"""`lambench load`: drive a function with many synchronous invokes and show what the platform did."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from lambench.cli.common import (
    UserError,
    add_project_and_runtime_options,
    load_project_functions,
    open_service,
    require_function,
    service_errors,
)
from lambench.cli.invoke_cmd import add_event_options, read_event

if TYPE_CHECKING:
    from lambench.core.load import LoadPlan, LoadProgress, LoadReport, LoadRunner
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.template import Deployment
    from lambench.core.timeline.spans import Snapshot

#: Width of the environment timeline: it must fit a classic 80-column terminal.
TIMELINE_WIDTH = 80
#: Most environments drawn one per row; the rest are counted.
TIMELINE_ROWS = 24


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `load` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Send synchronous invokes to a function on the local engine and report what happened: "
        "counts, cold starts, duration percentiles, peak concurrency, throttles and cost, and a "
        "timeline with one row per execution environment. Choose one way to send: "
        "--requests N [--concurrency C], --rate R --duration S, or --burst N. Ctrl-C stops "
        "sending, waits for the invokes in flight and prints the partial figures."
    )
    parser.epilog = (
        "examples:  lambench load slow --burst 20 --reserved 5   |   "
        "lambench load hello --requests 10000 --concurrency 8   |   "
        "lambench load heavy-init:live --rate 20 --duration 5"
    )
    parser.add_argument(
        "name", metavar="FUNCTION[:QUALIFIER]", help="the function, optionally with a version or alias"
    )
    add_project_and_runtime_options(parser)
    mode = parser.add_argument_group("how to send (choose one)")
    mode.add_argument("--requests", type=int, metavar="N", help="send N requests, --concurrency at a time")
    mode.add_argument(
        "--concurrency", type=int, metavar="C", help="clients sending at once with --requests (default 1)"
    )
    mode.add_argument("--rate", type=float, metavar="R", help="send R requests per second ...")
    mode.add_argument("--duration", type=float, metavar="S", help="... for S seconds (with --rate)")
    mode.add_argument("--burst", type=int, metavar="N", help="send N requests at the same instant")
    parser.add_argument("--qualifier", metavar="Q", help="a version or alias (or give FUNCTION:Q)")
    add_event_options(parser)
    limits = parser.add_argument_group("concurrency settings for this run (override the template)")
    limits.add_argument("--reserved", type=int, metavar="N", help="reserved concurrency of the function")
    limits.add_argument(
        "--provisioned",
        type=int,
        metavar="N",
        help="provisioned concurrency on the qualifier (version or alias)",
    )
    limits.add_argument(
        "--account-limit", type=int, metavar="N", help="account concurrency limit (default 1000)"
    )
    limits.add_argument(
        "--scaling-rate",
        type=int,
        metavar="N",
        help="new environments per function per 10 s (default 1000); lower it to see scaling throttles",
    )
    parser.add_argument("--json", action="store_true", help="print the summary and timeline as JSON")
    parser.add_argument("--ascii", action="store_true", help="draw the timeline with ASCII characters only")
    parser.set_defaults(run=run)


def build_plan(args: argparse.Namespace) -> LoadPlan:
    """The plan the options describe, or a one-line error naming what is missing or extra."""
    from lambench.core.load import LoadPlan

    chosen = [
        flag
        for flag, value in (("--requests", args.requests), ("--rate", args.rate), ("--burst", args.burst))
        if value is not None
    ]
    if len(chosen) != 1:
        what = "none" if not chosen else " and ".join(chosen)
        raise UserError(
            f"choose one way to send: --requests N, --rate R --duration S or --burst N (got {what})"
        )
    if args.concurrency is not None and args.requests is None:
        raise UserError("--concurrency goes with --requests")
    if (args.duration is not None) != (args.rate is not None):
        raise UserError("--rate and --duration go together: --rate R --duration S")
    for flag, value in (
        ("--requests", args.requests),
        ("--concurrency", args.concurrency),
        ("--burst", args.burst),
    ):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be at least 1, not {value}")
    if args.rate is not None:
        if args.rate <= 0 or args.duration <= 0:
            raise UserError("--rate and --duration must be positive")
        return LoadPlan.steady(args.rate, args.duration)
    if args.burst is not None:
        return LoadPlan.burst(args.burst)
    return LoadPlan.fixed(args.requests, args.concurrency or 1)


def run(args: argparse.Namespace) -> int:
    """Run the load, then print the summary and the environment timeline."""
    from lambench.core.load import LoadRunner
    from lambench.core.runtime.concurrency import UNRESERVED_MINIMUM, ConcurrencyLimits
    from lambench.core.timeline.store import Timeline

    plan = build_plan(args)
    loaded = load_project_functions(args)
    name = require_function(loaded, args.name, args.project)
    embedded = args.name.partition(":")[2] or None
    if embedded and args.qualifier and embedded != args.qualifier:
        raise UserError(f"{args.name} and --qualifier {args.qualifier} name different qualifiers")
    qualifier = embedded or args.qualifier
    if args.provisioned is not None and qualifier is None:
        raise UserError("--provisioned needs a version or alias: give FUNCTION:QUALIFIER or --qualifier")
    options: dict[str, Any] = {}
    try:
        if args.account_limit is not None or args.scaling_rate is not None:
            account = args.account_limit if args.account_limit is not None else 1000
            options["limits"] = ConcurrencyLimits(
                account_limit=account,
                unreserved_minimum=min(UNRESERVED_MINIMUM, account),
                scaling_rate=args.scaling_rate if args.scaling_rate is not None else 1000,
            )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    payload = read_event(args, name)
    interactive = sys.stderr.isatty() and not args.json

    # Provisioned concurrency is configured after the timeline subscribes, so that it sees the
    # provisioned environments being created.
    def publish(function: str) -> bool:
        return function == name and qualifier is not None

    with service_errors(), open_service(args, loaded, publish=publish, **options) as service:
        timeline = Timeline()
        timeline.attach(service)
        # A dry run checks the qualifier and the payload once, so that a mistake is one error
        # rather than thousands of failed requests.
        service.invoke(name, payload, qualifier=qualifier, invocation_type="DryRun")
        _configure(service, args, name, qualifier, loaded.deployments.get(name), interactive)
        runner = LoadRunner(service, name, payload, plan, qualifier=qualifier)
        if not args.json:
            target = f"{name}:{qualifier}" if qualifier else name
            print(f"lambench load {target}: {plan.describe()}", file=sys.stderr)
        report, interrupted = _drive(runner, service, interactive)
        snapshot = timeline.snapshot(start=report.started_at, end=report.ended_at + 0.001, function=name)
    if args.json:
        print(json.dumps(_as_json(report, snapshot), indent=2))
    else:
        _print_summary(report, snapshot, ascii_only=args.ascii or not _can_draw_unicode())
    return 130 if interrupted else 0


def _configure(
    service: LocalLambda,
    args: argparse.Namespace,
    name: str,
    qualifier: str | None,
    deployment: Deployment | None,
    interactive: bool,
) -> None:
    if args.reserved is not None:
        service.put_function_concurrency(name, args.reserved)
    count = args.provisioned
    if count is None and deployment is not None and qualifier == deployment.auto_publish_alias:
        count = deployment.provisioned
    if qualifier is None or not count:
        return
    service.put_provisioned_concurrency(name, qualifier, count)
    if interactive:
        print(f"starting {count} provisioned environments for {name}:{qualifier} ...", file=sys.stderr)
    status = service.wait_provisioned(name, qualifier, timeout_s=900)
    if status.status == "FAILED":
        raise UserError(
            f"provisioned concurrency on {name}:{qualifier} failed: {status.status_reason} "
            "(the function's init fails; see 'lambench invoke')"
        )


def _drive(runner: LoadRunner, service: LocalLambda, interactive: bool) -> tuple[LoadReport, bool]:
    """Run to the end; on Ctrl-C stop sending and drain, on a second Ctrl-C kill what is in flight.

    Ctrl-C only bumps a counter here: a KeyboardInterrupt raised at an arbitrary point could leave
    a lock of the runner's held and hang its client threads.
    """
    bar = _ProgressBar(interactive)
    presses = [0]

    def on_sigint(_signum: int, _frame: object) -> None:
        presses[0] += 1

    previous = signal.signal(signal.SIGINT, on_sigint)
    handled = 0
    try:
        runner.start()
        while not runner.wait(0.1):
            if presses[0] > handled:
                handled = presses[0]
                if handled == 1:
                    runner.stop()
                    bar.clear()
                    in_flight = runner.progress().in_flight
                    print(
                        f"\nlambench: stopping; waiting for {in_flight} invocation(s) in flight "
                        "(Ctrl-C again to kill them)",
                        file=sys.stderr,
                    )
                else:
                    # Closing the service kills the busy runtimes; their invokes return at once.
                    service.close()
            bar.update(runner.progress())
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.clear()
    return runner.report(), presses[0] > 0


class _ProgressBar:
    """A one-line progress bar on stderr, redrawn in place (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._unicode = _can_draw_unicode()
        self._drawn = False

    def update(self, progress: LoadProgress) -> None:
        if not self.enabled:
            return
        width = 24
        share = progress.done / progress.planned if progress.planned else 0.0
        filled = int(share * width)
        full, empty = ("█", "░") if self._unicode else ("#", ".")
        line = (
            f"[{full * filled}{empty * (width - filled)}] {progress.done:,}/{progress.planned:,}"
            f"  in flight {progress.in_flight}  throttled {progress.throttled:,}"
            f"  failed {progress.function_errors + progress.failed:,}  {progress.elapsed_s:.1f} s"
        )
        sys.stderr.write("\r\x1b[2K" + line)
        sys.stderr.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self._drawn = False


def _can_draw_unicode() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding == "utf8"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _print_summary(report: LoadReport, snapshot: Snapshot, *, ascii_only: bool) -> None:
    from lambench.core.timeline.text import render_environments

    s = snapshot.summary
    progress = report.progress
    elapsed = max(progress.elapsed_s, 1e-9)
    failures = "".join(f", {kind} {count}" for kind, count in sorted(report.failures.items()))
    rows = [
        (
            "sent",
            f"{progress.sent:,} of {progress.planned:,}" + (" (stopped early)" if report.stopped else ""),
        ),
        (
            "invocations",
            f"{s.invocations:,} (success {s.successes:,}, errors {s.errors:,}: "
            f"timeouts {s.timeouts:,}, out of memory {s.ooms:,})",
        ),
        ("throttled", f"{s.throttles:,}" + _reasons(s.throttle_reasons)),
        ("cold starts", f"{s.cold_starts:,} ({s.cold_ratio:.1%})"),
        (
            "duration",
            f"p50 {_ms(s.p50_ms)}  p95 {_ms(s.p95_ms)}  p99 {_ms(s.p99_ms)}  max {_ms(s.max_duration_ms)}",
        ),
        ("concurrency", f"max {s.max_concurrency:,}"),
        ("environments", f"{s.environments_created:,} created"),
        ("throughput", f"{progress.done / elapsed:,.1f} requests/s over {progress.elapsed_s:.2f} s"),
        ("GB-seconds", f"{s.gb_seconds:,.4f}"),
        (
            "cost",
            f"${s.cost.total_usd:.7f} (requests ${s.cost.request_usd:.7f}, "
            f"duration ${s.cost.duration_usd:.7f})",
        ),
        ("free tier", f"covers ${s.cost.free_tier_usd:.7f}; leaves ${s.cost.after_free_tier_usd:.7f} to pay"),
    ]
    if progress.failed:
        rows.append(("client errors", f"{progress.failed:,}{failures}"))
    if not s.percentiles_exact and s.invocations:
        rows.append(("note", "percentiles estimated within 1% (detail kept for recent invocations)"))
    for label, value in rows:
        print(f"  {label:<13} {value}")
    print()
    for line in render_environments(
        snapshot, width=TIMELINE_WIDTH, ascii_only=ascii_only, max_rows=TIMELINE_ROWS
    ):
        print(line)


def _reasons(reasons: dict[str, int]) -> str:
    if not reasons:
        return ""
    return " (" + ", ".join(f"{reason} {count:,}" for reason, count in sorted(reasons.items())) + ")"


def _as_json(report: LoadReport, snapshot: Snapshot) -> dict[str, Any]:
    from lambench.core.record import as_dict
    from lambench.core.timeline.export import to_json

    progress = report.progress
    return {
        "function": report.function,
        "qualifier": report.qualifier,
        "plan": as_dict(report.plan),
        "startedAt": report.started_at,
        "endedAt": report.ended_at,
        "stoppedEarly": report.stopped,
        "client": {
            "planned": progress.planned,
            "sent": progress.sent,
            "succeeded": progress.succeeded,
            "functionErrors": progress.function_errors,
            "throttled": progress.throttled,
            "failed": progress.failed,
            "failures": report.failures,
            "late": progress.late,
            "elapsedSeconds": round(progress.elapsed_s, 6),
            "requestsPerSecond": round(progress.done / max(progress.elapsed_s, 1e-9), 3),
        },
        "timeline": to_json(snapshot),
        "generatedAt": time.time(),
    }
