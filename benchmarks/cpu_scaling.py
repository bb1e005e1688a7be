"""CPU scaled to memory: how close each mechanism's share is to its target, and what it costs.

- accuracy: a handler burns a fixed CPU time; its measured share (CPU time / duration) beside the
  target (memory / 1,769 MB) at 128, 512 and 1,769 MB, for the cgroup quota (where lambench may
  create cgroups) and the duty cycle;
- cost: a trivial handler's warm invoke p50 at 1,769 MB with scaling on beside off (the same run),
  and at 128 MB, where the quota is the point.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.stats import percentile
from lambench.core.config import FunctionConfig
from lambench.core.runtime.cpu_limit import CgroupLimiter, cpu_share
from lambench.core.runtime.service import LocalLambda

_BURN = """
import time

def handler(event, context):
    started = time.process_time()
    while time.process_time() - started < event.get("cpu_s", 0):
        pass
    return "ok"
"""
CPU_S = 0.1


def _warm_p50_us(config: FunctionConfig, mode: str, count: int) -> float:
    with LocalLambda([config], cpu_scaling=mode) as service:
        service.invoke(config.name, b"{}")
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            service.invoke(config.name, b"{}")
            samples.append((time.perf_counter() - start) * 1e6)
        return percentile(samples, 50)


def cpu_scaling_figures(quick: bool) -> None:
    """Print each mechanism's share against its target, and the warm-invoke cost of scaling."""
    modes = ["duty"]
    probe = CgroupLimiter.available()
    if probe is not None:
        probe.close()
        modes.insert(0, "cgroup")
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="lambench-bench-cpu-") as tmp:
        code = Path(tmp)
        (code / "app.py").write_text(_BURN)
        print("\nCPU scaled to memory (a handler burning 0.1 s of CPU; share = CPU time / duration)")
        for mode in modes:
            for memory in (128, 512, 1769):
                config = FunctionConfig.create(
                    name="burn", handler="app.handler", code_dir=code, memory_mb=memory, timeout_s=60
                )
                with LocalLambda([config], cpu_scaling=mode) as service:
                    service.invoke("burn", b'{"cpu_s": 0.001}')
                    shares = []
                    for _ in range(repeats):
                        result = service.invoke("burn", b'{"cpu_s": %g}' % CPU_S)
                        shares.append(CPU_S / (result.figures.duration_ms / 1000))
                    name = service.cpu.name
                measured = statistics.median(shares)
                target = cpu_share(memory)
                print(
                    f"  {name:<30} {memory:>5} MB   target {target:5.3f} vCPU   measured {measured:5.3f}"
                    f"   ratio {measured / target:.2f}x"
                )
        count = 300 if quick else 2000
        fast = FunctionConfig.create(name="trivial", handler="app.handler", code_dir=code, memory_mb=1769)
        small = FunctionConfig.create(name="trivial", handler="app.handler", code_dir=code, memory_mb=128)
        off = _warm_p50_us(fast, "off", count)
        on = _warm_p50_us(fast, "auto", count)
        small_on = _warm_p50_us(small, "auto", count)
        print(
            f"  warm invoke p50, trivial handler: 1,769 MB scaling off {off:.0f} µs, on {on:.0f} µs "
            f"({on / off:.2f}x); 128 MB on {small_on:.0f} µs ({small_on / off:.2f}x)"
        )
