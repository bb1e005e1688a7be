"""Start-up figures: each command as a new user runs it, against `python -I -c pass` in the same run.

Commands are run through the installed `lambench` script (not `python -m`), alternated round by
round so a burst of noise on this shared machine falls on every row alike, and reported as medians.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HELLO_EVENT = '{"name": "Ada"}'
#: The handler lambench and python-lambda-local both run for the row that compares them.
GREET_HANDLER = "def handler(event, context):\n    return {'message': 'hello ' + event['name']}\n"


def _wall_ms(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd)
    return (time.perf_counter() - start) * 1000


def _copy_demo(into: Path) -> Path:
    target = into / "demo"
    skipped = shutil.ignore_patterns(".lambench", "__pycache__")
    shutil.copytree(REPO / "demo_functions", target, ignore=skipped)
    return target


def startup_figures(quick: bool) -> None:
    """Print the start-up rows (medians of alternated rounds) with their ratios and goals."""
    rounds = 3 if quick else 9
    lambench = str(BIN / "lambench")
    with tempfile.TemporaryDirectory(prefix="lambench-startup-") as tmp:
        work = Path(tmp)
        project = _copy_demo(work)
        event_file = work / "event.json"
        event_file.write_text(HELLO_EVENT)
        greet = work / "greet"
        greet.mkdir()
        (greet / "app.py").write_text(GREET_HANDLER)
        fresh_count = [0]

        def fresh_invoke() -> list[str]:
            # A project never run before: no template cache, no .lambench/ at all.
            fresh_count[0] += 1
            fresh = _copy_demo(work / f"fresh-{fresh_count[0]}")
            return [lambench, "invoke", "hello", "--project", str(fresh), "--event-json", HELLO_EVENT]

        rows: dict[str, Callable[[], list[str]]] = {
            "python -I -c pass": lambda: [sys.executable, "-I", "-c", "pass"],
            "lambench --version": lambda: [lambench, "--version"],
            "lambench --help": lambda: [lambench, "--help"],
            "lambench invoke hello": lambda: [
                *(lambench, "invoke", "hello", "--project", str(project)),
                *("--event-json", HELLO_EVENT),
            ],
            "lambench invoke (fresh project)": fresh_invoke,
            "lambench invoke --handler": lambda: [
                *(lambench, "invoke", "--handler", "app.handler", "--code-dir", str(greet)),
                *("--event-json", HELLO_EVENT),
            ],
            "lambench events generate": lambda: [lambench, "events", "generate", "sqs", "receive-message"],
            "lambench functions": lambda: [lambench, "functions", "--project", str(project)],
        }
        local = BIN / "python-lambda-local"
        if local.exists():
            rows["python-lambda-local"] = lambda: [
                *(str(local), "-f", "handler", str(greet / "app.py"), str(event_file))
            ]
        for command in rows.values():
            subprocess.run(command(), check=True, capture_output=True, cwd=work)  # warm the page cache
        samples: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(rounds):
            for name, command in rows.items():
                samples[name].append(_wall_ms(command(), work))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["python -I -c pass"]
    goals = {
        "lambench --version": "<= 2.5x",
        "lambench --help": "<= 2.5x",
        "lambench invoke hello": "<= 5x",
        "lambench invoke (fresh project)": "<= 6x",
        "lambench invoke --handler": "<= 5x",
        "lambench events generate": "<= 3x",
        "lambench functions": "<= 3x",
    }
    print(f"\nStart-up (installed `lambench` script, medians of {rounds} alternated rounds)")
    for name, median in medians.items():
        goal = f"   (goal: {goals[name]})" if name in goals else ""
        print(f"  {name:32} {median:7.1f} ms   {median / base:5.2f}x python -I -c pass{goal}")
    if "python-lambda-local" in medians:
        ratio = medians["lambench invoke --handler"] / medians["python-lambda-local"]
        same = "lambench invoke --handler / python-lambda-local (same handler)"
        print(f"  {same}: {ratio:.2f}x   (goal: <= 0.5x)")
    else:
        print("  python-lambda-local: not installed (make bench installs it)")


if __name__ == "__main__":
    startup_figures("--quick" in sys.argv)
