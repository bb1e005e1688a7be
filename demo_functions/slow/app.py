"""A function that takes its time.

Demonstrates duration, billed duration and concurrency: each call sleeps event["sleep_ms"] or
SLEEP_MS (default 500) milliseconds, well inside its 10 second timeout, so overlapping calls need
more execution environments.
"""

import os
import time


def handler(event, context):
    sleep_ms = int(event.get("sleep_ms", os.environ.get("SLEEP_MS", "500")))
    time.sleep(sleep_ms / 1000)
    return {"slept_ms": sleep_ms, "remaining_ms": context.get_remaining_time_in_millis()}
