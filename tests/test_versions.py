"""Published versions, aliases with weighted routing, and provisioned concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from lambench.core.runtime import errors
from lambench.core.runtime.records import Lifecycle, LifecycleRecord
from lambench.core.runtime.service import LocalLambda
from lambench.core.runtime.versions import VersionStore
from tests.helpers import pid_alive, python_function, simultaneously, wait_for

IDENTIFY = """
    import os, time
    ANSWER = "one"

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {
            "answer": ANSWER,
            "version": context.function_version,
            "arn": context.invoked_function_arn,
            "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
            "init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
            "pid": os.getpid(),
        }
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def rewrite(config_dir: Path, answer: str) -> None:
    path = config_dir / "app.py"
    path.write_text(path.read_text().replace('ANSWER = "one"', f'ANSWER = "{answer}"'))


def test_published_version_keeps_its_code_after_the_file_changes(tmp_path: Path) -> None:
    config = python_function(tmp_path, IDENTIFY)
    with LocalLambda([config]) as service:
        version = service.publish_version("fn", "first")
        assert (version.number, version.description) == ("1", "first")
        rewrite(config.code_dir, "two")
        service.add_function(config)  # the working copy changed: $LATEST runs the new code
        assert service.invoke("fn").payload_json()["answer"] == "two"
        old = service.invoke("fn:1")
        assert old.payload_json()["answer"] == "one"
        assert old.executed_version == "1"
        assert service.invoke("fn", qualifier="$LATEST").executed_version == "$LATEST"


def test_publishing_unchanged_code_returns_the_existing_version(tmp_path: Path) -> None:
    config = python_function(tmp_path, IDENTIFY)
    with LocalLambda([config]) as service:
        first = service.publish_version("fn")
        # Caches, byte code and editor leftovers are not part of the code.
        (config.code_dir / "__pycache__").mkdir()
        (config.code_dir / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
        (config.code_dir / "app.py~").write_text("backup")
        assert service.publish_version("fn").number == "1"
        rewrite(config.code_dir, "two")
        second = service.publish_version("fn")
        assert second.number == "2" and second.code_sha256 != first.code_sha256
        service.add_function(python_function(tmp_path, IDENTIFY.replace('"one"', '"two"'), memory_mb=256))
        third = service.publish_version("fn")
        assert third.number == "3" and third.code_sha256 == second.code_sha256  # configuration changed
        assert [v.number for v in service.versions("fn")] == ["1", "2", "3"]
        snapshot = third.config.code_dir
        assert not (snapshot / "__pycache__").exists() and not (snapshot / "app.py~").exists()


def test_versions_persist_in_their_store_across_services(tmp_path: Path) -> None:
    config = python_function(tmp_path, IDENTIFY)
    store = tmp_path / "state"
    with LocalLambda([config], versions=store) as service:
        service.publish_version("fn")
        service.create_alias("fn", "live", "1")
    rewrite(config.code_dir, "two")
    with LocalLambda([config], versions=store) as service:
        assert service.invoke("fn:live").payload_json()["answer"] == "one"
        assert service.publish_version("fn").number == "2"
    data = json.loads((store / "fn" / "1" / "version.json").read_text())
    assert data["Configuration"]["CodeDir"] == "code" and data["Version"] == "1"


def test_two_stores_publishing_at_once_get_distinct_numbers(tmp_path: Path) -> None:
    configs = []
    for answer in ("a", "b", "c", "d"):
        code = tmp_path / answer
        config = python_function(code, IDENTIFY.replace('"one"', f'"{answer}"'))
        configs.append(config)
    root = tmp_path / "state"
    numbers: list[str] = []

    def publish(index: int) -> None:
        numbers.append(VersionStore(root).publish(configs[index])[0].number)

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(numbers, key=int) == ["1", "2", "3", "4"]
    assert not [p for p in (root / "fn").iterdir() if p.name.startswith(".")]


def test_context_arn_and_version_follow_the_qualifier(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, IDENTIFY)]) as service:
        service.publish_version("fn")
        service.create_alias("fn", "live", "1")
        plain = service.invoke("fn").payload_json()
        assert (plain["arn"], plain["version"], plain["env_version"]) == (ARN, "$LATEST", "$LATEST")
        numbered = service.invoke("fn:1").payload_json()
        assert (numbered["arn"], numbered["version"]) == (f"{ARN}:1", "1")
        aliased = service.invoke("fn", qualifier="live")
        body = aliased.payload_json()
        assert (body["arn"], body["version"], aliased.executed_version) == (f"{ARN}:live", "1", "1")
        assert any("/[1]" in e.log_stream for e in service.environments("fn"))


