"""A function that never finishes in time.

Demonstrates the timeout: it sleeps 5 seconds against a 2 second Timeout, so Lambda stops it and
reports "Task timed out after 2.00 seconds"; the next call gets a fresh execution environment.
"""

import time


def handler(event, context):
    time.sleep(5)
    return {"finished": True}  # unreachable while Timeout stays below 5 seconds
