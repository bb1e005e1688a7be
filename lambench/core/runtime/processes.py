"""Every process lambench starts is registered here and reaped on every exit path.

Runtime processes lead their own process group, so a whole tree (the runtime and anything the
handler spawned) is signalled at once, by the group id of a process we started ourselves.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Protocol

_lock = threading.Lock()
_live: dict[int, subprocess.Popen[bytes]] = {}
_closers: weakref.WeakSet[_Closable] = weakref.WeakSet()


class _Closable(Protocol):
    """Anything holding processes that `close()` releases (the engine's services)."""

    def close(self) -> None:
        """Release every process."""


def register(proc: subprocess.Popen[bytes]) -> None:
    """Track a process started by lambench until `forget` is called after it is reaped."""
    with _lock:
        _live[proc.pid] = proc


def forget(proc: subprocess.Popen[bytes]) -> None:
    """Stop tracking a process that has been waited for."""
    with _lock:
        _live.pop(proc.pid, None)


def live_pids() -> list[int]:
    """PIDs of started processes not yet reaped (for tests and diagnostics)."""
    with _lock:
        return list(_live)


def register_closer(obj: _Closable) -> None:
    """Call `obj.close()` at interpreter exit (and on SIGTERM) unless it was closed before."""
    _closers.add(obj)


def signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Send `signum` to the process group led by `proc` (which lambench started)."""
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.send_signal(signum)


def terminate_all(procs: Iterable[subprocess.Popen[bytes]], grace_s: float) -> None:
    """SIGTERM each group, wait up to `grace_s` for all of them together, then SIGKILL the rest.

    Groups are signalled even after their leader exited, so grandchildren do not outlive us.
    """
    procs = list(procs)
    for proc in procs:
        signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
            continue
        forget(proc)


def kill_now(proc: subprocess.Popen[bytes]) -> int:
    """SIGKILL the group at once and reap the leader; returns its exit status."""
    signal_group(proc, signal.SIGKILL)
    code = proc.wait()
    forget(proc)
    return code


def _close_everything() -> None:
    for obj in list(_closers):
        with contextlib.suppress(Exception):
            obj.close()
    with _lock:
        leftovers = list(_live.values())
    if leftovers:
        terminate_all(leftovers, grace_s=0.2)


atexit.register(_close_everything)


def install_signal_handlers() -> None:
    """Turn SIGTERM (and SIGHUP) into a clean exit so atexit reaps environments.

    Only from the main thread, and only where no one else installed a handler.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def _exit(signum: int, _frame: object) -> None:
        # Signal the environments first: CPython can lose an exception raised by a signal
        # handler at some I/O boundaries, and then no atexit would run. No lock is taken here
        # (the interrupted code may hold it); copying the dict is atomic under the GIL.
        for proc in list(_live.values()):
            signal_group(proc, signal.SIGTERM)
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _exit)
