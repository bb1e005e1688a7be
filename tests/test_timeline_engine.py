"""The timeline fed by the real engine: its counts equal the engine's and the clients'."""

from __future__ import annotations

import threading
from pathlib import Path

from lambench.core.load import LoadPlan, LoadRunner
from lambench.core.runtime.service import LocalLambda
from lambench.core.timeline import Timeline
from tests.helpers import MIXED_HANDLER, python_function


def test_timeline_counts_equal_the_engines(tmp_path: Path) -> None:
    config = python_function(tmp_path, MIXED_HANDLER, timeout_s=1)
    with LocalLambda([config]) as service:
        timeline = Timeline()
        timeline.attach(service)
        service.put_function_concurrency("fn", 3)
        report = LoadRunner(service, "fn", b'{"sleep": 0.2}', LoadPlan.burst(8), keep_request_ids=True).run()
        assert service.invoke("fn", b'{"fail": true}').function_error == "Unhandled"
        assert service.invoke("fn", b'{"hang": true}').figures.error_type == "Sandbox.Timedout"
        stats = service.stats("fn")
        summary = timeline.summary(function="fn")
    environments = timeline.environments(function="fn")
    assert report.progress.succeeded == 3 and report.progress.throttled == 5
    assert summary.invocations == stats.invocations == 5
    assert summary.throttles == stats.throttles == 5
    assert summary.cold_starts == stats.cold_starts
    assert summary.environments_created == stats.environments_created == len(environments)
    assert summary.errors == stats.errors == 2 and summary.timeouts == 1
    assert summary.error_types.get("ValueError") == 1
    assert summary.max_concurrency == 3
    spans = timeline.invocations(function="fn")
    assert set(report.request_ids) <= {span.request_id for span in spans}
    assert all(env.retired for env in environments)  # the service closed them all


def test_timeline_sees_provisioned_environments_and_spill_over(tmp_path: Path) -> None:
    config = python_function(tmp_path, MIXED_HANDLER)
    with LocalLambda([config]) as service:
        timeline = Timeline()
        timeline.attach(service)
        service.publish_version("fn")
        service.put_provisioned_concurrency("fn", "1", 2)
        assert service.wait_provisioned("fn", "1").status == "READY"
        barrier = threading.Barrier(3)

        def call() -> None:
            barrier.wait()
            service.invoke("fn:1", b'{"sleep": 0.8}')

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        summary = timeline.summary(function="fn", version="1")
        kinds = sorted(str(env.init_type) for env in timeline.environments(function="fn"))
    assert summary.invocations == 3 and summary.cold_starts == 1
    assert kinds == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]


def test_a_late_timeline_adopts_the_environments_already_warm(tmp_path: Path) -> None:
    config = python_function(tmp_path, MIXED_HANDLER)
    with LocalLambda([config]) as service:
        service.invoke("fn", b"{}")
        (live,) = service.environments("fn")
        timeline = Timeline()
        timeline.attach(service)
        timeline.adopt(service.environments())
        (adopted,) = timeline.environments(function="fn")
        assert adopted.environment_id == live.id and adopted.created_at == live.created_at
        assert adopted.init_type == "on-demand" and not adopted.retired
        # Adopted, then invoked: the same row, now with the invocation, which is warm.
        service.invoke("fn", b"{}")
        timeline.adopt(service.environments())  # seen already: unchanged
        (seen,) = timeline.environments(function="fn")
        summary = timeline.summary(function="fn")
    assert seen.environment_id == live.id and seen.invocation_count == 1
    assert summary.invocations == 1 and summary.cold_starts == 0
