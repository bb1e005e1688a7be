"""Suite-wide guard: after the last test, no process started during the run may remain."""

from __future__ import annotations

import os
import time

import pytest

from tests.helpers import descendants


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any child process outlived the tests (give reaping a moment first)."""
    deadline = time.monotonic() + 5
    left = descendants(os.getpid())
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = descendants(os.getpid())
    if left:
        details = []
        for pid in left:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
                details.append(f"{pid}: {command}")
            except OSError:
                details.append(str(pid))
        print("\nProcesses left behind by the test suite:\n  " + "\n  ".join(details))
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many event templates were checked against aws-lambda-powertools, and how."""
    import sys

    module = sys.modules.get("tests.test_event_catalog")
    validated: dict[str, str] = getattr(module, "VALIDATED", {})
    if not validated:
        return
    counts = {
        kind: sum(1 for how in validated.values() if how == kind) for kind in ("model", "data_class", "none")
    }
    services = len({key.split("/", 1)[0] for key in validated})
    terminalreporter.write_line(
        f"event templates: {len(validated)} across {services} services rendered; "
        f"{counts['model']} validated by a Powertools parser model, {counts['data_class']} by a Powertools "
        f"data class, {counts['none']} have no Powertools shape"
    )
