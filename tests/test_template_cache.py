"""The parsed-template cache under `.lambench/cache/`: used when it matches, rebuilt when it does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambench.core.template import TemplateError, load_project
from lambench.core.template.tree_cache import cache_path, decode, encode
from lambench.core.template.yaml_source import parse
from tests.helpers import REPO

DEMO_DIR = REPO / "demo_functions"

TEMPLATE = textwrap.dedent(
    """\
    Parameters:
      Stage: {Type: String, Default: dev}
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.handler
          Runtime: python3.12
          CodeUri: src/
          MemorySize: 256
          Environment:
            Variables:
              STAGE: !Ref Stage
              TABLE: !Sub "${AWS::StackName}-table"
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


def _yaml_imported_by_load(project: Path) -> bool:
    """Load the project in a fresh interpreter; whether that imported PyYAML."""
    code = (
        "import sys\nfrom lambench.core.template import load_project\n"
        f"load_project({str(project)!r})\nprint('yaml' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO, timeout=60
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_the_second_load_reads_the_cache_and_imports_no_yaml(project: Path) -> None:
    assert not cache_path(project / "template.yaml").exists()
    assert _yaml_imported_by_load(project)
    assert cache_path(project / "template.yaml").is_file()
    assert not _yaml_imported_by_load(project)


def test_a_cached_project_equals_a_parsed_one(tmp_path: Path) -> None:
    shutil.copytree(DEMO_DIR, tmp_path / "demo", ignore=shutil.ignore_patterns(".lambench"))
    parsed = load_project(tmp_path / "demo")
    assert cache_path(tmp_path / "demo" / "template.yaml").is_file()
    cached = load_project(tmp_path / "demo")
    assert cached == parsed
    assert len(cached.functions) == len(parsed.functions) > 5


def test_encoding_keeps_every_line_and_intrinsic() -> None:
    template = DEMO_DIR / "template.yaml"
    tree = parse(template, template.read_bytes())
    assert decode(json.loads(json.dumps(encode(tree)))) == tree
    again = decode(encode(tree))
    assert isinstance(again, dict) and isinstance(tree, dict)
    assert again.key_lines == tree.key_lines  # type: ignore[attr-defined]


def test_an_edit_of_the_same_size_and_mtime_is_seen(project: Path) -> None:
    template = project / "template.yaml"
    assert load_project(project).functions["Fn"].memory_mb == 256
    stat = template.stat()
    template.write_text(TEMPLATE.replace("MemorySize: 256", "MemorySize: 512"))
    os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert template.stat().st_size == stat.st_size
    assert load_project(project).functions["Fn"].memory_mb == 512


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"not json at all",
        lambda raw: raw[: len(raw) // 2],
        lambda raw: raw.replace(b"256", b"999"),
        lambda raw: raw.split(b"\n", 1)[0] + b"\n[]",
        lambda raw: raw.replace(b'"format": 1', b'"format": 0'),
    ],
    ids=["garbage", "truncated", "body-edited", "wrong-shape", "old-format"],
)
def test_a_damaged_cache_is_never_trusted_and_is_rebuilt(project: Path, damage: object) -> None:
    load_project(project)
    target = cache_path(project / "template.yaml")
    good = target.read_bytes()
    assert callable(damage)
    target.write_bytes(damage(good))
    assert load_project(project).functions["Fn"].memory_mb == 256
    assert target.read_bytes() == good


def test_a_cache_of_another_lambench_version_is_rebuilt(project: Path) -> None:
    load_project(project)
    target = cache_path(project / "template.yaml")
    first, _, body = target.read_bytes().partition(b"\n")
    header = json.loads(first)
    header["lambench"] = "0.0.0-other"
    target.write_bytes(json.dumps(header).encode() + b"\n" + body)
    assert load_project(project).functions["Fn"].environment["STAGE"] == "dev"
    assert json.loads(target.read_bytes().partition(b"\n")[0])["lambench"] != "0.0.0-other"


def test_located_errors_are_the_same_from_the_cache(project: Path) -> None:
    template = project / "template.yaml"
    template.write_text(TEMPLATE.replace("MemorySize: 256", "MemorySize: lots"))
    with pytest.raises(TemplateError) as cold:
        load_project(project)
    assert cache_path(template).is_file()
    with pytest.raises(TemplateError) as warm:
        load_project(project)
    assert str(warm.value) == str(cold.value)
    assert str(cold.value).startswith("template.yaml:10: Resources.Fn.Properties.MemorySize:")


def test_a_yaml_error_is_not_cached(project: Path) -> None:
    template = project / "template.yaml"
    template.write_text("Resources:\n  Fn: [unclosed\n")
    for _ in range(2):
        with pytest.raises(TemplateError, match=r"^template\.yaml:\d+: YAML: "):
            load_project(project)
    assert not cache_path(template).exists()


def test_a_project_where_the_cache_cannot_be_written_still_loads(project: Path) -> None:
    (project / ".lambench").write_text("a file where the directory would be")
    for _ in range(2):
        assert load_project(project).functions["Fn"].memory_mb == 256
    assert not list(project.glob(".lambench*/**/*.tmp"))
