"""`lambench events` and `lambench invoke --event-template/--saved-event`, run as a user runs them."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lambench.core.events import Catalog
from tests.helpers import REPO, lambench


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the demo project, so saved events land in a scratch directory."""
    target = tmp_path / "project"
    shutil.copytree(REPO / "demo_functions", target, ignore=shutil.ignore_patterns(".lambench"))
    return target


def files_under(path: Path) -> list[str]:
    """Every file below `path` but the parsed-template cache (a copy of the template, not user data)."""
    return sorted(
        str(item.relative_to(path))
        for item in path.rglob("*")
        if item.is_file() and (item.parent.name, item.parent.parent.name) != ("cache", ".lambench")
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lambench: error: "), done.stderr
    return lines[0]


def test_list_shows_every_template_and_the_counts() -> None:
    done = lambench("events", "list")
    assert done.returncode == 0, done.stderr
    catalog = Catalog.builtin()
    for template in catalog.templates():
        assert template.key in done.stdout
    assert f"{len(catalog.templates())} templates across {len(catalog.services)} services." in done.stdout


def test_list_json_and_service_filter() -> None:
    done = lambench("events", "list", "--service", "sqs", "--json")
    entries = json.loads(done.stdout)
    assert entries and {entry["service"] for entry in entries} == {"sqs"}
    assert {"key", "delivery", "description", "source"} <= set(entries[0])


def test_unknown_service_or_template_lists_the_choices() -> None:
    assert "unknown service 'sss'" in one_line_error(lambench("events", "list", "--service", "sss"))
    line = one_line_error(lambench("events", "show", "s3", "object-creatd"))
    assert "did you mean 'object-created'?" in line and "s3 has: " in line and "object-created" in line
    line = one_line_error(lambench("events", "generate", "nosuch/thing"))
    assert "services are: " in line and "sqs" in line


def test_show_explains_the_template() -> None:
    done = lambench("events", "show", "sqs", "receive-message")
    assert done.returncode == 0, done.stderr
    assert "Delivery: event source mapping" in done.stdout
    assert "parser model SqsModel" in done.stdout
    assert "records" in done.stdout and "range 1..10000" in done.stdout
    assert json.loads(done.stdout.split("Event with the defaults:\n", 1)[1])["Records"]
    meta = json.loads(lambench("events", "show", "sqs/receive-message", "--json").stdout)
    assert meta["delivery"] == "poll" and meta["validated_by"] == {"model": "SqsModel"}
    assert {param["name"] for param in meta["params"]} >= {"queue", "records", "region", "account", "time"}


def test_generate_applies_parameters() -> None:
    done = lambench(
        "events",
        "generate",
        "sqs",
        "receive-message",
        "--param",
        "records=3",
        "--param",
        "queue=orders",
        "--param",
        "region=eu-central-1",
        "--compact",
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    records = json.loads(done.stdout)["Records"]
    assert len(records) == 3
    assert {record["eventSourceARN"] for record in records} == {
        "arn:aws:sqs:eu-central-1:123456789012:orders"
    }
    assert len({record["messageId"] for record in records}) == 3


def test_generate_refuses_bad_parameters() -> None:
    line = one_line_error(lambench("events", "generate", "sqs/receive-message", "--param", "records=0"))
    assert line.endswith("parameter records must be at least 1, not 0")
    line = one_line_error(lambench("events", "generate", "sqs/receive-message", "--param", "nope=1"))
    assert "has no parameter 'nope'; its parameters are: queue, body, records" in line
    assert "takes KEY=VALUE" in one_line_error(
        lambench("events", "generate", "sqs/receive-message", "--param", "x")
    )


def test_save_from_a_template_then_invoke_it(project: Path) -> None:
    done = lambench(
        "events", "save", "s3-processor", "upload", "--from", "s3/object-created",
        "--param", "key=in box/a.txt", "--project", str(project),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = project / ".lambench/events/s3-processor/upload.json"
    assert json.loads(saved.read_text())["Records"][0]["s3"]["object"]["key"] == "in+box/a.txt"
    listing = lambench("events", "list", "--project", str(project))
    assert "s3-processor/upload" in listing.stdout and "Saved events:" in listing.stdout
    invoked = lambench("invoke", "s3-processor", "--saved-event", "upload", "--project", str(project))
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"processed": 1}
    assert "key=in box/a.txt" in invoked.stderr


def test_save_never_clobbers_without_force(project: Path) -> None:
    first = project / "first.json"
    first.write_text('{"n": 1}')
    assert (
        lambench("events", "save", "hello", "e", "--from", str(first), "--project", str(project)).returncode
        == 0
    )
    (project / "second.json").write_text('{"n": 2}')
    line = one_line_error(
        lambench(
            "events", "save", "hello", "e", "--from", str(project / "second.json"), "--project", str(project)
        )
    )
    assert "hello/e already exists" in line
    target = project / ".lambench/events/hello/e.json"
    assert json.loads(target.read_text()) == {"n": 1}
    forced = lambench(
        "events",
        "save",
        "hello",
        "e",
        "--from",
        str(project / "second.json"),
        "--force",
        "--project",
        str(project),
    )
    assert forced.returncode == 0 and json.loads(target.read_text()) == {"n": 2}


def test_save_from_stdin_shared(project: Path) -> None:
    done = lambench(
        "events", "save", "--shared", "smoke", "--from", "-", "--project", str(project), stdin='{"a": 1}'
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((project / ".lambench/shared-events/smoke.json").read_text()) == {"a": 1}
    invoked = lambench("invoke", "hello", "--saved-event", "smoke", "--project", str(project))
    assert invoked.returncode == 0, invoked.stderr


def test_save_errors_write_nothing(project: Path) -> None:
    before = files_under(project)
    (project / "broken.json").write_text('{"a": }')
    before = files_under(project)
    cases = [
        (("events", "save", "no-such-fn", "e", "--from", "s3/object-created"), "no function 'no-such-fn'"),
        (("events", "save", "hello", "e", "--from", "broken.json"), "broken.json:1:7: not valid JSON"),
        (("events", "save", "hello", "e", "--from", "s3/nope"), "unknown template s3/nope"),
        (("events", "save", "hello", "bad name", "--from", "s3/object-created"), "bad event name"),
        (("events", "save", "hello", "e", "--from", "missing.json"), "neither a file nor a template"),
        (("events", "save", "hello", "--from", "s3/object-created"), "usage: lambench events save"),
        (("events", "save", "hello", "e", "--from", "s3/object-created", "--param", "size=-1"), "at least 0"),
    ]
    for args, message in cases:
        assert message in one_line_error(lambench(*args, "--project", str(project), cwd=project)), args
    assert files_under(project) == before


def test_rename_and_delete(project: Path) -> None:
    for name in ("a", "b"):
        assert (
            lambench(
                "events", "save", "hello", name, "--from", "-", "--project", str(project), stdin="{}"
            ).returncode
            == 0
        )
    line = one_line_error(lambench("events", "rename", "hello", "a", "b", "--project", str(project)))
    assert "hello/b already exists" in line
    assert lambench("events", "rename", "hello", "a", "c", "--project", str(project)).returncode == 0
    assert lambench("events", "delete", "hello", "b", "--project", str(project)).returncode == 0
    assert files_under(project / ".lambench") == ["events/hello/c.json"]
    assert "no saved event hello/b" in one_line_error(
        lambench("events", "delete", "hello", "b", "--project", str(project))
    )


def test_invoke_with_an_event_template_and_params() -> None:
    done = lambench(
        "invoke", "sqs-batch", "--project", str(REPO / "demo_functions"),
        "--event-template", "sqs/receive-message", "--param", "records=4", "--param", 'body={"fail": true}',
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["functionError"] is None, result
    # The handler fails every message whose body says so: four distinct message ids come back.
    failures = result["payload"]["batchItemFailures"]
    assert len({failure["itemIdentifier"] for failure in failures}) == 4


def test_invoke_param_needs_a_template() -> None:
    line = one_line_error(
        lambench("invoke", "hello", "--project", str(REPO / "demo_functions"), "--param", "a=1")
    )
    assert "use it with --event-template" in line


def test_cloudwatch_logs_event_from_the_cli_decodes_to_the_messages_given() -> None:
    import gzip

    messages = ["first line", '{"level": "ERROR"}', "ünïcode"]
    done = lambench(
        "events", "generate", "cloudwatch/logs-subscription", "--param", f"messages={json.dumps(messages)}"
    )
    data = json.loads(done.stdout)["awslogs"]["data"]
    payload = json.loads(gzip.decompress(base64.b64decode(data)))
    assert [event["message"] for event in payload["logEvents"]] == messages
