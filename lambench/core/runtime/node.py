"""The local `node` that runs Node.js functions: where it is, and whether its version fits.

lambench's own JavaScript runtime (`noderuntime/lambench_node_runtime.cjs`, no npm packages)
runs on whatever `node` is on PATH (or `LAMBENCH_NODE`). Its major version is compared with the
function's runtime (`nodejs20.x` wants 20): a mismatch is a warning line in the function's log,
or, with `LAMBENCH_STRICT_RUNTIME=1` (`--strict-runtime`), a failed init that says so.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

#: lambench's Node.js runtime: it stands in for `/var/runtime`.
NODE_RUNTIME_DIR = Path(__file__).resolve().parent / "noderuntime"
NODE_RUNTIME_FILE = NODE_RUNTIME_DIR / "lambench_node_runtime.cjs"
STRICT_ENV = "LAMBENCH_STRICT_RUNTIME"
INSTALL_HINT = (
    "install Node.js (Debian/Ubuntu: sudo apt-get install nodejs; macOS: brew install node; "
    "or https://nodejs.org), or point LAMBENCH_NODE at a node executable"
)


class NodeProblem(OSError):
    """`node` is missing, does not run, or (strictly) is the wrong major version; one line."""


def node_executable() -> str:
    """The `node` to run Node.js functions with; NodeProblem when there is none."""
    import shutil  # only here: a Python function's invoke never loads it

    wanted = os.environ.get("LAMBENCH_NODE")
    found = shutil.which(wanted or "node")
    if found is None:
        where = f"LAMBENCH_NODE={wanted!r} is not an executable" if wanted else "no 'node' on PATH"
        raise NodeProblem(f"Node.js functions need node, and there is {where}: {INSTALL_HINT}")
    return found


@functools.lru_cache(maxsize=8)
def node_version(executable: str) -> tuple[int, str]:
    """(major, `v20.11.1`) of `executable`, asked once per process."""
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        return int(out.lstrip("v").split(".")[0]), out
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise NodeProblem(f"{executable} --version failed ({exc}): {INSTALL_HINT}") from None


def version_warning(runtime: str, wanted_major: int, executable: str) -> str | None:
    """A warning when `node`'s major version is not the runtime's (NodeProblem when strict)."""
    major, text = node_version(executable)
    if major == wanted_major:
        return None
    message = (
        f"{runtime} function running on node {text} ({executable}); install Node.js {wanted_major} "
        f"for exact behaviour"
    )
    if os.environ.get(STRICT_ENV) == "1":
        raise NodeProblem(f"--strict-runtime: {message}")
    return message
