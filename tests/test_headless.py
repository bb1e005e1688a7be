"""The core never imports the UI, and `lambench invoke` never imports boto3, moto or textual."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import lambench.core
from tests.helpers import REPO


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_every_core_module_imports_without_textual_or_rich() -> None:
    names = [m.name for m in pkgutil.walk_packages(lambench.core.__path__, "lambench.core.")]
    assert "lambench.core.runtime.service" in names and "lambench.core.template" in names
    assert "lambench.core.events.catalog" in names and "lambench.core.events.store" in names
    modules = _modules_after("\n".join(f"import {name}" for name in names))
    assert not {m for m in modules if m.split(".")[0] in ("textual", "rich")}


def test_invoke_command_path_does_not_import_heavy_packages() -> None:
    code = (
        "import lambench.cli.main, lambench.cli.invoke_cmd, lambench.core.runtime.service, "
        "lambench.core.template"
    )
    modules = _modules_after(code)
    heavy = {m for m in modules if m.split(".")[0] in ("boto3", "botocore", "moto", "textual", "rich")}
    assert heavy == set()


def test_a_running_embedded_account_imports_no_ui() -> None:
    code = (
        "from lambench.core.embedded.server import EmbeddedMoto\n"
        "moto = EmbeddedMoto()\nmoto.start()\nmoto.stop()\n"
        "import moto.moto_server.werkzeug_app"
    )
    modules = _modules_after(code)
    assert "moto.moto_server.werkzeug_app" in modules
    assert not {m for m in modules if m.split(".")[0] in ("textual", "rich")}
