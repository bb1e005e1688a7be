"""CPU that scales with memory, as on AWS: one vCPU at 1,769 MB, in proportion below and above.

Lambda allocates CPU power in proportion to the configured memory (AWS: "at 1,769 MB, a function
has the equivalent of one vCPU", up to 6 vCPUs at 10,240 MB), so a CPU-bound handler at 128 MB
gets about 7% of a core. lambench gives each execution environment that share, capped at this
machine's cores, through one of these mechanisms behind the same small interface:

- `CgroupLimiter`: a cgroup per environment with a CFS quota: cgroup v2's `cpu.max`, or v1's
  `cpu.cfs_quota_us` / `cpu.cfs_period_us` (Linux, where lambench may create cgroups: root or a
  delegated subtree). The kernel enforces it for the whole process tree; nothing runs per invoke.
- `DutyCycleLimiter`: portable: one supervisor thread stops and continues each throttled
  environment's process group (SIGSTOP / SIGCONT) so it runs its share of every 20 ms period.
- `NoLimiter`: full speed, the default for plain invokes unless asked (`--cpu-scaling`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

#: Memory at which an environment gets one full vCPU, and the most vCPUs Lambda gives.
MB_PER_VCPU = 1769
MAX_VCPUS = 6.0
#: The CFS period lambench's cgroups use, and the duty cycle's.
PERIOD_S = 0.02


MAX_MEMORY_MB = 10_240


def cpu_share(memory_mb: int, cores: int | None = None) -> float:
    """vCPUs for `memory_mb`, capped at this machine's cores.

    In proportion up to one vCPU at 1,769 MB; above it, AWS's two documented points (1 vCPU at
    1,769 MB, 6 at 10,240 MB) are joined by a straight line (AWS publishes no finer table).
    """
    available = float(cores if cores is not None else (os.cpu_count() or 1))
    if memory_mb <= MB_PER_VCPU:
        share = memory_mb / MB_PER_VCPU
    else:
        share = 1.0 + (memory_mb - MB_PER_VCPU) * (MAX_VCPUS - 1.0) / (MAX_MEMORY_MB - MB_PER_VCPU)
    return min(share, MAX_VCPUS, available)


class CpuLimiter:
    """Gives a process group a CPU share; `name` says which mechanism, for reports."""

    name = "none"

    def attach(self, pid: int, share: float) -> object | None:
        """Limit `pid` (and what it starts) to `share` vCPUs; a handle for `release`, or None."""
        return None

    def release(self, handle: object | None) -> None:
        """Stop limiting (the process is gone or going)."""

    def close(self) -> None:
        """Release everything (the engine is closing)."""


class NoLimiter(CpuLimiter):
    """Full speed: what an environment gets without CPU scaling."""


class CgroupLimiter(CpuLimiter):
    """A cgroup per environment under `root` with a CFS quota (v2 `cpu.max` or v1 `cfs_quota_us`)."""

    def __init__(self, root: Path, version: int) -> None:
        self.root = root
        self.version = version
        self.name = f"cgroup v{version} CFS quota"
        self._count = 0
        self._lock = threading.Lock()

    @classmethod
    def available(cls) -> CgroupLimiter | None:
        """A limiter where this process may create CPU cgroups, else None."""
        candidates = [(Path("/sys/fs/cgroup"), 2), (Path("/sys/fs/cgroup/cpu"), 1)]
        for base, version in candidates:
            marker = base / ("cgroup.controllers" if version == 2 else "cpu.cfs_quota_us")
            if not marker.exists():
                continue
            if version == 2 and "cpu" not in marker.read_text().split():
                continue
            root = base / f"lambench-{os.getpid()}"
            try:
                root.mkdir(exist_ok=True)
                if version == 2:
                    # Children of the new group may only use controllers it delegates to them.
                    (root / "cgroup.subtree_control").write_text("+cpu")
            except OSError:
                with contextlib.suppress(OSError):
                    root.rmdir()
                continue
            return cls(root, version)
        return None

    def attach(self, pid: int, share: float) -> object | None:
        with self._lock:
            self._count += 1
            group = self.root / f"env-{self._count}"
        period_us = int(PERIOD_S * 1_000_000)
        quota_us = max(1000, int(share * period_us))
        try:
            group.mkdir()
            if self.version == 2:
                (group / "cpu.max").write_text(f"{quota_us} {period_us}")
            else:
                (group / "cpu.cfs_period_us").write_text(str(period_us))
                (group / "cpu.cfs_quota_us").write_text(str(quota_us))
            (group / "cgroup.procs").write_text(str(pid))
        except OSError:
            self._remove(group)
            return None
        return group

    def release(self, handle: object | None) -> None:
        if isinstance(handle, Path):
            self._remove(handle)

    def _remove(self, group: Path) -> None:
        # A group can only be removed once its processes are gone; they were killed just before.
        for _ in range(50):
            try:
                group.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)

    def close(self) -> None:
        if self.root.exists():
            for group in self.root.glob("env-*"):
                self._remove(group)
            with contextlib.suppress(OSError):
                self.root.rmdir()


class DutyCycleLimiter(CpuLimiter):
    """Stops and continues each throttled process group so it runs `share` of every period."""

    name = "duty cycle (SIGSTOP/SIGCONT)"

    def __init__(self) -> None:
        self._groups: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, pid: int, share: float) -> object | None:
        if share >= 1.0:
            return None  # one process runs on one core at most: nothing to take away
        with self._lock:
            self._groups[pid] = share
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lambench-cpu-duty", daemon=True)
                self._thread.start()
        return pid

    def release(self, handle: object | None) -> None:
        if isinstance(handle, int):
            with self._lock:
                self._groups.pop(handle, None)
            with contextlib.suppress(OSError):
                os.killpg(handle, signal.SIGCONT)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            groups = list(self._groups)
            self._groups.clear()
        for pid in groups:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGCONT)
        if self._thread is not None:
            self._thread.join(1)

    def _run(self) -> None:
        # One period: every group runs, then each is stopped once its share of the period is used.
        # This thread wakes late (more so on a busy machine): how late it stopped each group last
        # time is taken off the next period's run, so the share stays near its target.
        late: dict[int, float] = {}
        while not self._stop.is_set():
            with self._lock:
                groups = sorted(self._groups.items(), key=lambda item: item[1])
            start = time.monotonic()
            for pid, _ in groups:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGCONT)
            for pid, share in groups:
                deadline = start + share * PERIOD_S
                wait = deadline - late.get(pid, 0.0) - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGSTOP)
                overshoot = time.monotonic() - (deadline - late.get(pid, 0.0))
                late[pid] = min(share * PERIOD_S * 0.5, 0.8 * late.get(pid, 0.0) + 0.2 * max(0.0, overshoot))
            rest = start + PERIOD_S - time.monotonic()
            if rest > 0:
                self._stop.wait(rest)
        with self._lock:
            left = list(self._groups)
        for pid in left:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGCONT)


def make_limiter(mode: str) -> CpuLimiter:
    """`off`, `auto` (a cgroup where allowed, else the duty cycle), `cgroup` or `duty`."""
    if mode == "off":
        return NoLimiter()
    if mode in ("auto", "cgroup"):
        limiter = CgroupLimiter.available()
        if limiter is not None:
            return limiter
        if mode == "cgroup":
            raise OSError("no CPU cgroup may be created here (not root, no delegated cgroup subtree)")
    if mode in ("auto", "duty"):
        return DutyCycleLimiter()
    raise ValueError(f"unknown CPU scaling mode {mode!r}; use off, auto, cgroup or duty")
