"""Resident memory of an environment's process tree, behind a small interface.

Linux reads `/proc`: `VmHWM` is the kernel's own high-water mark of a process's resident set, and
writing `5` to `/proc/<pid>/clear_refs` resets it, so each invocation gets its true peak rather
than a sample. Elsewhere (macOS) a `ps`-based sampler stands in, giving the peak of its samples.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from typing import Protocol


class MemoryProbe(Protocol):
    """Measures the resident memory of a process and its descendants, in KiB."""

    def reset_peak(self, pid: int) -> None:
        """Start a new peak measurement (called when an invocation starts)."""

    def current_kb(self, pid: int) -> int:
        """Resident memory of the whole tree now."""

    def peak_kb(self, pid: int) -> int:
        """Peak resident memory since `reset_peak`, as well as this probe can know it."""

    def release(self, pid: int) -> None:
        """Forget `pid` (its process has ended); frees anything kept open for it."""


def _read_status_field(pid: int, field: bytes) -> int:
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
    except OSError:
        return 0
    try:
        data = os.read(fd, 8192)
    except OSError:
        return 0
    finally:
        os.close(fd)
    return _field(data, field)


def _children(pid: int, all_threads: bool) -> list[int]:
    tids = [str(pid)]
    if all_threads:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return []
    result: list[int] = []
    for tid in tids:
        try:
            fd = os.open(f"/proc/{pid}/task/{tid}/children", os.O_RDONLY)
        except OSError:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        finally:
            os.close(fd)
        result.extend(int(child) for child in data.split())
    return result


def _descendants(pid: int, all_threads: bool) -> list[int]:
    found: list[int] = []
    pending = _children(pid, all_threads)
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(_children(child, True))
    return found


def _field(data: bytes, name: bytes) -> int:
    start = data.find(name)
    if start < 0:
        return 0
    end = data.find(b"kB", start)
    try:
        return int(data[start + len(name) : end])
    except ValueError:
        return 0


def _clear_peak(clear_refs_fd: int) -> None:
    # "5" resets the process's peak resident size (VmHWM) to its current size.
    with contextlib.suppress(OSError):
        os.write(clear_refs_fd, b"5")


class _ProcFiles:
    """Descriptors of one runtime process's `/proc` files, opened once.

    `/proc` files regenerate their text on every read from offset 0, so `pread` on a kept
    descriptor costs one system call where open/read/close costs three (and opens are slow).
    The descriptors belong to that process: after it ends they read nothing, never another's data.
    """

    def __init__(self, pid: int) -> None:
        self.status = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        self.children = os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY)
        try:
            self.clear_refs: int | None = os.open(f"/proc/{pid}/clear_refs", os.O_WRONLY)
        except OSError:
            self.clear_refs = None

    def close(self) -> None:
        for fd in (self.status, self.children, self.clear_refs):
            if fd is not None:
                os.close(fd)


class ProcMemoryProbe:
    """Linux: exact peaks from `VmHWM`, reset per invocation through `clear_refs`."""

    def __init__(self) -> None:
        self._files: dict[int, _ProcFiles] = {}

    def _of(self, pid: int) -> _ProcFiles | None:
        files = self._files.get(pid)
        if files is None:
            try:
                files = self._files[pid] = _ProcFiles(pid)
            except OSError:
                return None
        return files

    def _below(self, files: _ProcFiles) -> list[int]:
        """Every process below the runtime, found through its main thread's children."""
        try:
            children = [int(child) for child in os.pread(files.children, 65536, 0).split()]
        except OSError:
            return []
        return [p for child in children for p in (child, *_descendants(child, all_threads=True))]

    def release(self, pid: int) -> None:
        """Close the descriptors kept for `pid`."""
        files = self._files.pop(pid, None)
        if files is not None:
            files.close()

    def reset_peak(self, pid: int) -> None:
        """Reset the kernel's high-water mark of the runtime process and its descendants."""
        files = self._of(pid)
        if files is None:
            return
        if files.clear_refs is not None:
            _clear_peak(files.clear_refs)
        for target in self._below(files):
            try:
                fd = os.open(f"/proc/{target}/clear_refs", os.O_WRONLY)
            except OSError:
                continue
            try:
                _clear_peak(fd)
            finally:
                os.close(fd)

    def current_kb(self, pid: int) -> int:
        """Sum of `VmRSS` over the tree, walking every thread's children (used on the watchdog tick)."""
        return sum(_read_status_field(p, b"VmRSS:") for p in (pid, *_descendants(pid, all_threads=True)))

    def peak_kb(self, pid: int) -> int:
        """Sum of the high-water marks over the tree.

        Only the main thread's children are walked here: this runs once per invocation on the warm
        path, and the watchdog's full walks catch processes started from other threads.
        """
        files = self._of(pid)
        if files is None:
            return 0
        try:
            total = _field(os.pread(files.status, 8192, 0), b"VmHWM:")
        except OSError:
            return 0
        return total + sum(_read_status_field(p, b"VmHWM:") for p in self._below(files))


class SampledMemoryProbe:
    """Portable fallback: samples the tree's RSS with `ps`, at most every `interval` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        self._interval = interval
        self._peaks: dict[int, int] = {}
        self._last: dict[int, tuple[float, int]] = {}

    def release(self, pid: int) -> None:
        """Forget the samples of `pid`."""
        self._peaks.pop(pid, None)
        self._last.pop(pid, None)

    def reset_peak(self, pid: int) -> None:
        """Forget earlier samples; the next peak starts from the last known resident size."""
        self._peaks[pid] = self._last.get(pid, (0.0, 0))[1]

    def current_kb(self, pid: int) -> int:
        """Sample now (this runs `ps`, so it is only called from the watchdog tick)."""
        value = self._sample(pid)
        self._last[pid] = (time.monotonic(), value)
        self._peaks[pid] = max(self._peaks.get(pid, 0), value)
        return value

    def peak_kb(self, pid: int) -> int:
        """The highest sample since the reset; samples again if the last one is stale."""
        last_time, _ = self._last.get(pid, (0.0, 0))
        if time.monotonic() - last_time > self._interval:
            self.current_kb(pid)
        return self._peaks.get(pid, 0)

    @staticmethod
    def _sample(pid: int) -> int:
        try:
            out = subprocess.run(
                ["ps", "-A", "-o", "pid=,ppid=,rss="], capture_output=True, text=True, timeout=5, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        rss: dict[int, int] = {}
        children: dict[int, list[int]] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                continue
            p, parent, size = (int(x) for x in parts)
            rss[p] = size
            children.setdefault(parent, []).append(p)
        total, pending = 0, [pid]
        while pending:
            current = pending.pop()
            total += rss.get(current, 0)
            pending.extend(children.get(current, []))
        return total


def default_probe() -> MemoryProbe:
    """The most exact probe this machine supports."""
    if sys.platform.startswith("linux") and os.path.exists(f"/proc/{os.getpid()}/status"):
        return ProcMemoryProbe()
    return SampledMemoryProbe()
