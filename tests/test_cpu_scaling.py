"""CPU in proportion to memory (core/runtime/cpu_limit.py), on real runtime processes.

A CPU-bound handler burns a fixed amount of CPU time; at 128 MB (about 7% of a vCPU) it must take
at least 4x as long as at 1,024 MB (58%), under each mechanism this machine allows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lambench.core.runtime.cpu_limit import CgroupLimiter, DutyCycleLimiter, cpu_share, make_limiter
from lambench.core.runtime.service import LocalLambda
from tests.helpers import pid_alive, python_function, wait_for

BURN = """
    import time

    def handler(event, context):
        started = time.process_time()
        while time.process_time() - started < event["cpu_s"]:
            pass
        return "done"
"""


def duration_ms(tmp_path: Path, memory_mb: int, mode: str) -> tuple[float, str]:
    config = python_function(tmp_path, BURN, name=f"burn{memory_mb}{mode}", memory_mb=memory_mb, timeout_s=30)
    with LocalLambda([config], cpu_scaling=mode) as service:
        assert (
            service.invoke(config.name, b'{"cpu_s": 0.001}').function_error is None
        )  # cold start out of the way
        result = service.invoke(config.name, b'{"cpu_s": 0.05}')
        assert result.function_error is None, result.payload
        return result.figures.duration_ms, service.cpu.name


def mechanisms() -> list[str]:
    found = ["duty"]
    probe = CgroupLimiter.available()
    if probe is not None:
        probe.close()
        found.insert(0, "cgroup")
    return found


@pytest.mark.parametrize("mode", mechanisms())
def test_a_cpu_bound_handler_is_at_least_4x_slower_at_128_mb_than_at_1024(tmp_path: Path, mode: str) -> None:
    slow, name = duration_ms(tmp_path, 128, mode)
    fast, _ = duration_ms(tmp_path, 1024, mode)
    assert name.startswith("cgroup v") if mode == "cgroup" else name == "duty cycle (SIGSTOP/SIGCONT)"
    assert slow >= 4 * fast, (mode, slow, fast)
    # About 0.05 s of CPU at 7.2% of a core: 0.69 s; allow the scheduler its slack.
    assert 450 <= slow <= 1500, slow


def test_without_scaling_memory_does_not_slow_the_cpu(tmp_path: Path) -> None:
    slow, name = duration_ms(tmp_path, 128, "off")
    assert name == "none" and slow < 300


def test_the_share_follows_memory_and_the_machine() -> None:
    assert cpu_share(1769, cores=8) == 1.0
    assert round(cpu_share(128, cores=8), 4) == round(128 / 1769, 4)
    assert cpu_share(10240, cores=8) == 6.0  # Lambda's most
    assert cpu_share(3008, cores=8) == pytest.approx(1 + (3008 - 1769) * 5 / (10240 - 1769))
    assert cpu_share(10240, cores=2) == 2.0  # this machine's most
    with pytest.raises(ValueError, match="unknown CPU scaling mode 'fast'; use off, auto, cgroup or duty"):
        make_limiter("fast")


def test_the_duty_cycle_leaves_nothing_stopped(tmp_path: Path) -> None:
    limiter = DutyCycleLimiter()
    config = python_function(tmp_path, BURN, name="burn", memory_mb=128, timeout_s=30)
    with LocalLambda([config], cpu_scaling="duty") as service:
        assert isinstance(service.cpu, DutyCycleLimiter)
        service.invoke("burn", b'{"cpu_s": 0.01}')
        (environment,) = service.environments("burn")
        pid = environment.pid
        assert pid is not None
    # The engine closed: its runtime is gone, and the supervisor thread with it.
    assert wait_for(lambda: not pid_alive(pid), timeout=5)
    limiter.close()


def test_the_command_line_turns_scaling_on_for_one_invoke(tmp_path: Path) -> None:
    import re
    import textwrap

    from tests.helpers import lambench

    (tmp_path / "app.py").write_text(textwrap.dedent(BURN))
    common = ("invoke", "--handler", "app.handler", "--code-dir", str(tmp_path), "--memory", "128")
    scaled = lambench(*common, "--timeout", "30", "--cpu-scaling", "duty", "--event-json", '{"cpu_s": 0.05}')
    plain = lambench(*common, "--timeout", "30", "--event-json", '{"cpu_s": 0.05}')
    durations = []
    for done in (scaled, plain):
        assert done.returncode == 0, done.stderr
        match = re.search(r"REPORT RequestId: \S+\tDuration: ([\d.]+) ms", done.stderr)
        assert match, done.stderr
        durations.append(float(match.group(1)))
    assert durations[0] >= 4 * durations[1], durations