def test_weighted_alias_routes_about_its_share_to_the_second_version(tmp_path: Path) -> None:
    config = python_function(tmp_path, IDENTIFY)
    with LocalLambda([config], seed=7) as service:
        service.publish_version("fn")
        rewrite(config.code_dir, "two")
        service.add_function(config)
        service.publish_version("fn")
        alias = service.create_alias("fn", "live", "1", weights={"2": 0.2})
        assert alias.to_json("us-east-1")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}
        executed = [service.invoke("fn:live").executed_version for _ in range(1000)]
        share = executed.count("2") / len(executed)
        assert 0.10 <= share <= 0.30
        assert set(executed) == {"1", "2"}
        # Moving all traffic: primary 2, no routing.
        service.update_alias("fn", "live", version="2", weights={})
        assert {service.invoke("fn:live").executed_version for _ in range(20)} == {"2"}


def test_alias_errors_use_aws_texts(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, IDENTIFY)]) as service:
        service.publish_version("fn")
        service.create_alias("fn", "live", "1")
        cases: list[tuple[type[errors.LambdaServiceError], str, dict[str, object]]] = [
            (errors.ResourceConflictError, f"Alias already exists: {ARN}:live", {"alias": "live"}),
            (
                errors.ValidationError,
                "1 validation error detected: Value '12' at 'name' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
                {"alias": "12"},
            ),
            (errors.ResourceNotFoundError, f"Function not found: {ARN}:9", {"version": "9"}),
            (
                errors.InvalidParameterValueError,
                "$LATEST is not supported for an alias pointing to more than 1 version",
                {"version": "$LATEST", "weights": {"1": 0.5}},
            ),
            (
                errors.InvalidParameterValueError,
                "Invalid function version 1. Function version 1 is already included in routing "
                "configuration.",
                {"weights": {"1": 0.5}},
            ),
            (
                errors.ValidationError,
                "1 validation error detected: Value '{1=2.0}' at 'routingConfig.additionalVersionWeights' "
                "failed to satisfy constraint: Map value must satisfy constraint: [Member must have value "
                "less than or equal to 1.0, Member must have value greater than or equal to 0.0, "
                "Member must not be null]",
                {"weights": {"1": 2.0}},
            ),
        ]
        for kind, message, overrides in cases:
            args: dict[str, object] = {"alias": "other", "version": "1", "weights": None, **overrides}
            with pytest.raises(kind) as caught:
                service.create_alias(
                    "fn",
                    str(args["alias"]),
                    str(args["version"]),
                    weights=args["weights"],  # type: ignore[arg-type]
                )
            assert caught.value.message == message
        with pytest.raises(errors.ResourceNotFoundError) as missing:
            service.update_alias("fn", "nope", version="1")
        assert missing.value.message == f"Alias not found: {ARN}:nope"
        with pytest.raises(errors.ResourceNotFoundError) as unknown:
            service.invoke("fn:nope")
        assert unknown.value.message == f"Function not found: {ARN}:nope"
        service.delete_alias("fn", "live")
        service.delete_alias("fn", "live")  # idempotent, as in AWS
        assert service.aliases("fn") == []


