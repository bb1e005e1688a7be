"""The memory limit of one environment: the watchdog's check and the invocation's true peak.

A busy runtime is sampled every tick; a sample over the limit is an out-of-memory kill, as the
cgroup of a real environment would be. The peak of an invocation is the highest of the ticks and
the kernel's own high-water mark, which catches a spike that came and went between two ticks.
"""

from __future__ import annotations

from lambench.core.runtime.memory import MemoryProbe

#: How often a busy environment's memory is checked against its limit; the kill comes within
#: one tick of crossing it.
WATCHDOG_TICK_S = 0.025


class MemoryWatch:
    """Peak memory of one environment's runtime during one invocation, against its limit."""

    def __init__(self, probe: MemoryProbe, limit_mb: int) -> None:
        self._probe = probe
        self.limit_mb = limit_mb
        self._tick_peak_kb = 0
        #: The peak of the last invocation, in MB, once it is known.
        self.measured_mb = 0

    def reset(self, pid: int | None) -> None:
        """A new invocation starts: forget the last peak (and the kernel's, where it can)."""
        self._tick_peak_kb = 0
        if pid is not None:
            self._probe.reset_peak(pid)

    def over_limit(self, pid: int) -> bool:
        """One watchdog tick: sample the runtime's memory; True if it is over the limit."""
        current = self._probe.current_kb(pid)
        self._tick_peak_kb = max(self._tick_peak_kb, current)
        return current > self.limit_mb * 1024

    def measure(self, pid: int | None) -> int:
        """Fix the invocation's peak in MB (`pid` None once the runtime has exited) and return it."""
        kb = self._tick_peak_kb
        if pid is not None:
            kb = max(kb, self._probe.peak_kb(pid))
        self.measured_mb = (kb + 1023) // 1024
        return self.measured_mb

    def measure_ticks(self) -> None:
        """Fix the peak from the ticks alone (the runtime never got to run the event)."""
        self.measured_mb = self._tick_peak_kb // 1024

    def release(self, pid: int) -> None:
        """The runtime process is gone."""
        self._probe.release(pid)
