"""A CPU-bound function: hashes a buffer N times (event "rounds", default 10000).

Demonstrates CPU that scales with memory: 'lambench tune crunch' runs it at each size with
CPU in proportion to memory, as on AWS, and recommends the cheapest, fastest or balanced size.
"""

import hashlib


def handler(event, context):
    rounds = int(event.get("rounds", 10000)) if isinstance(event, dict) else 10000
    digest = b"lambench"
    for _ in range(rounds):
        digest = hashlib.sha256(digest * 64).digest()
    return {"rounds": rounds, "digest": digest.hex()}
