"""Starting and stopping one environment's runtime process.

The process runs in a session of its own (so a shutdown signals everything the handler spawned),
with stdout and stderr on one pipe that the environment reads, and, on Linux, a pidfd that tells
the environment's selector the moment it exits.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Callable

from lambench.core.config import FunctionConfig
from lambench.core.record import record
from lambench.core.runtime import processes
from lambench.core.runtime.envvars import PYTHON_RUNTIME_DIR
from lambench.core.runtime.node import NODE_RUNTIME_FILE, node_executable, version_warning

_BOOTSTRAP_CODE = (
    f"import sys; sys.path.insert(0, {str(PYTHON_RUNTIME_DIR)!r}); "
    "import lambench_python_runtime as r; r.main()"
)


@record
class RuntimeProcess:
    """The live runtime process of an environment and the descriptors that belong to it.

    `channel` is lambench's end of the socketpair its own Python runtime talks over (a custom
    runtime uses the TCP endpoint like any runtime in AWS).
    """

    proc: subprocess.Popen[bytes]
    log_fd: int
    pidfd: int | None
    channel: socket.socket | None
    exited: bool = False
    #: What the environment should log on start (a Node.js major version other than the runtime's).
    notice: str | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def exit_code(self) -> int:
        """The exit status once it has ended (1 when unknown)."""
        return self.proc.returncode if self.proc.returncode is not None else 1


class Retiring(Exception):
    """The environment began to retire while its runtime was starting; nothing was left running."""


def start_runtime(
    config: FunctionConfig, env: dict[str, str], python: str, retiring: Callable[[], bool]
) -> RuntimeProcess:
    """Start the runtime of `config` with environment `env`; OSError if it cannot be started.

    `retiring` is asked once the process runs: if the environment began to retire meanwhile (after
    the retiring thread looked for a process to signal), the process is stopped here and
    `Retiring` raised.
    """
    channel: socket.socket | None = None
    child_end: socket.socket | None = None
    notice = None
    if config.is_custom_runtime:
        argv = [str(config.code_dir / "bootstrap")]
    elif config.is_node_runtime:
        executable = node_executable()
        assert config.node_major is not None
        notice = version_warning(config.runtime, config.node_major, executable)
        argv = [executable, str(NODE_RUNTIME_FILE)]
        channel, child_end = socket.socketpair()
        env["_LAMBENCH_RUNTIME_API_FD"] = str(child_end.fileno())
    else:
        argv = [python, "-I", "-u", "-c", _BOOTSTRAP_CODE]
        channel, child_end = socket.socketpair()
        env["_LAMBENCH_RUNTIME_API_FD"] = str(child_end.fileno())
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=config.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
            close_fds=True,
            pass_fds=(child_end.fileno(),) if child_end is not None else (),
        )
    except OSError:
        os.close(read_fd)
        if channel is not None:
            channel.close()
        raise
    finally:
        os.close(write_fd)
        if child_end is not None:
            child_end.close()
    processes.register(proc)
    if retiring():
        processes.kill_now(proc)
        os.close(read_fd)
        if channel is not None:
            channel.close()
        raise Retiring
    os.set_blocking(read_fd, False)
    return RuntimeProcess(
        proc=proc, log_fd=read_fd, pidfd=_open_pidfd(proc.pid), channel=channel, notice=notice
    )


def reap(runtime: RuntimeProcess) -> None:
    """Kill what is left of the process group (unless it was reaped) and close its descriptors."""
    if runtime.proc.returncode is None:
        processes.kill_now(runtime.proc)
    else:
        processes.forget(runtime.proc)
    for fd in (runtime.log_fd, runtime.pidfd):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` exits, where the platform has one (Linux 5.3+)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None
    return fd
