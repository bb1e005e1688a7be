"""Finding the embedded account that `lambench serve` (or the TUI) runs for a project.

Each lambench process would otherwise have its own moto, gone when it exits. A serving process
records its endpoint in `<project>/.lambench/account.json`; one-shot commands (`lambench invoke`)
then point their functions at that account instead of starting their own, so what a handler
writes can be inspected afterwards with the AWS CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from lambench.core.pids import alive
from lambench.core.record import record

STATE_FILE = "account.json"


@record(frozen=True)
class SharedAccount:
    """A running embedded account: who serves it, where, and in which region."""

    pid: int
    endpoint: str
    region: str


def state_path(project_dir: Path) -> Path:
    """Where a serving process records its account."""
    return project_dir / ".lambench" / STATE_FILE


def publish(project_dir: Path, account: SharedAccount) -> None:
    """Record `account` as the project's running account (atomically)."""
    path = state_path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{STATE_FILE}.{os.getpid()}")
    staging.write_text(
        json.dumps({"pid": account.pid, "endpoint": account.endpoint, "region": account.region})
    )
    staging.replace(path)


def withdraw(project_dir: Path, pid: int) -> None:
    """Remove the record if it is `pid`'s."""
    found = _read(state_path(project_dir))
    if found is not None and found.pid == pid:
        with contextlib.suppress(OSError):
            state_path(project_dir).unlink()


def find(project_dir: Path) -> SharedAccount | None:
    """The project's running account, or None (no record, its process gone, or not answering)."""
    account = _read(state_path(project_dir))
    if account is None or not alive(account.pid) or not _listening(account.endpoint):
        return None
    return account


def _read(path: Path) -> SharedAccount | None:
    try:
        data = json.loads(path.read_text())
        return SharedAccount(pid=int(data["pid"]), endpoint=str(data["endpoint"]), region=str(data["region"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _listening(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    if parts.hostname is None or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False
