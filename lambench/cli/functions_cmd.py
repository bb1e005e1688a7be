"""`lambench functions [NAME]`: list the functions, or show one in detail, from either backend."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from lambench.cli.backend_options import add_backend_options, check_backend_options, open_backend
from lambench.cli.common import UserError, add_project_option, load_project_functions, print_table


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `functions` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "List the functions of the project's template.yaml (or, with --backend aws, of a real "
        "account), or show one function's configuration, versions, aliases, concurrency and tags. "
        "Values of secret-looking environment variables are masked unless --show-secrets is given."
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="show this function in detail")
    add_project_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--show-secrets", action="store_true", help="do not mask secret-looking variables")
    add_backend_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List the functions, or describe one."""
    check_backend_options(args)
    if args.name is None and args.backend == "local":
        return _list_project(args)
    with open_backend(args) as backend:
        if args.name is not None:
            detail = backend.describe_function(args.name, show_secrets=args.show_secrets)
            _print_detail(detail, args.json)
            return 0
        functions = backend.list_functions()
    if args.json:
        print(json.dumps([vars(f) for f in functions], indent=2))
        return 0
    if not functions:
        print("no functions in this account and region")
        return 0
    headers = ("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "ARCH", "LAST MODIFIED")
    rows = [
        (
            f.name,
            f.runtime or "-",
            f.handler or "-",
            f"{f.memory_mb} MB",
            f"{f.timeout_s} s",
            f.architecture,
            (f.last_modified or "-")[:19],
        )
        for f in functions
    ]
    print_table(headers, rows)
    return 0


def _list_project(args: argparse.Namespace) -> int:
    loaded = load_project_functions(args)
    functions = loaded.functions
    triggers: dict[str, list[str]] = {}
    for source in loaded.sources:
        kinds = triggers.setdefault(source.function, [])
        if source.kind not in kinds:
            kinds.append(source.kind)
    if args.json:
        rows = [
            {
                "name": f.name,
                "runtime": f.runtime,
                "handler": f.handler,
                "memorySizeMB": f.memory_mb,
                "timeoutSeconds": f.timeout_s,
                "codeDir": str(f.code_dir),
                "environment": dict(f.environment),
                "layers": [str(layer) for layer in f.layers],
                "logFormat": f.logging.log_format,
                "ephemeralStorageMB": f.ephemeral_storage_mb,
                "triggers": triggers.get(f.name, []),
            }
            for f in functions.values()
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not functions:
        raise UserError(f"no functions found: {args.project} has no template.yaml (or it defines none)")
    headers = ("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "CODE", "TRIGGERS")
    table = [
        (
            f.name,
            f.runtime,
            f.handler or "-",
            f"{f.memory_mb} MB",
            f"{f.timeout_s} s",
            _short(str(f.code_dir)),
            ", ".join(triggers.get(f.name, [])) or "-",
        )
        for f in functions.values()
    ]
    print_table(headers, table)
    return 0


def _print_detail(detail: Any, as_json: bool) -> None:
    from lambench.core.record import as_dict

    if as_json:
        print(json.dumps(as_dict(detail), indent=2))
        return
    s = detail.summary
    lines = [
        f"{s.name}  ({detail.arn})",
        f"  runtime      {s.runtime or '-'}   handler {s.handler or '-'}   {s.architecture}",
        f"  memory       {s.memory_mb} MB   timeout {s.timeout_s} s",
        f"  role         {detail.role or '-'}",
        f"  logs         {detail.log_group} ({detail.log_format})",
        f"  reserved     {'-' if detail.reserved_concurrency is None else detail.reserved_concurrency}",
    ]
    if s.description:
        lines.insert(1, f"  description  {s.description}")
    if s.last_modified:
        lines.append(f"  modified     {s.last_modified}")
    print("\n".join(lines))
    _section("environment", [f"{key}={value}" for key, value in sorted(detail.environment.items())])
    _section("layers", list(detail.layers))
    _section(
        "versions",
        [f"{v.version}  {v.description}".rstrip() for v in detail.versions],
    )
    aliases = []
    for alias in detail.aliases:
        weights = ", ".join(f"{version}={weight:g}" for version, weight in alias.weights.items())
        aliases.append(f"{alias.name} -> {alias.version}" + (f"  (+ {weights})" if weights else ""))
    _section("aliases", aliases)
    _section(
        "provisioned",
        [
            f"{p.qualifier}: {p.available}/{p.requested} available, {p.status}"
            + (f" ({p.reason})" if p.reason else "")
            for p in detail.provisioned
        ],
    )
    _section("tags", [f"{key}={value}" for key, value in sorted(detail.tags.items())])


def _section(title: str, lines: list[str]) -> None:
    if lines:
        print(f"  {title}")
        for line in lines:
            print(f"    {line}")


def _short(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("../..") else path
