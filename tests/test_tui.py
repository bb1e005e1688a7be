"""The TUI driven by Textual's pilot: a real local backend, real runtimes, real log tail."""

from __future__ import annotations

import asyncio
import gc
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.widgets import DataTable, Input

from lambench.core.backends.base import Backend
from lambench.core.backends.local import LocalBackend
from lambench.core.template import load_project
from lambench.tui import heap
from lambench.tui.app import LambenchApp
from lambench.tui.dialogs import HelpScreen, QualifierScreen
from lambench.tui.event_form import TemplateFormScreen
from lambench.tui.event_picker import EventPickerScreen
from lambench.tui.widgets import EventEditor, FunctionsPanel, LogLinesView, LogsPanel, ResultView, TitleBar
from tests.helpers import copy_demo
from tests.tui_helpers import REPO, demo_opener, wait_until


@pytest.fixture
def opener(tmp_path: Path) -> Callable[[], Backend]:
    return demo_opener(copy_demo(tmp_path))


def test_invoke_the_selected_function_and_see_result_and_logs(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.query_one(FunctionsPanel)
            await wait_until(pilot, lambda: panel.selected == "hello")
            app.query_one(EventEditor).load('{"name": "pilot"}')
            await pilot.press("escape", "i")
            result = app.query_one(ResultView)
            status = result.query_one("#result-status")
            await wait_until(pilot, lambda: "200" in str(status.render()))
            assert "hello  200  cold" in str(status.render())
            assert '"statusCode": 200' in result.payload_text
            assert "hello pilot" in result.payload_text
            # The function list counts the warm environment the invoke left (warm/busy).
            table = app.query_one("#functions", DataTable)
            await wait_until(pilot, lambda: table.get_row("hello")[1] == "1/0")
            logs = app.query_one(LogsPanel)
            await wait_until(pilot, lambda: any("REPORT RequestId" in line.text for line in logs.lines))
            # `j` shows just that request's lines (its START..REPORT), the filter says so.
            await pilot.press("j")
            request_id = str(status.render()).split("req ")[1].split()[0]
            assert app.query_one("#log-filter", Input).value == f"req:{request_id}"
            visible = logs.shown_lines()
            assert visible and all(line.request_id == request_id for line in visible)

    asyncio.run(scenario())


def test_the_title_names_the_backend_and_long_log_lines_scroll_sideways(
    opener: Callable[[], Backend],
) -> None:
    settled: list[bool] = []

    async def scenario() -> None:
        app = LambenchApp(opener, subtitle="demo", settle_heap=lambda: settled.append(True))
        async with app.run_test(size=(100, 30)) as pilot:
            title = app.query_one(TitleBar)
            assert str(title.render()) == "lambench — demo"
            # Settled after the first paint and again once the backend is open.
            await wait_until(pilot, lambda: app.session is not None)
            # The first paint's settle can come after the backend under load: wait for both.
            await wait_until(pilot, lambda: len(settled) >= 2)
            assert settled == [True, True]
            await wait_until(pilot, lambda: "local engine" in str(title.render()))
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
            await pilot.press("i")
            logs = app.query_one(LogsPanel)
            await wait_until(pilot, lambda: any("REPORT RequestId" in line.text for line in logs.lines))
            view = app.query_one(LogLinesView)
            await wait_until(pilot, lambda: view.virtual_size.width > view.size.width)
            view.focus()
            await pilot.press("right", "right", "right")
            assert view.scroll_x > 0

    asyncio.run(scenario())


def test_f_scopes_the_log_to_the_selected_function_and_back(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
            assert app.session is not None
            backend = app.session.backend
            assert isinstance(backend, LocalBackend)
            backend.service.invoke("hello", b"{}")
            backend.service.invoke("api", b"{}")
            logs = app.query_one(LogsPanel)

            def functions_shown() -> set[str]:
                return {line.function for line in logs.shown_lines()}

            await wait_until(pilot, lambda: functions_shown() == {"hello", "api"})
            await pilot.press("f")
            assert functions_shown() == {"hello"} and logs.border_title == "Logs · hello"
            # Scoped, the log follows the selection.
            await pilot.press("down")
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "api")
            await wait_until(pilot, lambda: functions_shown() == {"api"})
            assert app.query_one("#log-filter", Input).value == "fn:api"
            await pilot.press("f")
            assert functions_shown() == {"hello", "api"} and logs.border_title == "Logs"

    asyncio.run(scenario())


def test_the_heap_is_frozen_once_settled() -> None:
    heap.pause_collection()
    try:
        assert not gc.isenabled()
        heap.settle()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        heap.resume_collection()


def test_invalid_json_is_refused_with_the_reason(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected is not None)
            editor = app.query_one(EventEditor)
            editor.load('{"name": ')
            await pilot.pause()
            assert not editor.valid
            assert "invalid JSON" in str(editor.query_one("#event-status").render())
            await pilot.press("escape", "i")
            await pilot.pause()
            assert "no invoke yet" in str(app.query_one(ResultView).query_one("#result-status").render())
            assert any("not invoked: invalid JSON" in n.message for n in app._notifications)

    asyncio.run(scenario())


def test_themes_load_from_files_and_cycle(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener, theme="lambench-light")
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.theme == "lambench-light"
            await pilot.press("escape", "t")
            assert app.theme.startswith("lambench-") and app.theme != "lambench-light"

    asyncio.run(scenario())


def test_an_unknown_theme_falls_back_with_one_notification(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener, theme="no-such-theme")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.theme == "lambench-dark"
            assert [n.message for n in app._notifications if "no-such-theme" in n.message] == [
                "no theme named 'no-such-theme'; using lambench-dark"
            ]

    asyncio.run(scenario())


def test_a_backend_that_fails_to_open_is_a_notification(tmp_path: Path) -> None:
    async def scenario() -> None:
        def broken() -> Backend:
            raise ValueError("template.yaml:3: Resources: expected a mapping")

        app = LambenchApp(broken)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(
                pilot, lambda: any("expected a mapping" in n.message for n in app._notifications)
            )
            assert app.session is None

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_smoke_in_a_real_terminal_under_tmux(tmp_path: Path) -> None:
    """`lambench` in tmux: the screen paints, `i` invokes hello, the result shows, ctrl+q quits."""
    import os
    import subprocess
    import sys

    from tests.helpers import wait_for

    project_dir = copy_demo(tmp_path)
    socket = f"lambench-test-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    command = f"{sys.executable} -m lambench --project {project_dir}"
    subprocess.run([*tmux, "new-session", "-d", "-s", "smoke", "-x", "100", "-y", "30", command], check=True)
    try:

        def pane() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-t", "smoke", "-p"], capture_output=True, text=True
            ).stdout

        assert wait_for(lambda: "hello" in pane() and "Functions" in pane(), timeout=30), pane()
        subprocess.run([*tmux, "send-keys", "-t", "smoke", "i"], check=True)
        assert wait_for(lambda: "hello  200  cold" in pane(), timeout=30), pane()
        assert wait_for(lambda: "REPORT RequestId" in pane(), timeout=30), pane()
        subprocess.run([*tmux, "send-keys", "-t", "smoke", "C-q"], check=True)
        assert wait_for(
            lambda: (
                subprocess.run([*tmux, "has-session", "-t", "smoke"], capture_output=True).returncode != 0
            ),
            timeout=30,
        )
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


