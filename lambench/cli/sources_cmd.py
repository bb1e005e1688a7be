"""`lambench sources [FN]`: the event sources the template wires to functions, and how they are doing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lambench.cli.common import (
    UserError,
    add_project_option,
    load_project_functions,
    print_table,
    require_function,
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `sources` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "List the event sources of the project's template.yaml (SQS, S3, SNS, DynamoDB and Kinesis "
        "streams, EventBridge rules, schedules) with each one's state and counters: records polled, "
        "delivered, failed, filtered and in flight. Sources run while 'lambench serve' or the TUI "
        "holds the project's embedded account; the counters are theirs. Without one running, the "
        "state says so."
    )
    parser.add_argument("function", nargs="?", metavar="FN", help="only this function's sources")
    add_project_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the sources, with live counters when a process runs them."""
    from lambench.core.record import as_dict
    from lambench.core.sources.model import SourceStatus
    from lambench.core.sources.runner import read_status

    loaded = load_project_functions(args)
    if args.function is not None:
        function = require_function(loaded, args.function, args.project)
        sources = [s for s in loaded.sources if s.function == function]
    else:
        sources = list(loaded.sources)
    live = read_status(Path(args.project) / ".lambench" / "sources.json") or []
    by_key = {(status.function, status.name): status for status in live}
    statuses = []
    for source in sources:
        status = by_key.get((source.function, source.name))
        if status is None:
            state = "Disabled" if not source.enabled else "Enabled (needs 'lambench serve' or the TUI)"
            status = SourceStatus(
                function=source.function,
                name=source.name,
                kind=source.kind,
                target=source.target(),
                settings=source.settings(),
                state=state,
            )
        statuses.append(status)
    if args.json:
        print(json.dumps({"sources": as_dict(statuses), "warnings": loaded.warnings}, indent=2))
        return 0
    if not statuses:
        where = f"{args.function} has" if args.function else f"{args.project} has"
        if not loaded.functions:
            raise UserError(f"no functions found: {args.project} has no template.yaml (or it defines none)")
        print(
            f"{where} no event sources (Events: of type SQS, S3, SNS, DynamoDB, Kinesis, "
            "EventBridgeRule or Schedule)"
        )
    else:
        headers = (
            "FUNCTION",
            "EVENT",
            "TYPE",
            "SOURCE",
            "STATE",
            "POLLED",
            "DELIVERED",
            "FAILED",
            "IN FLIGHT",
        )
        rows = [
            (
                s.function,
                s.name,
                s.kind,
                s.target,
                s.state,
                str(s.polled),
                str(s.delivered),
                str(s.failed),
                str(s.in_flight),
            )
            for s in statuses
        ]
        print_table(headers, rows)
        print()
        for s in statuses:
            print(
                f"  {s.function}/{s.name}: {s.settings}"
                + (f"; {s.filtered} filtered out" if s.filtered else "")
            )
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    return 0