def test_provisioned_concurrency_serves_three_without_init_and_the_fourth_spills_over_cold(
    tmp_path: Path,
) -> None:
    records: list[LifecycleRecord] = []
    config = python_function(tmp_path, IDENTIFY)
    with LocalLambda([config]) as service:
        service.subscribe(lambda r: records.append(r) if isinstance(r, LifecycleRecord) else None)
        service.publish_version("fn")
        service.create_alias("fn", "live", "1")
        status = service.put_provisioned_concurrency("fn", "live", 3)
        assert status.to_json()["Status"] == "IN_PROGRESS"
        assert status.to_json()["RequestedProvisionedConcurrentExecutions"] == 3
        ready = service.wait_provisioned("fn", "live", timeout_s=60)
        assert (ready.status, ready.allocated, ready.available) == ("READY", 3, 3)
        provisioned_pids = {e.pid for e in service.environments("fn")}
        assert len(provisioned_pids) == 3
        inits_before = sum(1 for r in records if r.kind is Lifecycle.INIT_START)
        results = simultaneously(4, lambda: service.invoke("fn:live", b'{"sleep": 1.0}'))
    warm = [r for r in results if not r.figures.cold]
    cold = [r for r in results if r.figures.cold]
    assert len(warm) == 3 and len(cold) == 1
    for result in warm:
        body = result.payload_json()
        assert body["init_type"] == "provisioned-concurrency" and body["pid"] in provisioned_pids
        # Init ran at allocation: the REPORT shows it, but it is not billed to this invocation.
        report = result.logs.splitlines()[-1]
        assert "Init Duration" in report
        assert result.figures.billed_duration_ms <= int(result.figures.duration_ms) + 1
    spill = cold[0].payload_json()
    assert spill["init_type"] == "on-demand" and spill["version"] == "1"
    # Only the spill-over environment initialised on a request's path.
    assert sum(1 for r in records if r.kind is Lifecycle.INIT_START) - inits_before == 1


def test_provisioned_concurrency_fails_when_init_fails(tmp_path: Path) -> None:
    code = "raise RuntimeError('no database')\n\ndef handler(event, context):\n    return 1\n"
    with LocalLambda([python_function(tmp_path, code)]) as service:
        service.publish_version("fn")
        service.put_provisioned_concurrency("fn", "1", 2)
        status = service.wait_provisioned("fn", "1", timeout_s=60)
        assert status.status == "FAILED"
        assert status.to_json()["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
        assert all(e.init_type == "on-demand" for e in service.environments("fn"))


def test_provisioned_concurrency_rules(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, IDENTIFY)]) as service:
        with pytest.raises(errors.InvalidParameterValueError) as latest:
            service.put_provisioned_concurrency("fn", "$LATEST", 1)
        assert latest.value.message == (
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
        with pytest.raises(errors.ValidationError):
            service.put_provisioned_concurrency("fn", "1", 0)
        service.publish_version("fn")
        service.create_alias("fn", "live", "1")
        with pytest.raises(errors.ResourceNotFoundError) as no_alias:
            service.put_provisioned_concurrency("fn", "nope", 1)
        assert no_alias.value.message == f"Cannot find alias arn: {ARN}:nope"
        with pytest.raises(errors.ProvisionedConfigNotFoundError):
            service.get_provisioned_concurrency("fn", "live")
        service.put_provisioned_concurrency("fn", "live", 1)
        with pytest.raises(errors.ResourceConflictError) as conflict:
            service.put_provisioned_concurrency("fn", "1", 1)
        assert conflict.value.message == "Version is pointed by a Provisioned Concurrency alias"
        assert service.wait_provisioned("fn", "live").status == "READY"
        pid = next(e.pid for e in service.environments("fn"))
        service.delete_provisioned_concurrency("fn", "live")
        assert not service.environments("fn")
        assert pid is not None and wait_for(lambda: not pid_alive(pid), timeout=5)
        service.delete_provisioned_concurrency("fn", "live")  # 204 when there is none


def test_provisioned_environments_are_replaced_at_their_lifetime(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, IDENTIFY)], max_lifetime_s=1.0) as service:
        service.publish_version("fn")
        service.put_provisioned_concurrency("fn", "1", 1)
        service.wait_provisioned("fn", "1")
        first = {e.id for e in service.environments("fn")}
        assert wait_for(
            lambda: (
                {e.id for e in service.environments("fn")} - first != set()
                and len(service.environments("fn")) == 1
            ),
            timeout=15,
        )
        assert service.invoke("fn:1").payload_json()["init_type"] == "provisioned-concurrency"
