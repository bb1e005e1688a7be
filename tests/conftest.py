"""Suite-wide guard (no process may outlive the run) and the moto server fixtures."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.helpers import descendants
from tests.moto_fixtures import MotoServer, isolate_aws_environment, running_moto


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    """A moto server over HTTP on 127.0.0.1, one per test module."""
    with running_moto() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """The module's moto server, emptied before and after the test; the host's AWS settings kept out.

    moto keeps its state in module globals shared by every server in the process, so an embedded
    account an earlier test module ran may have left resources behind: they are cleared first.
    """
    isolate_aws_environment(monkeypatch)
    moto_server.reset()
    try:
        yield moto_server
    finally:
        moto_server.reset()


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
