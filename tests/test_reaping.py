"""Every process lambench starts is reaped: on close, at interpreter exit, on SIGTERM and SIGINT."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from lambench.core.config import FunctionConfig
from lambench.core.runtime import processes
from lambench.core.runtime.service import LocalLambda
from tests.helpers import FIXTURES, REPO, descendants, pid_alive, wait_for


def _probe_config(tmp_path: Path) -> FunctionConfig:
    code = tmp_path / "probe"
    shutil.copytree(FIXTURES / "protocol_runtime", code)
    return FunctionConfig.create(name="probe", handler="x", code_dir=code, runtime="provided.al2023")


def test_close_reaps_runtimes_and_their_children_and_removes_tmp(tmp_path: Path) -> None:
    service = LocalLambda([_probe_config(tmp_path)])
    pids: list[int] = []
    tmp_dirs: list[str] = []
    for _ in range(2):
        answer = service.invoke("probe", b'{"action": "spawn"}').payload_json()
        pids += [answer["runtime_pid"], answer["child_pid"]]
    tmp_dirs = [info.tmp_dir for info in service.environments()]
    assert all(pid_alive(pid) for pid in pids)
    service.close()
    assert wait_for(lambda: not any(pid_alive(pid) for pid in pids), timeout=5)
    assert not any(os.path.exists(d) for d in tmp_dirs)
    assert service.environments() == []
    assert processes.live_pids() == []


def test_invoke_after_close_is_an_error(tmp_path: Path) -> None:
    service = LocalLambda([_probe_config(tmp_path)])
    service.close()
    from lambench.core.runtime.errors import LambdaServiceError

    with pytest.raises(LambdaServiceError, match="closed"):
        service.invoke("probe", b"{}")


_HOLDER = textwrap.dedent(
    """
    import json, shutil, sys, time
    from pathlib import Path
    from lambench.core.config import FunctionConfig
    from lambench.core.runtime.service import LocalLambda
    code = Path(sys.argv[1])
    config = FunctionConfig.create(name="probe", handler="x", code_dir=code, runtime="provided.al2023")
    service = LocalLambda([config])
    answer = service.invoke("probe", b'{"action": "spawn"}').payload_json()
    print(json.dumps(answer), flush=True)
    if sys.argv[2] == "exit":
        sys.stdin.readline()  # the test looks at the processes first
        sys.exit(0)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("how", ["sigterm", "sigint", "exit"])
def test_holder_process_ending_reaps_environments(tmp_path: Path, how: str) -> None:
    code = tmp_path / "probe"
    shutil.copytree(FIXTURES / "protocol_runtime", code)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(code), how],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None
        answer = json.loads(holder.stdout.readline())
        pids = [answer["runtime_pid"], answer["child_pid"]]
        assert all(pid_alive(pid) for pid in pids)
        if how == "exit":
            assert holder.stdin is not None
            holder.stdin.write("go\n")
            holder.stdin.flush()
        elif how == "sigterm":
            holder.send_signal(signal.SIGTERM)
        elif how == "sigint":
            holder.send_signal(signal.SIGINT)
        holder.wait(timeout=10)
        assert wait_for(lambda: not any(pid_alive(pid) for pid in pids), timeout=5), pids
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_ctrl_c_during_invoke_leaves_no_process(tmp_path: Path) -> None:
    code = tmp_path / "slow"
    code.mkdir()
    (code / "app.py").write_text("import time\n\ndef handler(event, context):\n    time.sleep(60)\n")
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lambench",
            "invoke",
            "--handler",
            "app.handler",
            "--code-dir",
            str(code),
            "--timeout",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    try:
        assert wait_for(lambda: any(p != cli.pid for p in descendants(cli.pid)), timeout=20)
        runtime_pids = descendants(cli.pid)
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=20)
        assert cli.returncode == 130
        assert "lambench: interrupted" in err and "Traceback" not in err
        assert wait_for(lambda: not any(pid_alive(pid) for pid in runtime_pids), timeout=5)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


def test_close_while_another_thread_is_invoking(tmp_path: Path) -> None:
    code = tmp_path / "busy"
    code.mkdir()
    (code / "app.py").write_text("import os, time\n\ndef handler(event, context):\n    time.sleep(30)\n")
    config = FunctionConfig.create(name="busy", handler="app.handler", code_dir=code, timeout_s=60)
    service = LocalLambda([config])
    outcome: list[object] = []

    def invoke() -> None:
        try:
            outcome.append(service.invoke("busy", b"{}"))
        except Exception as exc:  # the engine may also refuse: either is a prompt, clean answer
            outcome.append(exc)

    thread = threading.Thread(target=invoke)
    thread.start()
    assert wait_for(lambda: any(info.busy and info.pid for info in service.environments()), timeout=10)
    pid = next(info.pid for info in service.environments() if info.busy)
    assert pid is not None
    service.close()
    thread.join(timeout=10)
    assert not thread.is_alive() and len(outcome) == 1
    result = outcome[0]
    assert getattr(getattr(result, "figures", None), "error_type", None) == "Runtime.ExitError", result
    assert wait_for(lambda: not pid_alive(pid), timeout=5)
    assert service.environments() == []
    assert processes.live_pids() == []


_TMP_FILLER = textwrap.dedent(
    """
    import os

    def handler(event, context):
        tmp = os.environ["TMPDIR"]
        os.makedirs(os.path.join(tmp, "a", "b"))
        with open(os.path.join(tmp, "a", "b", "deep.txt"), "w") as f:
            f.write("x")
        os.symlink(event["outside"], os.path.join(tmp, "link-to-outside"))
        os.symlink(os.path.join(event["outside"], "keep.txt"), os.path.join(tmp, "link-to-file"))
        return tmp
    """
)


def test_retiring_removes_the_whole_tmp_but_never_follows_a_link_out_of_it(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(_TMP_FILLER)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    config = FunctionConfig.create(name="filler", handler="app.handler", code_dir=code)
    with LocalLambda([config]) as service:
        result = service.invoke("filler", json.dumps({"outside": str(outside)}).encode())
        tmp = result.payload_json()
        assert result.function_error is None and os.path.isdir(os.path.join(tmp, "a", "b"))
    assert not os.path.exists(tmp)
    assert (outside / "keep.txt").read_text() == "keep"
