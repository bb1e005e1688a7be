"""`LAMBENCH_TIME_SCALE`: one factor for every wait Lambda's service model imposes.

A demo or a test cannot sit through Lambda's one- and two-minute async retry delays or a
six-hour event age. With `LAMBENCH_TIME_SCALE=0.01`, every such wait (async retry delays and
throttle backoff, the maximum event age, and later batching windows, visibility timeouts and
schedule intervals) takes a hundredth of its real length. Figures shown to the user stay in real
units: only the sleeping is scaled.
"""

from __future__ import annotations

import math
import os

from lambench.core.config import ConfigError

ENV_VAR = "LAMBENCH_TIME_SCALE"


class TimeScaleError(ConfigError):
    """`LAMBENCH_TIME_SCALE` is not a positive number."""


def time_scale(environ: dict[str, str] | None = None) -> float:
    """The factor from the environment (1 when unset); `TimeScaleError` for a bad value."""
    raw = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise TimeScaleError(f"{ENV_VAR}={raw!r} is not valid; use a positive number such as 1 or 0.01")
    return value
