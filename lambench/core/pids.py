"""Whether a process another lambench process recorded (in `.lambench/`) still lives."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while `pid` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