_PLANTED_BUG = """
import sys
from lambench.tui import widgets

def broken(self, *args, **kwargs):
    raise RuntimeError("a bug planted by the test")

widgets.ResultView.show = broken
from lambench.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_an_unexpected_error_in_a_real_terminal_is_a_readable_report_and_nothing_is_left(
    tmp_path: Path,
) -> None:
    """A bug (planted by the test) while showing a result: a short report, no traceback dump, the
    traceback in a file, and no function process left running."""
    import os
    import subprocess
    import sys

    from tests.helpers import wait_for

    project_dir = copy_demo(tmp_path)
    script = tmp_path / "planted.py"
    script.write_text(_PLANTED_BUG)
    socket = f"lambench-test-crash-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    command = f"{sys.executable} {script} --project {project_dir}; echo EXITED $?; sleep 60"
    subprocess.run([*tmux, "new-session", "-d", "-s", "crash", "-x", "100", "-y", "30", command], check=True)
    try:

        def pane() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-t", "crash", "-p"], capture_output=True, text=True
            ).stdout

        assert wait_for(lambda: "hello" in pane() and "Functions" in pane(), timeout=30), pane()
        subprocess.run([*tmux, "send-keys", "-t", "crash", "i"], check=True)
        assert wait_for(lambda: "EXITED 1" in pane(), timeout=30), pane()
        text = pane()
        assert "lambench stopped after an unexpected error" in text
        assert "RuntimeError: a bug planted by the test" in text
        assert "Traceback" not in text
        (report,) = (project_dir / ".lambench").glob("crash-*.log")
        assert "RuntimeError: a bug planted by the test" in report.read_text()
        if Path("/proc").is_dir():
            # The invoked runtime ran in the function's directory: nothing may still be there.
            def left() -> list[str]:
                found = []
                for entry in Path("/proc").iterdir():
                    try:
                        if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(str(project_dir)):
                            found.append(entry.name)
                    except OSError:
                        continue
                return found

            assert wait_for(lambda: not left(), timeout=10), left()
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_choose_a_qualifier_and_invoke_the_alias(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.query_one(FunctionsPanel)
            await wait_until(pilot, lambda: panel.selected == "hello")
            assert app.session is not None
            service = app.session.backend.service  # type: ignore[attr-defined]
            version = service.publish_version("hello")
            service.create_alias("hello", "live", version.number)
            await pilot.press("q")
            await wait_until(pilot, lambda: isinstance(app.screen, QualifierScreen))
            await pilot.press("down", "down", "enter")
            await wait_until(pilot, lambda: app.qualifiers.get("hello") == "live")
            assert app.query_one(EventEditor).border_title == "Event for hello:live"
            await pilot.press("i")
            result = app.query_one(ResultView)
            await wait_until(pilot, lambda: "200" in str(result.query_one("#result-status").render()))
            assert app.query_one(FunctionsPanel).selected == "hello"

    asyncio.run(scenario())


def test_help_lists_the_keys_and_the_palette_has_every_action(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected is not None)
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
            keys = str(app.screen.query_one("#help-keys").render())
            assert "i  " in keys and "Invoke" in keys and "?" in keys
            await pilot.press("escape")
            titles = [command.title for command in app.get_system_commands(app.screen)]
            for wanted in (
                "Invoke",
                "Invoke again",
                "Choose qualifier",
                "Filter logs",
                "Theme: lambench-light",
            ):
                assert wanted in titles
            # Every key's action is in the palette too.
            callbacks = [command.callback for command in app.get_system_commands(app.screen)]
            for binding in app.BINDINGS:
                assert isinstance(binding, Binding)
                assert getattr(app, f"action_{binding.action}") in callbacks, binding.action

    asyncio.run(scenario())


def test_pick_a_template_from_the_app_and_invoke_with_it(
    opener: Callable[[], Backend], tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener, project_dir=tmp_path / "demo")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EventPickerScreen))
            await pilot.press(*"s3put", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, TemplateFormScreen))
            await pilot.press("enter")
            editor = app.query_one(EventEditor)
            await wait_until(pilot, lambda: '"eventSource": "aws:s3"' in editor.text)
            assert editor.valid

    asyncio.run(scenario())


def test_v_opens_the_visualizer_and_main_keys_stay_off_under_it(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        from lambench.tui.visualizer import VisualizerScreen

        app = LambenchApp(opener)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
            await pilot.press("v")
            await wait_until(pilot, lambda: isinstance(app.screen, VisualizerScreen))
            # F5 is a priority key of the main screen: it must not invoke behind the visualizer.
            await pilot.press("f5")
            await pilot.pause()
            assert "no invoke yet" in str(app.query_one(ResultView).query_one("#result-status").render())
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, VisualizerScreen))

    asyncio.run(scenario())


def test_a_broken_theme_file_is_one_notification_and_the_rest_load(
    opener: Callable[[], Backend], tmp_path: Path
) -> None:
    themes = tmp_path / "themes"
    shutil.copytree(REPO / "themes", themes)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (themes / "garbled.toml").write_text("name = \n")

    async def scenario() -> None:
        app = LambenchApp(opener, theme="broken", theme_dirs=(themes,))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            messages = [n.message for n in app._notifications]
            assert "theme skipped: broken.toml: primary = 'not-a-colour' is not a color" in messages
            assert any(m.startswith("theme skipped: garbled.toml: not valid TOML") for m in messages)
            assert "no theme named 'broken'; using lambench-dark" in messages
            assert app.theme == "lambench-dark"
            assert "lambench-contrast" in app.available_themes

    asyncio.run(scenario())


def test_a_hot_reload_shows_as_a_notification(tmp_path: Path) -> None:
    from lambench.core.reload import HotReloader

    project_dir = copy_demo(tmp_path)

    def open_backend() -> Backend:
        project = load_project(project_dir)
        backend = LocalBackend(project.functions.values(), project_dir=project_dir, share=False)
        reloader = HotReloader(
            backend.service, project_dir=project_dir, template=project_dir / "template.yaml"
        )
        reloader.start()
        backend.close_with(reloader.close)
        return backend

    async def scenario() -> None:
        app = LambenchApp(open_backend)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
            app_py = project_dir / "hello" / "app.py"
            app_py.write_text(app_py.read_text().replace("hello world", "hello again"))
            wanted = "reloaded hello (hello/app.py changed; 0 environments retired)"
            await wait_until(pilot, lambda: any(n.message == wanted for n in app._notifications))

    asyncio.run(scenario())


def test_an_async_invoke_is_accepted_with_202(opener: Callable[[], Backend]) -> None:
    async def scenario() -> None:
        app = LambenchApp(opener)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
            await pilot.press("a")
            status = app.query_one(ResultView).query_one("#result-status")
            await wait_until(pilot, lambda: "hello  202" in str(status.render()))
            logs = app.query_one(LogsPanel)
            # The function still runs: its REPORT reaches the log.
            await wait_until(pilot, lambda: any("REPORT RequestId" in line.text for line in logs.lines))

    asyncio.run(scenario())


def test_an_unexpected_error_saves_a_report_and_closes_the_backend(tmp_path: Path) -> None:
    closed: list[bool] = []

    def open_backend() -> Backend:
        backend = demo_opener(copy_demo(tmp_path))()

        class Breaking:
            """Answers an invoke with something the UI cannot show: a bug to survive."""

            kind = "local"
            description = "breaking"
            can_invoke = True

            def __getattr__(self, name: str) -> Any:
                return getattr(backend, name)

            def invoke(self, *args: Any, **kwargs: Any) -> Any:
                return None

            def close(self) -> None:
                closed.append(True)
                backend.close()

        return Breaking()

    async def scenario() -> None:
        app = LambenchApp(open_backend, project_dir=tmp_path)
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected == "hello")
                await pilot.press("i")
                await wait_until(pilot, lambda: app.crash_report is not None)
        except Exception as exc:
            assert isinstance(exc, AttributeError)  # run_test re-raises the app's error
        assert app.crash_report is not None and app.crash_report.is_file()
        assert "AttributeError" in app.crash_report.read_text()
        assert closed == [True]

    asyncio.run(scenario())


def test_the_tui_says_where_the_front_door_serves_the_demos_routes(tmp_path: Path) -> None:
    """As `lambench tui` opens it: the template's Api routes on a free port, named in a notice."""
    import http.client
    import json
    import re

    from lambench.core.backends.build import build_local_backend

    project_dir = copy_demo(tmp_path)

    def open_backend() -> Backend:
        backend = build_local_backend(load_project(project_dir), project_dir, share=False)
        backend.start_front_doors()
        return backend

    async def scenario() -> None:
        app = LambenchApp(open_backend)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(
                pilot, lambda: any("HTTP front door" in (n.title or "") for n in app._notifications)
            )
            notice = next(n.message for n in app._notifications if "HTTP front door" in (n.title or ""))
            match = re.fullmatch(r"APIs \(4 routes\) at http://127\.0\.0\.1:(\d+)", notice)
            assert match, notice
            connection = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=20)
            connection.request("GET", "/hello")
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["message"] == "hello world"
            connection.close()

    asyncio.run(scenario())
