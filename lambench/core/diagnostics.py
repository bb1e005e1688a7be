"""lambench's own diagnostics (a subscriber that failed, moto that would not start), logged lazily.

`logging` is imported on the first message rather than at start-up: its import costs a one-shot
command more than its function's cold start, and most commands never log anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


def logger(name: str) -> logging.Logger:
    """The standard library logger `name`, imported on first use."""
    import logging

    return logging.getLogger(name)
