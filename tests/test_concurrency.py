"""Reserved and account concurrency, the scaling rate, throttles, keep-alive and lifetime."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lambench.core.runtime import concurrency, errors
from lambench.core.runtime.concurrency import AccountConcurrency, ConcurrencyLimits, ScalingBucket
from lambench.core.runtime.records import Lifecycle, LifecycleRecord, ThrottleRecord
from lambench.core.runtime.service import LocalLambda
from tests.helpers import pid_alive, python_function, simultaneously, wait_for

SLEEPER = """
    import os, time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid()}
"""


def test_reserved_two_with_ten_simultaneous_requests_gives_two_environments_and_eight_throttles(
    tmp_path: Path,
) -> None:
    config = python_function(tmp_path, SLEEPER)
    throttles: list[ThrottleRecord] = []
    with LocalLambda([config]) as service:
        service.subscribe(lambda r: throttles.append(r) if isinstance(r, ThrottleRecord) else None)
        service.put_function_concurrency("fn", 2)
        results = simultaneously(10, lambda: service.invoke("fn", b'{"sleep": 1.5}'))
        refused = [r for r in results if isinstance(r, errors.TooManyRequestsError)]
        served = [r for r in results if not isinstance(r, Exception)]
        assert len(served) == 2 and len(refused) == 8
        assert {r.environment_id for r in served} == {e.id for e in service.environments("fn")}
        assert len(service.environments("fn")) == 2
        stats = service.stats("fn")
        assert (stats.environments_created, stats.throttles, stats.invocations) == (2, 8, 2)
    error = refused[0]
    assert error.status_code == 429 and error.error_code == "TooManyRequestsException"
    assert error.to_json() == {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
    assert len(throttles) == 8
    assert {t.reason for t in throttles} == {concurrency.RESERVED_LIMIT}
    assert {t.request_id for t in throttles} == {t.request_id for t in throttles if t.function == "fn"}


def test_reserved_zero_throttles_everything_and_deleting_it_lifts_the_cap(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, SLEEPER)]) as service:
        service.put_function_concurrency("fn", 0)
        assert service.get_function_concurrency("fn") == 0
        with pytest.raises(errors.TooManyRequestsError) as caught:
            service.invoke("fn")
        assert caught.value.reason == concurrency.RESERVED_LIMIT
        service.put_function_concurrency("fn", None)
        assert service.get_function_concurrency("fn") is None
        assert service.invoke("fn").function_error is None


def test_account_limit_throttles_unreserved_functions_but_not_reserved_ones(tmp_path: Path) -> None:
    shared = python_function(tmp_path, SLEEPER, name="shared")
    kept = python_function(tmp_path, SLEEPER, name="kept")
    limits = ConcurrencyLimits(account_limit=4, unreserved_minimum=2)
    with LocalLambda([shared, kept], limits=limits) as service:
        service.put_function_concurrency("kept", 2)
        # The unreserved pool is 4 - 2 = 2: two shared requests run, the third is throttled.
        results = simultaneously(3, lambda: service.invoke("shared", b'{"sleep": 1.5}'))
        refused = [r for r in results if isinstance(r, errors.TooManyRequestsError)]
        assert len(refused) == 1 and refused[0].reason == concurrency.ACCOUNT_LIMIT
        # The reservation is a guarantee: the pool being full does not touch it.
        assert service.invoke("kept").function_error is None


def test_reservation_cannot_squeeze_the_unreserved_pool_below_its_minimum(tmp_path: Path) -> None:
    a = python_function(tmp_path, SLEEPER, name="a")
    b = python_function(tmp_path, SLEEPER, name="b")
    with LocalLambda([a, b]) as service:
        service.put_function_concurrency("a", 600)
        with pytest.raises(errors.InvalidParameterValueError) as caught:
            service.put_function_concurrency("b", 301)
        assert caught.value.message == (
            "Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [100]."
        )
        service.put_function_concurrency("b", 300)
        # Changing a's own reservation does not count its old value twice.
        service.put_function_concurrency("a", 600)
        with pytest.raises(errors.ResourceNotFoundError) as missing:
            service.put_function_concurrency("nope", 1)
        assert missing.value.message.endswith(":function:nope:$LATEST")


def test_scaling_rate_throttles_new_environments_but_not_warm_ones(tmp_path: Path) -> None:
    limits = ConcurrencyLimits(scaling_rate=2, scaling_window_s=3600.0)
    with LocalLambda([python_function(tmp_path, SLEEPER)], limits=limits) as service:
        results = simultaneously(3, lambda: service.invoke("fn", b'{"sleep": 1.5}'))
        refused = [r for r in results if isinstance(r, errors.TooManyRequestsError)]
        assert len(refused) == 1 and refused[0].reason == concurrency.SCALING_RATE
        # The two environments made are warm now and need no token.
        for _ in range(5):
            assert not service.invoke("fn").figures.cold
        service.put_function_concurrency("fn", 10)
        results = simultaneously(3, lambda: service.invoke("fn", b'{"sleep": 1.5}'))
        refused = [r for r in results if isinstance(r, errors.TooManyRequestsError)]
        assert [r.reason for r in refused] == [concurrency.RESERVED_SCALING_RATE]


def test_scaling_bucket_refills_continuously_up_to_its_capacity() -> None:
    bucket = ScalingBucket(capacity=10, window_s=10.0, now=0.0)
    assert all(bucket.take(0.0) for _ in range(10))
    assert not bucket.take(0.0)
    assert bucket.take(1.0)  # one token per second comes back
    assert not bucket.take(1.0)
    assert sum(bucket.take(1000.0) for _ in range(20)) == 10  # never more than the capacity


def test_account_books_balance_after_admissions_and_releases() -> None:
    account = AccountConcurrency(ConcurrencyLimits(account_limit=10, unreserved_minimum=0))
    assert all(account.admit("f", new_environment=True) is None for _ in range(10))
    assert account.admit("g", new_environment=False) == concurrency.ACCOUNT_LIMIT
    for _ in range(10):
        account.release("f")
    assert account.in_flight() == 0
    assert account.admit("g", new_environment=False) is None


def test_provisioned_concurrency_counts_against_the_reservation(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, SLEEPER)]) as service:
        service.publish_version("fn")
        service.put_function_concurrency("fn", 2)
        with pytest.raises(errors.InvalidParameterValueError) as caught:
            service.put_provisioned_concurrency("fn", "1", 3)
        assert caught.value.message == (
            "Requested Provisioned Concurrency should not be greater than the "
            "reservedConcurrentExecution for function"
        )
        service.put_provisioned_concurrency("fn", "1", 2)
        assert service.wait_provisioned("fn", "1").status == "READY"
        # Both reserved slots are provisioned: on-demand ($LATEST) has none left.
        with pytest.raises(errors.TooManyRequestsError):
            service.invoke("fn")
        with pytest.raises(errors.InvalidParameterValueError) as lower:
            service.put_function_concurrency("fn", 1)
        assert "should not be lower than function's total provisioned concurrency [2]" in lower.value.message


def test_idle_environments_are_retired_after_the_keep_alive(tmp_path: Path) -> None:
    retired: list[LifecycleRecord] = []

    def watch(record: object) -> None:
        if isinstance(record, LifecycleRecord) and record.kind is Lifecycle.ENVIRONMENT_RETIRED:
            retired.append(record)

    with LocalLambda([python_function(tmp_path, SLEEPER)], keep_alive_s=0.3) as service:
        service.subscribe(watch)
        pid = service.invoke("fn").payload_json()["pid"]
        assert len(service.environments("fn")) == 1
        assert wait_for(lambda: not service.environments("fn"), timeout=10)
        assert wait_for(lambda: not pid_alive(pid), timeout=5)
        # The record follows the kill: wait for it rather than assume it is there.
        assert wait_for(lambda: [r.reason for r in retired] == ["idle"], timeout=5), retired
        assert service.invoke("fn").figures.cold


def test_environments_are_retired_at_their_maximum_lifetime(tmp_path: Path) -> None:
    with LocalLambda([python_function(tmp_path, SLEEPER)], max_lifetime_s=0.5) as service:
        first = service.invoke("fn")
        # Busy past its lifetime: it finishes its invocation and is retired instead of pooled.
        long = service.invoke("fn", b'{"sleep": 0.6}')
        assert long.environment_id == first.environment_id and long.function_error is None
        assert not service.environments("fn")
        again = service.invoke("fn")
        assert again.figures.cold and again.environment_id != first.environment_id
        assert wait_for(lambda: not service.environments("fn"), timeout=10)


def test_throttled_async_event_is_retried_until_it_runs(tmp_path: Path) -> None:
    code = """
        import os, time

        def handler(event, context):
            if event.get("mark"):
                open(os.path.join(event["mark"]), "w").write("ran")
            time.sleep(event.get("sleep", 0))
            return "ok"
    """
    mark = tmp_path / "ran"
    with LocalLambda([python_function(tmp_path, code)]) as service:
        service.put_function_concurrency("fn", 1)
        blocker = threading.Thread(target=service.invoke, args=("fn", b'{"sleep": 1.2}'))
        blocker.start()
        assert wait_for(lambda: service.stats("fn").environments_created == 1, timeout=10)
        accepted = service.invoke("fn", f'{{"mark": "{mark}"}}', invocation_type="Event")
        assert accepted.status_code == 202
        blocker.join(10)
        assert wait_for(mark.exists, timeout=10)
        assert service.stats("fn").throttles >= 1


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        ConcurrencyLimits(account_limit=0)
    with pytest.raises(ValueError):
        ConcurrencyLimits(account_limit=10, unreserved_minimum=11)
    with pytest.raises(ValueError):
        ConcurrencyLimits(scaling_rate=0)
