"""Each command imports only what it runs: other command modules, and the heavy packages, stay unloaded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import REPO

# The command's own output goes to /dev/null at the descriptor level (invoke writes bytes to
# stdout's buffer); the module list is written to a file named on the command line.
_MODULES_AFTER_MAIN = """
import json, os, sys
from lambench.cli.main import main
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
os.dup2(null, 2)
try:
    status = main(json.loads(sys.argv[1]))
except SystemExit as exc:
    status = exc.code
with open(sys.argv[2], "w") as out:
    json.dump({"status": status, "modules": sorted(sys.modules)}, out)
"""

#: What a command that never talks to AWS nor draws a UI must not import (the issue's list).
HEAVY = ("boto3", "botocore", "moto", "textual", "rich", "watchdog", "yaml")


def _run_main(argv: list[str], cwd: Path = REPO) -> tuple[object, set[str]]:
    """Run `lambench ARGV` in a fresh interpreter; its exit status and every module it imported."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "modules.json"
        subprocess.run(
            [sys.executable, "-c", _MODULES_AFTER_MAIN, json.dumps(argv), str(report)],
            check=True,
            cwd=cwd,
            timeout=60,
        )
        result = json.loads(report.read_text())
    return result["status"], set(result["modules"])


def _heavy(modules: set[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in HEAVY}


def _command_modules(modules: set[str]) -> set[str]:
    return {name for name in modules if name.startswith("lambench.cli.") and name.endswith("_cmd")}


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["no-such-command"]])
def test_top_level_flags_import_no_command_module(argv: list[str]) -> None:
    status, modules = _run_main(argv)
    assert status in (0, 2)
    assert _command_modules(modules) == set()
    assert "lambench.cli.commands" in modules or argv == ["--version"]
    assert "typing" not in modules  # a tenth of `lambench --help`'s wall time


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


def test_version_imports_nothing_heavy_and_no_command() -> None:
    status, modules = _run_main(["--version"])
    assert status == 0
    assert _heavy(modules) == set()
    assert not {name for name in modules if name.startswith("lambench.") and name != "lambench.cli.main"} - {
        "lambench.cli",
        "lambench.cli.errors",
    }


def test_an_invoke_that_makes_no_aws_call_imports_nothing_heavy(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    shutil.copytree(REPO / "demo_functions", project, ignore=shutil.ignore_patterns(".lambench"))
    argv = ["invoke", "hello", "--project", str(project), "--event-json", '{"name": "Ada"}']
    status, cold = _run_main(argv, cwd=tmp_path)
    assert status == 0
    assert "yaml" in cold and _heavy(cold) == {name for name in cold if name.split(".")[0] == "yaml"}
    # The second run finds the parsed template in .lambench/cache/: no YAML either.
    status, warm = _run_main(argv, cwd=tmp_path)
    assert status == 0
    assert _heavy(warm) == set()
    assert "lambench.core.runtime.service" in warm  # it really ran the engine


def test_an_ad_hoc_handler_invoke_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    argv = ["invoke", "--handler", "app.handler", "--code-dir", str(tmp_path), "--event-json", "{}"]
    status, modules = _run_main(argv, cwd=tmp_path)
    assert status == 0
    assert _heavy(modules) == set()
    assert "lambench.core.template.reader" not in modules  # no template to read


def test_an_invoke_defines_its_records_without_dataclasses(tmp_path: Path) -> None:
    # `dataclasses` brings `inspect`, `ast` and `dis` and compiles every generated method apart:
    # the engine's records are `lambench.core.record` classes, so a one-shot invoke loads neither.
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    argv = ["invoke", "--handler", "app.handler", "--code-dir", str(tmp_path), "--event-json", "{}"]
    status, modules = _run_main(argv, cwd=tmp_path)
    assert status == 0
    assert "lambench.core.runtime.invoke_api" in modules
    assert {"dataclasses", "inspect", "ast", "dis"} & modules == set()


def test_events_generate_loads_neither_openssl_nor_shutil() -> None:
    # SQS's MD5OfBody comes from CPython's built-in MD5; every parser formats with lambench's
    # HelpFormatter, which knows the width without shutil.
    status, modules = _run_main(["events", "generate", "sqs", "receive-message"])
    assert status == 0
    assert "lambench.core.events.expressions" in modules
    assert {"_hashlib", "shutil"} & modules == set()


_GETTEXT_SEARCHES = """
import gettext, json, os, sys
searches = []
original = gettext.find
gettext.find = lambda *args, **kwargs: searches.append(args) or original(*args, **kwargs)
from lambench.cli.main import main
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
os.dup2(null, 2)
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
with open(sys.argv[2], "w") as out:
    json.dump(len(searches), out)
"""


@pytest.mark.parametrize("argv", [["invoke", "--help"], ["events", "generate", "--help"], ["invoke"]])
def test_argparse_looks_its_message_catalog_up_once(tmp_path: Path, argv: list[str]) -> None:
    # argparse asks gettext for every string it uses; without a catalog each ask searched the
    # locale directories again (about sixty searches a command).
    report = tmp_path / "searches.json"
    command = [sys.executable, "-c", _GETTEXT_SEARCHES, json.dumps(argv), str(report)]
    subprocess.run(command, check=True, cwd=REPO, timeout=60)
    assert json.loads(report.read_text()) == 1
