"""The live runtime of one environment: its process, its Runtime API channel and its output.

`RuntimeHost` starts the process, pumps the channel (traffic, output, exit) for the invoking
thread, and kills and releases the process; the environment above it decides when, following the
INIT/INVOKE/SHUTDOWN lifecycle.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from lambench.core.config import FunctionConfig
from lambench.core.runtime import processes
from lambench.core.runtime.cpu_limit import CpuLimiter, cpu_share
from lambench.core.runtime.log_capture import LogCapture
from lambench.core.runtime.memory_watch import MemoryWatch
from lambench.core.runtime.runtime_channel import EXIT, LOG, RuntimeChannel
from lambench.core.runtime.runtime_process import RuntimeProcess, reap, start_runtime


class RuntimeHost:
    """Runs one runtime process at a time behind the environment's channel, reading its output."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        python: str,
        logs: LogCapture,
        memory: MemoryWatch,
        cpu: CpuLimiter | None = None,
    ) -> None:
        self._config = config
        # CPU in proportion to memory (cpu_limit.py), applied to each runtime process it starts.
        self._cpu = cpu
        self._cpu_handle: object | None = None
        self._python = python
        self._logs = logs
        self._memory = memory
        self.channel = RuntimeChannel(on_log=self.read_logs, on_exit=self.note_exit)
        #: The runtime process, or None while there is none (new, reset or retired).
        self.runtime: RuntimeProcess | None = None
        #: Whether a runtime was ever started here (INIT_START is logged once per environment).
        self.ever_started = False

    @property
    def pid(self) -> int | None:
        """PID of the runtime process, or None."""
        return self.runtime.pid if self.runtime is not None else None

    def start(self, env: dict[str, str], retiring: Callable[[], bool]) -> RuntimeProcess:
        """Start a runtime with environment `env` (see `runtime_process.start_runtime` for errors)."""
        runtime = start_runtime(self._config, env, self._python, retiring)
        self.runtime = runtime
        if self._cpu is not None:
            self._cpu_handle = self._cpu.attach(runtime.pid, cpu_share(self._config.memory_mb))
        self.channel.live = True
        if runtime.channel is not None:
            self.channel.adopt(runtime.channel)
        self.channel.watch(runtime.log_fd, LOG)
        if runtime.pidfd is not None:
            self.channel.watch(runtime.pidfd, EXIT)
        self.ever_started = True
        return runtime

    def pump(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for runtime traffic, output or exit, and handle what came."""
        self.channel.pump(timeout)
        runtime = self.runtime
        if (
            runtime is not None
            and runtime.pidfd is None
            and not runtime.exited
            and runtime.proc.poll() is not None
        ):
            self.note_exit()

    def read_logs(self) -> None:
        """Read what the runtime's output pipe holds."""
        runtime = self.runtime
        if runtime is not None and not self._logs.read(runtime.log_fd):
            self.channel.unwatch(runtime.log_fd)

    def note_exit(self) -> None:
        """The runtime process ended (or its pidfd says so): reap it and read its last output."""
        runtime = self.runtime
        if runtime is None or runtime.exited:
            return
        if runtime.proc.poll() is None:
            # pidfd readable means the process ended; poll() reaps it. Guard against spurious wakeups.
            try:
                runtime.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                return
        runtime.exited = True
        if runtime.pidfd is not None:
            self.channel.unwatch(runtime.pidfd)
        self.read_logs()

    def wait_exit(self, seconds: float) -> None:
        """Give the runtime up to `seconds` to exit by itself."""
        runtime = self.runtime
        deadline = time.perf_counter() + seconds
        while runtime is not None and not runtime.exited:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self.pump(min(remaining, 0.05))

    def kill(self) -> None:
        """Kill the runtime's whole process group now and release it."""
        runtime = self.runtime
        if runtime is None:
            return
        # The whole process group goes, including anything the handler spawned; leftover output
        # that is already in the pipe still belongs to this invocation.
        processes.kill_now(runtime.proc)
        runtime.exited = True
        self.read_logs()
        self.release()

    def release(self) -> None:
        """Close everything that belonged to the runtime process; the host has none afterwards."""
        runtime = self.runtime
        if runtime is None:
            return
        self.channel.drop_connections()
        for fd in (runtime.log_fd, runtime.pidfd):
            if fd is not None:
                self.channel.unwatch(fd)
        reap(runtime)
        if self._cpu is not None:
            self._cpu.release(self._cpu_handle)
            self._cpu_handle = None
        self._memory.release(runtime.pid)
        self.runtime = None
        self._logs.drop_partial()
