"""A function that fails some of the time.

Demonstrates unhandled errors (errorType, errorMessage, stackTrace) and what follows them: a FAIL_RATE
fraction of calls (default 0.3) raise. An event with "fail" decides for itself: true always
fails, false always succeeds.
"""

import os
import random


class FlakyError(Exception):
    """The failure this function is known for."""


def handler(event, context):
    rate = float(os.environ.get("FAIL_RATE", "0.3"))
    fail = bool(event["fail"]) if "fail" in event else random.random() < rate
    if fail:
        raise FlakyError(f"simulated failure (FAIL_RATE={rate})")
    return {"ok": True}
