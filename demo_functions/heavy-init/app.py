"""A function with an expensive initialisation phase.

Demonstrates cold starts: importing this module sleeps INIT_SLEEP_MS (default 800) milliseconds,
standing in for heavy imports, so only the first invocation of an execution environment pays for
it. The module-level counter shows environment reuse: warm invocations keep counting.
"""

import os
import time

_started = time.monotonic()
time.sleep(int(os.environ.get("INIT_SLEEP_MS", "800")) / 1000)
INIT_MS = round((time.monotonic() - _started) * 1000)

invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    return {"invocations": invocations, "cold_start": invocations == 1, "init_ms": INIT_MS}
