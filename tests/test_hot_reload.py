"""Hot reload: real files, real watchdog events, real runtimes; never stale code."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambench.core.reload import HotReloader
from lambench.core.reload.files import is_ignored
from lambench.core.runtime.records import ReloadRecord
from lambench.core.runtime.service import LocalLambda
from lambench.core.template import load_project
from tests.helpers import wait_for

HANDLER = "import time\n\nVALUE = {value!r}\n\n\ndef handler(event, context):\n{body}    return VALUE\n"


def handler_code(value: object, *, sleep_s: float = 0.0) -> str:
    body = f"    time.sleep({sleep_s})\n" if sleep_s else ""
    return HANDLER.format(value=value, body=body)


TEMPLATE = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: {memory}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: other
      CodeUri: other/
      Handler: app.handler
      Runtime: python3.12
"""


class Project:
    """A project on disk with a service and a started reloader, and the reload records seen."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("fn", "other"):
            (root / name).mkdir()
            (root / name / "app.py").write_text(handler_code(f"{name} 1"))
        self.template = root / "template.yaml"
        self.template.write_text(TEMPLATE.format(memory=128))
        project = load_project(root)
        self.service = LocalLambda(project.functions.values())
        self.records: list[ReloadRecord] = []
        self.service.subscribe(lambda r: self.records.append(r) if isinstance(r, ReloadRecord) else None)
        self.reloader = HotReloader(
            self.service, project_dir=root, template=self.template, deployments=project.deployments
        )
        self.reloader.start()

    def value(self, name: str = "fn") -> object:
        result = self.service.invoke(name, b"{}")
        assert result.function_error is None, result.payload
        return result.payload_json()

    def write(self, relative: str, text: str) -> None:
        (self.root / relative).write_text(text)

    def wait_records(self, count: int) -> list[ReloadRecord]:
        assert wait_for(lambda: len(self.records) >= count, timeout=10), self.records
        return list(self.records)

    def close(self) -> None:
        self.reloader.close()
        self.service.close()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    made = Project(tmp_path)
    yield made
    made.close()


def test_the_next_invoke_after_a_change_runs_the_new_code(project: Project) -> None:
    assert project.value() == "fn 1"
    project.write("fn/app.py", handler_code("fn 2"))
    [record] = project.wait_records(1)
    assert record.functions == ("fn",) and record.files == ("fn/app.py",) and record.retired == 1
    result = project.service.invoke("fn", b"{}")
    assert result.payload_json() == "fn 2" and result.figures.cold
    # The other function's warm environment was left alone.
    assert project.value("other") == "other 1"


def test_same_size_edits_in_the_same_second_are_never_stale(project: Project) -> None:
    # A .pyc is trusted on (size, whole-second mtime): each edit here keeps both.
    project.value()
    for digit in "23456789":
        project.write("fn/app.py", handler_code(f"fn {digit}"))
        wanted = len(project.records) + 1
        project.wait_records(wanted)
        assert project.value() == f"fn {digit}"


def test_a_save_storm_is_one_reload(project: Project) -> None:
    project.value()
    for step in range(5):
        project.write("fn/app.py", handler_code(f"storm {step}"))
        time.sleep(0.01)  # the storm itself: five writes 10 ms apart
    first = project.wait_records(1)
    # A sentinel change to another function: once its reload is seen, anything the storm could
    # still have caused would have come before it.
    project.write("other/app.py", handler_code("sentinel"))
    records = project.wait_records(2)
    assert [r.functions for r in records] == [("fn",), ("other",)], records
    assert first[0].files == ("fn/app.py",)
    assert project.value() == "storm 4"


def test_an_unchanged_rewrite_and_editor_files_reload_nothing(project: Project) -> None:
    project.value()
    project.write("fn/app.py", handler_code("fn 1"))  # same content
    (project.root / "fn" / "app.py").touch()
    project.write("fn/.app.py.swp", "swap")
    project.write("fn/app.py~", "backup")
    (project.root / "fn" / "__pycache__").mkdir(exist_ok=True)
    project.write("fn/__pycache__/x.cpython-311.pyc", "junk")
    project.write("notes.txt", "outside every function")
    project.write("other/app.py", handler_code("sentinel"))
    records = project.wait_records(1)
    assert [r.functions for r in records] == [("other",)]


def test_a_busy_environment_finishes_with_old_code_then_the_next_invoke_is_new(project: Project) -> None:
    project.write("fn/app.py", handler_code("old", sleep_s=1.0))
    project.wait_records(1)
    assert project.value() == "old"  # a warm environment holding the old code
    results: list[object] = []
    busy = threading.Thread(target=lambda: results.append(project.value()))
    busy.start()
    assert wait_for(lambda: any(e.busy for e in project.service.environments("fn")), timeout=10)
    project.write("fn/app.py", handler_code("new"))
    project.wait_records(2)
    # From the moment the change was processed, a new invocation gets the new code.
    assert project.value() == "new"
    busy.join(timeout=10)
    assert results == ["old"]
    # The busy environment was retired after its invocation, not pooled.
    assert wait_for(lambda: len(project.service.environments("fn")) == 1, timeout=10)


def test_a_syntax_error_is_reported_as_aws_does_and_fixing_it_recovers(project: Project) -> None:
    project.value()
    project.write("fn/app.py", "def handler(event, context)\n    return 1\n")
    project.wait_records(1)
    broken = project.service.invoke("fn", b"{}")
    assert broken.function_error == "Unhandled"
    assert broken.payload_json()["errorType"] == "Runtime.UserCodeSyntaxError"
    project.write("fn/app.py", "import not_a_module_anywhere\n")
    project.wait_records(2)
    missing = project.service.invoke("fn", b"{}")
    assert missing.payload_json()["errorType"] == "Runtime.ImportModuleError"
    project.write("fn/app.py", handler_code("fixed"))
    project.wait_records(3)
    assert project.value() == "fixed"


def test_a_template_change_reloads_configuration(project: Project) -> None:
    assert project.service.invoke("fn", b"{}").figures.memory_size_mb == 128
    project.template.write_text(TEMPLATE.format(memory=512))
    [record] = project.wait_records(1)
    assert record.files == ("template.yaml",)
    assert set(record.functions) == {"fn"}
    assert project.service.invoke("fn", b"{}").figures.memory_size_mb == 512


def test_an_invalid_template_keeps_the_last_good_configuration(project: Project) -> None:
    project.value()
    project.template.write_text(TEMPLATE.format(memory=99999))
    [record] = project.wait_records(1)
    assert record.error is not None and record.error.startswith("template.yaml:")
    assert "MemorySize" in record.error and record.functions == ()
    assert project.value() == "fn 1"
    # Fixed again: the configuration it now describes applies.
    project.template.write_text(TEMPLATE.format(memory=256))
    records = project.wait_records(2)
    assert records[1].error is None
    assert project.service.invoke("fn", b"{}").figures.memory_size_mb == 256


def test_functions_added_and_removed_in_the_template(project: Project) -> None:
    (project.root / "third").mkdir()
    project.write("third/app.py", handler_code("third 1"))
    text = TEMPLATE.format(memory=128)
    without_other = text[: text.index("  Other:")]
    third = (
        "  Third:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: third\n"
        "      CodeUri: third/\n      Handler: app.handler\n      Runtime: python3.12\n"
    )
    project.template.write_text(without_other + third)
    [record] = project.wait_records(1)
    assert set(record.functions) == {"other", "third"}
    assert project.value("third") == "third 1"
    with pytest.raises(Exception, match="Function not found"):
        project.service.invoke("other", b"{}")
    # The new function's directory is watched too.
    project.write("third/app.py", handler_code("third 2"))
    project.wait_records(2)
    assert project.value("third") == "third 2"


def test_the_reloader_stops_its_threads_on_close(tmp_path: Path) -> None:
    made = Project(tmp_path)
    made.value()
    made.close()
    assert wait_for(lambda: not any(t.name == "lambench-reload" for t in threading.enumerate()), timeout=5)
    assert made.reloader._observer is not None and not made.reloader._observer.is_alive()


def test_published_versions_never_reload_and_auto_publish_moves_the_alias(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(handler_code("v1"))
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: fn\n"
        "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.12\n"
        "      AutoPublishAlias: live\n"
    )
    project = load_project(tmp_path)
    from lambench.core.deploy import apply_deployments

    with LocalLambda(project.functions.values(), versions=tmp_path / ".lambench" / "versions") as service:
        apply_deployments(service, project.deployments)
        records: list[ReloadRecord] = []
        service.subscribe(lambda r: records.append(r) if isinstance(r, ReloadRecord) else None)
        with HotReloader(
            service,
            project_dir=tmp_path,
            template=tmp_path / "template.yaml",
            deployments=project.deployments,
        ):
            assert service.invoke("fn:live", b"{}").payload_json() == "v1"
            (tmp_path / "fn" / "app.py").write_text(handler_code("v2"))
            assert wait_for(lambda: bool(records), timeout=10)
            assert service.invoke("fn:1", b"{}").payload_json() == "v1"
            assert service.invoke("fn:live", b"{}").payload_json() == "v2"
            assert [a.function_version for a in service.aliases("fn")] == ["2"]


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("app.py", False),
        ("lib/util.py", False),
        ("app.py~", True),
        (".app.py.swp", True),
        ("4913", True),
        ("#app.py#", True),
        (".#app.py", True),
        ("__pycache__/app.cpython-311.pyc", True),
        (".lambench/logs/x.jsonl", True),
        (".git/index", True),
        ("app.py___jb_tmp___", True),
    ],
)
def test_which_files_are_ignored(name: str, ignored: bool) -> None:
    assert is_ignored(Path("/project/fn") / name) is ignored


def test_reload_records_say_what_changed(project: Project) -> None:
    project.write("fn/app.py", handler_code(json.dumps({"a": 1})))
    [record] = project.wait_records(1)
    assert record.time <= time.time() and record.error is None


def test_provisioned_environments_are_reinitialised_with_the_new_code(tmp_path: Path) -> None:
    from lambench.core.deploy import apply_deployments

    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(handler_code("v1"))
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: fn\n"
        "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.12\n"
        "      AutoPublishAlias: live\n      ProvisionedConcurrencyConfig:\n"
        "        ProvisionedConcurrentExecutions: 1\n"
    )
    project = load_project(tmp_path)
    with LocalLambda(project.functions.values(), versions=tmp_path / ".lambench" / "versions") as service:
        apply_deployments(service, project.deployments)
        assert service.wait_provisioned("fn", "live").status == "READY"
        first = service.invoke("fn:live", b"{}")
        assert first.payload_json() == "v1" and not first.figures.cold
        records: list[ReloadRecord] = []
        service.subscribe(lambda r: records.append(r) if isinstance(r, ReloadRecord) else None)
        with HotReloader(service, project_dir=tmp_path, template=template, deployments=project.deployments):
            (tmp_path / "fn" / "app.py").write_text(handler_code("v2"))
            assert wait_for(lambda: bool(records), timeout=10)
            status = service.wait_provisioned("fn", "live")
            assert status.status == "READY" and status.available == 1
            after = service.invoke("fn:live", b"{}")
            assert after.payload_json() == "v2"
            assert not after.figures.cold  # served by the re-initialised provisioned environment
            assert after.executed_version == "2"
