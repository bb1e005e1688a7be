"""`lambench` with no command (or `lambench tui`): the terminal UI."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lambench.cli.backend_options import add_backend_options, aws_backend, check_backend_options
from lambench.cli.common import add_project_and_runtime_options, load_project_functions, local_backend

if TYPE_CHECKING:
    from lambench.core.backends.base import Backend
    from lambench.core.backends.local import LocalBackend


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `tui` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Open lambench's terminal UI on the project: functions, the event editor, results, live logs "
        "and hot reload. With --backend aws it shows a real account's functions and logs; invoking "
        "them needs --allow-invoke."
    )
    add_project_and_runtime_options(parser)
    parser.add_argument(
        "--theme", metavar="NAME", help="lambench-dark (default), lambench-light, lambench-contrast"
    )
    add_backend_options(parser, invoke=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the app until the user quits."""
    check_backend_options(args)
    from lambench.tui import heap

    # Collection waits until the first paint (it is about 7% of the time to get there).
    heap.pause_collection()
    try:
        # The project is read in the app's worker (a broken template becomes a notification), so
        # the screen paints before any of it.
        from lambench.tui.app import LambenchApp

        subtitle = str(Path(args.project).resolve().name) if args.backend == "local" else "AWS"
        app = LambenchApp(
            lambda: open_for_tui(args),
            subtitle=subtitle,
            theme=args.theme,
            project_dir=Path(args.project).resolve(),
            settle_heap=heap.settle,
        )
        try:
            app.run()
        finally:
            # Whatever ended the app (quit, an unexpected error), no runtime or server outlives it.
            if app.session is not None:
                app.session.close()
    finally:
        heap.resume_collection()
    return 0 if app.return_code in (None, 0) else 1


def _serve_http(backend: LocalBackend) -> None:
    """The template's routes and function URLs on free ports; the app says where (or why not)."""
    from lambench.core.http.server import FrontDoorError

    try:
        backend.start_front_doors()
    except FrontDoorError as exc:
        backend.front_door_error = str(exc)


def open_for_tui(args: argparse.Namespace) -> Backend:
    """The backend the options choose, with hot reload running for a local project (worker thread)."""
    if args.backend == "aws":
        return aws_backend(args)
    from lambench.cli.hot_reload import start_hot_reload

    loaded = load_project_functions(args)
    # Every AutoPublishAlias is kept current (the TUI may invoke any alias); nothing is provisioned
    # until asked for.
    backend = local_backend(args, loaded, publish=lambda function: True)
    try:
        backend.close_with(start_hot_reload(backend, args, loaded).close)
        # The TUI holds the account (unless 'lambench serve' does): its queues, buckets and
        # schedules trigger the functions while it runs.
        backend.start_event_sources()
        _serve_http(backend)
    except BaseException:
        backend.close()
        raise
    # The TUI shows its own engine's lines straight from memory (the flood-proof path).
    backend.tail_source = "engine"
    return backend
