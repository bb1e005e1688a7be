"""`lambench watch`: print a line for every hot reload until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from lambench.cli.common import add_project_and_runtime_options, load_project_functions, open_local_backend
from lambench.cli.hot_reload import describe, hot_reload, until_interrupted


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `watch` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Watch the project's function code, layers and template.yaml, and print a line for every "
        "reload: which files changed, which functions were reloaded and how many environments were "
        "retired, or the template's error (the last good configuration stays). A file touched "
        "without a change, or an editor's save storm, reloads nothing or once."
    )
    add_project_and_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print reload records until interrupted."""
    import queue

    from lambench.core.runtime.records import ReloadRecord

    loaded = load_project_functions(args)
    records: queue.SimpleQueue[ReloadRecord] = queue.SimpleQueue()
    with open_local_backend(args, loaded) as backend, hot_reload(backend, args, loaded):
        backend.service.subscribe(lambda r: records.put(r) if isinstance(r, ReloadRecord) else None)
        names = ", ".join(loaded.functions) or "no functions"
        print(f"lambench: watching {names} (Ctrl-C to stop)", file=sys.stderr, flush=True)

        def show() -> None:
            while not records.empty():
                print(describe(records.get()), flush=True)

        until_interrupted(show)
    return 0
