"""Each command imports only what it runs: other command modules, and the heavy packages, stay unloaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

_MODULES_AFTER_MAIN = """
import contextlib, io, json, sys
from lambench.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        status = main(json.loads(sys.argv[1]))
    except SystemExit as exc:
        status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def _run_main(argv: list[str]) -> tuple[object, set[str]]:
    """Run `lambench ARGV` in a fresh interpreter; its exit status and every module it imported."""
    out = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER_MAIN, json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    ).stdout
    result = json.loads(out.splitlines()[-1])
    return result["status"], set(result["modules"])


def _command_modules(modules: set[str]) -> set[str]:
    return {name for name in modules if name.startswith("lambench.cli.") and name.endswith("_cmd")}


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["no-such-command"]])
def test_top_level_flags_import_no_command_module(argv: list[str]) -> None:
    status, modules = _run_main(argv)
    assert status in (0, 2)
    assert _command_modules(modules) == set()
    assert "lambench.cli.commands" in modules or argv == ["--version"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["invoke", "--help"], {"lambench.cli.invoke_cmd"}),
        (["events", "list", "--help"], {"lambench.cli.events_cmd"}),
        (["env", "--help"], {"lambench.cli.serve_cmd"}),
    ],
)
def test_a_command_imports_its_own_module_only(argv: list[str], expected: set[str]) -> None:
    status, modules = _run_main(argv)
    assert status == 0
    assert _command_modules(modules) == expected
