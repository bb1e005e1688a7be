"""`lambench tune FN`: the function at several memory sizes, with CPU scaled to memory; the cheapest,
the fastest and the balanced size."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

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
    from lambench.core.tune import TuneReport


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `tune` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Run a function at each memory size on the local engine, with CPU in proportion to memory as "
        "on AWS (one vCPU at 1,769 MB; a cgroup quota where lambench may create cgroups, else a duty "
        "cycle), and report per size the cold start, warm p50/p95 duration, billed duration and cost "
        "per invocation and per million (x86_64 and arm64), with the size the strategy recommends."
    )
    parser.epilog = (
        "example:  lambench tune hello --memory 128,512,1024,1769 --requests 20 --strategy balanced"
    )
    parser.add_argument("name", metavar="FUNCTION", help="the function to tune")
    add_project_and_runtime_options(parser)
    parser.add_argument(
        "--memory",
        default=None,
        metavar="LIST",
        help="sizes in MB, comma-separated (default 128,256,512,1024,1769,3008)",
    )
    parser.add_argument(
        "--requests", type=int, default=10, metavar="N", help="invocations per size (default 10)"
    )
    parser.add_argument("--concurrency", type=int, default=1, metavar="C", help="at once (default 1)")
    parser.add_argument(
        "--strategy",
        choices=("cost", "speed", "balanced"),
        default="balanced",
        help="what to recommend (default balanced)",
    )
    add_event_options(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--svg", metavar="FILE", help="also write the chart (duration and cost) as SVG")
    parser.add_argument("--html", metavar="FILE", help="also write a page with the chart and the table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Tune, print the table, the chart and the recommendation."""
    from lambench.core.tune import DEFAULT_SIZES, TuneError, Tuner, parse_sizes

    try:
        sizes = parse_sizes(args.memory) if args.memory is not None else DEFAULT_SIZES
    except TuneError as exc:
        raise UserError(str(exc)) from None
    loaded = load_project_functions(args)
    name = require_function(loaded, args.name, args.project)
    payload = read_event(args, name)
    interactive = sys.stderr.isatty() and not args.json
    with service_errors(), open_service(args, loaded, cpu_scaling=args.cpu_scaling or "auto") as service:
        try:
            tuner = Tuner(service, name, payload, requests=args.requests, concurrency=args.concurrency)
        except TuneError as exc:
            raise UserError(str(exc)) from None

        def progress(size: int, done: int, total: int) -> None:
            if interactive:
                filled = done * 20 // total
                bar = "#" * filled + "." * (20 - filled)
                print(f"\r  {size:>5} MB [{bar}] {done}/{total}", end="", file=sys.stderr, flush=True)
                if done == total:
                    print(file=sys.stderr)

        if not args.json:
            print(
                f"lambench tune {name}: {len(sizes)} sizes x {args.requests} invocations, CPU by "
                f"{service.cpu.name}",
                file=sys.stderr,
            )
        report = tuner.run(sizes, args.strategy, progress)
    _export(report, args)
    if args.json:
        print(json.dumps(as_json(report), indent=2))
    else:
        print_report(report)
    return 0


def _export(report: TuneReport, args: argparse.Namespace) -> None:
    from pathlib import Path

    from lambench.core.tune_chart import tune_html, tune_svg

    for option, target, render in (("--svg", args.svg, tune_svg), ("--html", args.html, tune_html)):
        if not target:
            continue
        try:
            Path(target).write_text(render(report), encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{option} {target}: {exc.strerror}") from None
        if not args.json:
            print(f"lambench tune: wrote {target}", file=sys.stderr)


def as_json(report: TuneReport) -> dict[str, object]:
    """The report as plain JSON (costs in dollars)."""
    return {
        "function": report.function,
        "strategy": report.strategy,
        "cpu_mechanism": report.cpu_mechanism,
        "recommended_memory_mb": report.recommended_mb,
        "sizes": [
            {
                "memory_mb": r.memory_mb,
                "vcpus": round(r.cpu_vcpus, 3),
                "cold_ms": r.cold_ms,
                "cold_init_ms": r.cold_init_ms,
                "warm_invocations": r.warm,
                "errors": r.errors,
                "p50_ms": r.p50_ms,
                "p95_ms": r.p95_ms,
                "billed_ms": r.billed_ms,
                "cost_per_invocation": {"x86_64": r.cost_x86, "arm64": r.cost_arm},
                "cost_per_million": {"x86_64": r.cost_x86_per_million, "arm64": r.cost_arm_per_million},
            }
            for r in report.results
        ],
    }


def print_report(report: TuneReport) -> None:
    """The table, a chart of duration and cost against memory, and the recommendation."""
    from lambench.core.tune import report_lines

    print("\n".join(report_lines(report)))
