"""Shared test helpers: function factories, deadline-based waiting, process inspection."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambench.core.config import FunctionConfig
from lambench.core.pids import alive

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


#: A handler that sleeps `sleep` seconds, then fails (`fail`), hangs past a timeout (`hang`) or
#: returns "ok": one event per outcome the timeline tests count.
MIXED_HANDLER = """
    import time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        if event.get("fail"):
            raise ValueError("asked to fail")
        if event.get("hang"):
            time.sleep(10)
        return "ok"
"""


def copy_demo(tmp_path: Path) -> Path:
    """demo_functions/ copied into `tmp_path/demo`, without caches or lambench state."""
    target = tmp_path / "demo"
    shutil.copytree(
        REPO / "demo_functions", target, ignore=shutil.ignore_patterns(".lambench", "__pycache__")
    )
    return target


def python_function(
    tmp_path: Path,
    code: str,
    *,
    name: str = "fn",
    handler: str = "app.handler",
    module: str = "app.py",
    **options: Any,
) -> FunctionConfig:
    """Write `code` as the function's module in a fresh directory and describe the function."""
    code_dir = tmp_path / name
    code_dir.mkdir(parents=True, exist_ok=True)
    target = code_dir / module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(code))
    return FunctionConfig.create(name=name, handler=handler, code_dir=code_dir, **options)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
    # Without /proc (macOS) the signal probe decides; with it, a missing stat file means gone.
    return alive(pid) and not os.path.isdir("/proc")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (Linux; empty elsewhere)."""
    if not os.path.isdir("/proc"):
        return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] in ("Z", "X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def lambench(*args: str, stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the `lambench` command as a user would, capturing its output (stdin closed unless given)."""
    return subprocess.run(
        [sys.executable, "-m", "lambench", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=120,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def simultaneously(count: int, call: Callable[[], Any]) -> list[Any]:
    """Run `call` on `count` threads released together; each result, or the exception it raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def account_client(backend: Any, service: str) -> Any:
    """A user's boto3 client on a LocalBackend's embedded account (not lambench's internal one)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=backend.account.endpoint,
        region_name="us-east-1",
        aws_access_key_id="user",
        aws_secret_access_key="user",
        config=Config(retries={"max_attempts": 1}),
    )
