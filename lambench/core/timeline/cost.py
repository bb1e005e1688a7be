"""What a set of invocations would cost on AWS Lambda (us-east-1 list prices, lambda-facts §6).

Amounts stay floats all the way through; round only when showing them. Provisioned concurrency,
ephemeral storage above 512 MB and data transfer are billed separately by AWS and left out here.
"""

from __future__ import annotations

import math

from lambench.core.record import record

X86_64 = "x86_64"
ARM64 = "arm64"
ARCHITECTURES = (X86_64, ARM64)

#: $0.20 per million requests.
REQUEST_USD_PER_MILLION = 0.20

#: Monthly duration tiers per architecture: (GB-s in the tier, $ per GB-s), cheapest last.
DURATION_TIERS: dict[str, tuple[tuple[float, float], ...]] = {
    X86_64: ((6e9, 0.0000166667), (9e9, 0.000015), (math.inf, 0.0000133334)),
    ARM64: ((7.5e9, 0.0000133334), (11.25e9, 0.0000120001), (math.inf, 0.0000106667)),
}

#: The permanent monthly free tier; the GB-s allowance is shared by both architectures.
FREE_REQUESTS = 1_000_000
FREE_GB_SECONDS = 400_000.0


def gb_seconds(memory_mb: float, billed_ms: float) -> float:
    """Compute in GB-seconds: memory in GB (MB / 1024) times billed seconds."""
    return memory_mb / 1024 * billed_ms / 1000


def request_cost(requests: int) -> float:
    """Dollars for `requests` requests, before any free tier."""
    # Multiplying by the per-request price (2e-7) would make one million requests 0.19999999999999998.
    return requests * REQUEST_USD_PER_MILLION / 1_000_000


def duration_cost(gb_s: float, architecture: str) -> float:
    """Dollars for `gb_s` GB-seconds on `architecture`, walking the monthly tiers from the first.

    Raises ValueError for an architecture other than `x86_64` or `arm64`.
    """
    try:
        tiers = DURATION_TIERS[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}") from None
    usd = 0.0
    left = gb_s
    for size, price in tiers:
        if left <= 0:
            break
        in_tier = min(left, size)
        usd += in_tier * price
        left -= in_tier
    return usd


@record(frozen=True)
class Cost:
    """The bill for some requests and GB-seconds, and how much of it the free tier would cover.

    The free tier is a monthly allowance; applied here, it treats the usage as a whole month's.
    """

    requests: int
    gb_seconds_x86: float
    gb_seconds_arm: float
    request_usd: float
    duration_usd: float
    total_usd: float
    free_tier_usd: float
    after_free_tier_usd: float

    @property
    def gb_seconds(self) -> float:
        """GB-seconds on both architectures."""
        return self.gb_seconds_x86 + self.gb_seconds_arm


def compute_cost(requests: int, gb_seconds_x86: float, gb_seconds_arm: float) -> Cost:
    """Price `requests` requests and the GB-seconds run on each architecture."""
    request_usd = request_cost(requests)
    duration_usd = duration_cost(gb_seconds_x86, X86_64) + duration_cost(gb_seconds_arm, ARM64)
    total_usd = request_usd + duration_usd
    # AWS applies the GB-s allowance to the monthly bill as a whole; spending it on x86_64 first
    # and then on arm64 is lambench's choice (it covers slightly more dollars, x86 being dearer).
    free_x86 = min(gb_seconds_x86, FREE_GB_SECONDS)
    free_arm = min(gb_seconds_arm, FREE_GB_SECONDS - free_x86)
    # The free GB-s are the month's first ones, so they are priced at the first tier.
    free_tier_usd = (
        request_cost(min(requests, FREE_REQUESTS))
        + duration_cost(free_x86, X86_64)
        + duration_cost(free_arm, ARM64)
    )
    return Cost(
        requests=requests,
        gb_seconds_x86=gb_seconds_x86,
        gb_seconds_arm=gb_seconds_arm,
        request_usd=request_usd,
        duration_usd=duration_usd,
        total_usd=total_usd,
        free_tier_usd=free_tier_usd,
        # Both sides sum the same terms, but not in the same order: never show -0.000000001.
        after_free_tier_usd=max(0.0, total_usd - free_tier_usd),
    )
