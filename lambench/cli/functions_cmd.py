"""`lambench functions`: list the project's functions."""

from __future__ import annotations

import argparse
import json

from lambench.cli.common import UserError, add_project_option, load_functions, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `functions` command."""
    parser = subparsers.add_parser(
        "functions",
        help="list the functions of the project",
        description="List the functions that the project's template.yaml defines, with their settings.",
    )
    add_project_option(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List the functions, as a table or JSON."""
    functions = load_functions(args)
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
            }
            for f in functions.values()
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not functions:
        raise UserError(f"no functions found: {args.project} has no template.yaml (or it defines none)")
    headers = ("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "CODE")
    table = [
        (
            f.name,
            f.runtime,
            f.handler or "-",
            f"{f.memory_mb} MB",
            f"{f.timeout_s} s",
            _short(str(f.code_dir)),
        )
        for f in functions.values()
    ]
    print_table(headers, table)
    return 0


def _short(path: str) -> str:
    import os

    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("../..") else path
