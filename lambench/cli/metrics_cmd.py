"""`lambench metrics FN`: a function's CloudWatch metrics over a window, locally or from a real account."""

from __future__ import annotations

import argparse
import json
import time

from lambench.cli.backend_options import add_backend_options, open_backend
from lambench.cli.common import UserError, add_project_option
from lambench.cli.logs_cmd import parse_since
from lambench.core.record import as_dict


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `metrics` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Print Invocations, Errors, Throttles, Duration p50/p99 and the peak of ConcurrentExecutions "
        "(namespace AWS/Lambda) for one function over a window. Locally they come from the embedded "
        "account's CloudWatch, which lambench fills as functions run in this process or in a running "
        "'lambench serve'; with --backend aws, from the account's CloudWatch (one GetMetricData call)."
    )
    parser.add_argument("name", metavar="FN", help="the function")
    add_project_option(parser)
    parser.add_argument(
        "--since", default="1h", metavar="WHEN", help="window start: 30m, 3h, 1d or an ISO time (default: 1h)"
    )
    parser.add_argument(
        "--period",
        type=int,
        default=60,
        metavar="S",
        help="seconds per point, a multiple of 60 (default: 60)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, with the series")
    add_backend_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read and print the metrics."""
    if args.period <= 0 or args.period % 60:
        raise UserError(f"--period {args.period}: give a multiple of 60 seconds")
    end = time.time()
    start = parse_since(args.since, now=end)
    with open_backend(args) as backend:
        summary = backend.metrics(args.name, start, end, args.period)
    if args.json:
        print(json.dumps(as_dict(summary), indent=2))
        return 0

    def show(value: float | None, unit: str = "") -> str:
        return "-" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".") + unit

    window = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.start))
    print(f"{summary.function}  since {window}  ({summary.period_s} s periods)")
    print(
        f"  invocations {show(summary.invocations)}   errors {show(summary.errors)}   "
        f"throttles {show(summary.throttles)}"
    )
    print(
        f"  duration p50 {show(summary.duration_p50_ms, ' ms')}   p99 {show(summary.duration_p99_ms, ' ms')}"
    )
    print(f"  peak concurrency {show(summary.max_concurrent)}")
    return 0
