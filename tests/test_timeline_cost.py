"""Lambda prices as lambda-facts §6 gives them, worked by hand."""

from __future__ import annotations

import pytest

from lambench.core.timeline.cost import compute_cost, duration_cost, gb_seconds, request_cost

X86_FIRST, X86_SECOND, X86_THIRD = 0.0000166667, 0.000015, 0.0000133334
ARM_FIRST, ARM_SECOND, ARM_THIRD = 0.0000133334, 0.0000120001, 0.0000106667


def test_a_million_small_invocations() -> None:
    # 1,000,000 invocations of a 128 MB function billed 100 ms each.
    per_invocation = gb_seconds(128, 100)
    assert per_invocation == pytest.approx(0.0125, rel=1e-12)
    total = per_invocation * 1_000_000
    assert total == pytest.approx(12_500, rel=1e-12)
    assert duration_cost(total, "x86_64") == pytest.approx(0.20833375, rel=1e-12)
    assert duration_cost(total, "arm64") == pytest.approx(0.1666675, rel=1e-12)
    assert request_cost(1_000_000) == pytest.approx(0.20, rel=1e-12)
    assert request_cost(1) == pytest.approx(0.0000002, rel=1e-12)


def test_gb_seconds_scale_with_memory_and_billed_time() -> None:
    assert gb_seconds(1024, 1000) == pytest.approx(1.0)
    assert gb_seconds(10_240, 593) == pytest.approx(5.93)
    assert gb_seconds(128, 0) == 0.0


def test_duration_tiers_x86() -> None:
    assert duration_cost(6e9, "x86_64") == pytest.approx(6e9 * X86_FIRST, rel=1e-12)
    # One billion GB-s past the first tier are priced at the second rate.
    assert duration_cost(7e9, "x86_64") == pytest.approx(6e9 * X86_FIRST + 1e9 * X86_SECOND, rel=1e-12)
    assert duration_cost(16e9, "x86_64") == pytest.approx(
        6e9 * X86_FIRST + 9e9 * X86_SECOND + 1e9 * X86_THIRD, rel=1e-12
    )
    assert duration_cost(16e9, "x86_64") == pytest.approx(248_333.6, rel=1e-12)


def test_duration_tiers_arm64() -> None:
    assert duration_cost(7.5e9, "arm64") == pytest.approx(7.5e9 * ARM_FIRST, rel=1e-12)
    assert duration_cost(8e9, "arm64") == pytest.approx(7.5e9 * ARM_FIRST + 0.5e9 * ARM_SECOND, rel=1e-12)
    assert duration_cost(20e9, "arm64") == pytest.approx(248_335.0, rel=1e-12)
    assert duration_cost(20e9, "arm64") == pytest.approx(
        7.5e9 * ARM_FIRST + 11.25e9 * ARM_SECOND + 1.25e9 * ARM_THIRD, rel=1e-12
    )


def test_unknown_architecture_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'sparc'"):
        duration_cost(1.0, "sparc")


def test_usage_inside_the_free_tier_is_all_covered() -> None:
    cost = compute_cost(1_000_000, 12_500.0, 0.0)
    assert cost.request_usd == pytest.approx(0.20, rel=1e-12)
    assert cost.duration_usd == pytest.approx(0.20833375, rel=1e-12)
    assert cost.total_usd == pytest.approx(0.40833375, rel=1e-12)
    assert cost.free_tier_usd == pytest.approx(cost.total_usd, rel=1e-12)
    assert cost.after_free_tier_usd == pytest.approx(0.0, abs=1e-15)
    assert cost.after_free_tier_usd >= 0.0


def test_usage_beyond_the_free_tier() -> None:
    cost = compute_cost(2_000_000, 500_000.0, 0.0)
    assert cost.request_usd == pytest.approx(0.40, rel=1e-12)
    assert cost.duration_usd == pytest.approx(500_000 * X86_FIRST, rel=1e-12)
    assert cost.free_tier_usd == pytest.approx(0.20 + 400_000 * X86_FIRST, rel=1e-12)
    assert cost.after_free_tier_usd == pytest.approx(0.20 + 100_000 * X86_FIRST, rel=1e-12)
    assert cost.after_free_tier_usd == pytest.approx(1.86667, rel=1e-9)


def test_the_free_gb_seconds_go_to_x86_first_then_arm64() -> None:
    cost = compute_cost(10, 300_000.0, 300_000.0)
    # 300,000 x86 GB-s are free, then the remaining 100,000 of the allowance go to arm64.
    free = request_cost(10) + 300_000 * X86_FIRST + 100_000 * ARM_FIRST
    assert cost.free_tier_usd == pytest.approx(free, rel=1e-12)
    assert cost.after_free_tier_usd == pytest.approx(200_000 * ARM_FIRST, rel=1e-9)
    assert cost.gb_seconds == pytest.approx(600_000.0)
    assert cost.total_usd == pytest.approx(cost.request_usd + cost.duration_usd, rel=1e-12)


def test_no_usage_costs_nothing() -> None:
    cost = compute_cost(0, 0.0, 0.0)
    assert (cost.total_usd, cost.free_tier_usd, cost.after_free_tier_usd) == (0.0, 0.0, 0.0)
