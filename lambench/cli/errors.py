"""A user's mistake as the command line reports it: one line on stderr and exit status 2.

Kept free of imports so that `lambench --version` and `--help` load nothing beyond argparse.
"""

from __future__ import annotations

import sys

#: Exit status for a user mistake (bad option, unknown function, broken template or event).
EXIT_USAGE = 2


class UserError(Exception):
    """A mistake the user can fix; printed as `lambench: error: <message>` with exit status 2."""


def fail(message: str) -> int:
    """Print a one-line error to stderr and return the usage exit status."""
    print(f"lambench: error: {message}", file=sys.stderr)
    return EXIT_USAGE
