"""A function that needs more memory than it has.

Demonstrates the memory limit: it allocates event["mb"] MB (default 200) against a MemorySize of
128, so Lambda ends it with "Runtime exited with error: signal: killed".
"""

PAGE_SIZE = 4096


def handler(event, context):
    mb = int(event.get("mb", 200))
    block = bytearray(mb * 1024 * 1024)
    # A fresh bytearray is zero pages the kernel has not handed out yet; writing makes them count.
    for offset in range(0, len(block), PAGE_SIZE):
        block[offset] = 1
    return {"allocated_mb": mb}
