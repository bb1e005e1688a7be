"""`make bench`: the engine's speed, beside baselines measured in the same run.

Figures printed:
- warm invoke of a trivial handler (p50/p99, µs) beside a raw loopback socket round trip to a
  child process and a direct in-process call of the same handler;
- cold start of the same handler (a new environment: process start, runtime init, first invoke)
  beside `python -I -c pass`;
- invokes per second at concurrency 1, 2 and 8;
- `lambench load`'s runner: 10,000 invokes of a 10 ms handler at concurrency 50 (none lost or
  duplicated, beside the ideal time), and trivial-handler throughput at concurrency 2 and 8 beside
  the bare threads above;
- asynchronous invokes: accepts per second with and without the durable journal, beside the same
  invokes synchronously, and the 202 to the attempt's end (`benchmarks/async_invoke.py`);
- event sources: `send_message` to the handler's start beside the poller's floor, and 10,000 SQS
  messages through a mapping at BatchSize 10 (none lost or duplicated) (`benchmarks/event_sources.py`);
- the HTTP front door: requests per second and p50/p99 through an HttpApi route at concurrency 1
  and 16, beside the same invokes through the engine and a bare uvicorn server
  (`benchmarks/front_door.py`);
- CPU scaled to memory: each mechanism's measured share beside its target at 128, 512 and
  1,769 MB, and the warm invoke with scaling on beside off (`benchmarks/cpu_scaling.py`);
- the invocation timeline's peak memory after 100,000 invocations, beside keeping them all;
- the logs, backends, hot reload and TUI figures of the sibling modules;
- start-up of each command as a user runs it (`benchmarks/startup.py`), beside `python -I -c pass`
  and python-lambda-local.
Goals (from the engine issue): warm p50 <= 150 µs and <= 4x the raw round trip; cold start <= 1.5x
`python -I -c pass`; at least 5,000 invokes/s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.async_invoke import async_figures
from benchmarks.backends import backend_figures
from benchmarks.cpu_scaling import cpu_scaling_figures
from benchmarks.event_sources import event_source_figures
from benchmarks.front_door import front_door_figures
from benchmarks.logs import log_figures
from benchmarks.reload import reload_figures
from benchmarks.startup import startup_figures
from benchmarks.stats import percentile
from benchmarks.tui import tui_figures
from lambench.core.config import FunctionConfig
from lambench.core.runtime.figures import InvocationFigures
from lambench.core.runtime.service import LocalLambda

TRIVIAL_HANDLER = "def handler(event, context):\n    return {'ok': True}\n"

_ECHO_SERVER = """
import socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    data = conn.recv(65536)
    if not data:
        break
    conn.sendall(data)
"""


def time_calls(fn: Callable[[], object], count: int) -> list[float]:
    """Microseconds taken by each of `count` calls of `fn`."""
    samples = []
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        fn()
        samples.append((clock() - start) * 1e6)
    return samples


def raw_round_trip_us(count: int) -> list[float]:
    """A 100-byte request echoed by a child process over loopback TCP: the floor for any RPC."""
    child = subprocess.Popen([sys.executable, "-I", "-c", _ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        message = b"x" * 100

        def once() -> None:
            sock.sendall(message)
            received = 0
            while received < len(message):
                received += len(sock.recv(65536))

        time_calls(once, 200)
        samples = time_calls(once, count)
        sock.close()
        return samples
    finally:
        child.wait(timeout=10)


def direct_call_us(code_dir: Path, count: int) -> list[float]:
    """The handler called in-process with a context-like object: the cost with no isolation."""
    namespace: dict[str, object] = {}
    exec(compile((code_dir / "app.py").read_text(), "app.py", "exec"), namespace)
    handler = namespace["handler"]
    assert callable(handler)
    event = json.dumps({"n": 1}).encode()

    def once() -> None:
        json.dumps(handler(json.loads(event), None))

    time_calls(once, 200)
    return time_calls(once, count)


def cold_start_ms(service: LocalLambda, name: str, count: int) -> list[float]:
    """Time to the result of an invoke that has to start a new environment."""
    samples = []
    for _ in range(count):
        service.add_function(service.get_function(name))  # retires the warm environments
        start = time.perf_counter()
        result = service.invoke(name, b'{"n": 1}')
        samples.append((time.perf_counter() - start) * 1000)
        assert result.figures.cold and result.function_error is None, result.payload
    return samples


def python_startup_ms(count: int) -> list[float]:
    """`python -I -c pass`: the cheapest possible process that runs Python."""
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def throughput(service: LocalLambda, name: str, concurrency: int, seconds: float) -> float:
    """Invokes per second with `concurrency` threads invoking back to back."""
    # Warm one environment per thread first, so the figure is the steady state.
    barrier = threading.Barrier(concurrency)
    counts = [0] * concurrency
    stop = time.perf_counter() + seconds + 0.5

    def worker(index: int) -> None:
        barrier.wait()
        service.invoke(name, b"{}")
        barrier.wait()
        n = 0
        while time.perf_counter() < stop:
            service.invoke(name, b"{}")
            n += 1
        counts[index] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


SLEEP_HANDLER = "import time\n\ndef handler(event, context):\n    time.sleep(0.01)\n    return 1\n"


NODE_HANDLER = "exports.handler = async () => ({ ok: true });\n"


def node_startup_ms(count: int) -> list[float]:
    """`node -e 0` with only PATH set: the cheapest possible process that runs JavaScript."""
    from lambench.core.runtime.node import node_executable

    node = node_executable()
    # The environment a function's runtime gets is lambench's, not this shell's: a variable such
    # as NODE_EXTRA_CA_CERTS (set on some machines) alone costs node ~40 ms at start-up.
    bare_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run([node, "-e", "0"], check=True, env=bare_env)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def node_figures(
    code_dir: Path,
    warm_n: int,
    cold_n: int,
    seconds: float,
    raw_p50: float,
    python: tuple[float, float, dict[int, float]],
) -> None:
    """The same figures for a trivial Node.js handler, beside the Python ones of this run."""
    node_dir = code_dir / "node"
    node_dir.mkdir(exist_ok=True)
    (node_dir / "index.js").write_text(NODE_HANDLER)
    config = FunctionConfig.create(
        name="trivial-node", handler="index.handler", code_dir=node_dir, runtime="nodejs20.x"
    )
    python_warm, python_cold, python_rates = python
    with LocalLambda([config]) as service:
        service.invoke("trivial-node", b"{}")
        time_calls(lambda: service.invoke("trivial-node", b'{"n": 1}'), 500)
        warm = time_calls(lambda: service.invoke("trivial-node", b'{"n": 1}'), warm_n)
        w50, w99 = percentile(warm, 50), percentile(warm, 99)
        cold = cold_start_ms(service, "trivial-node", cold_n)
        bare = node_startup_ms(cold_n)
        c50, n50 = statistics.median(cold), statistics.median(bare)
        rates = {c: throughput(service, "trivial-node", c, seconds) for c in (1, 2)}
    print("\nNode.js (trivial async handler, nodejs20.x on the local node)")
    print(
        f"  warm invoke              p50 {w50:8.1f} µs   p99 {w99:8.1f} µs   (Python p50 {python_warm:.1f})"
    )
    print(f"  ratio warm/raw round trip: {w50 / raw_p50:.2f}x   (goal: p50 <= 200 µs and <= 4x)")
    print(f"  cold start               median {c50:7.1f} ms   (Python: {python_cold:.1f} ms)")
    print(f"  node -e 0                median {n50:7.1f} ms")
    print(f"  ratio: {c50 / n50:.2f}x   (goal: <= 1.5x)")
    print(
        f"  invokes per second: concurrency 1 {rates[1]:.0f}, 2 {rates[2]:.0f}"
        f"   (Python: {python_rates[1]:.0f}, {python_rates[2]:.0f})"
    )


def load_figures(service: LocalLambda, code_dir: Path, raw_rates: dict[int, float], quick: bool) -> None:
    """The load runner: a 10 ms handler at concurrency 50, and trivial throughput through it."""
    from lambench.core.load import LoadPlan, LoadRunner
    from lambench.core.timeline.store import Timeline

    sleep_dir = code_dir / "sleeper"
    sleep_dir.mkdir()
    (sleep_dir / "app.py").write_text(SLEEP_HANDLER)
    service.add_function(FunctionConfig.create(name="sleeper", handler="app.handler", code_dir=sleep_dir))
    requests, concurrency = (2_000, 50) if quick else (10_000, 50)
    timeline = Timeline()
    detach = timeline.attach(service)
    runner = LoadRunner(
        service, "sleeper", b"{}", LoadPlan.fixed(requests, concurrency), keep_request_ids=True
    )
    report = runner.run()
    detach()
    ids = report.request_ids
    lost = requests - report.progress.done
    duplicated = len(ids) - len(set(ids))
    summary = timeline.summary(function="sleeper")
    ideal = requests * 0.010 / concurrency
    elapsed = report.progress.elapsed_s
    print(f"\nLoad runner ({requests:,} invokes of a 10 ms handler at concurrency {concurrency})")
    print(
        f"  elapsed                  {elapsed:7.2f} s    ideal {ideal:.2f} s   ratio {elapsed / ideal:.2f}x"
    )
    print(f"  throughput               {report.progress.done / elapsed:7.0f} invokes/s")
    print(
        f"  lost {lost}, duplicated {duplicated}, failed {report.progress.failed}, "
        f"throttled {report.progress.throttled}; timeline counted {summary.invocations:,} "
        f"with {summary.cold_starts} cold starts, p99 {summary.p99_ms or 0:.1f} ms"
    )
    for clients in (2, 8):
        plan = LoadPlan.fixed(4_000 if quick else 20_000, clients)
        done = LoadRunner(service, "trivial", b"{}", plan).run()
        rate = done.progress.done / done.progress.elapsed_s
        print(
            f"  trivial, concurrency {clients}: {rate:9.0f} invokes/s through the runner "
            f"({rate / raw_rates[clients]:.2f}x the bare threads above)"
        )


def timeline_memory_figures(invocations: int) -> None:
    """Peak memory of a timeline fed `invocations` invocations, beside one that keeps every one."""
    import tracemalloc

    from lambench.core.runtime.records import Lifecycle, LifecycleRecord
    from lambench.core.timeline.store import Timeline

    def feed(timeline: Timeline, trace: bool = True) -> tuple[float, float]:
        environments = [f"{i:032x}" for i in range(50)]
        t = 1_800_000_000.0
        for env in environments:
            timeline.feed(
                LifecycleRecord(
                    Lifecycle.ENVIRONMENT_CREATED,
                    t,
                    "fn",
                    "$LATEST",
                    env,
                    init_type="on-demand",
                    memory_size_mb=128,
                    architecture="x86_64",
                )
            )
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        for i in range(invocations):
            env = environments[i % 50]
            t += 0.0002
            request = f"{i:036d}"
            timeline.feed(
                LifecycleRecord(
                    Lifecycle.INVOKE_START, t, "fn", "$LATEST", env, request_id=request, cold=False
                )
            )
            timeline.feed(
                LifecycleRecord(
                    Lifecycle.INVOKE_END,
                    t + 0.0001,
                    "fn",
                    "$LATEST",
                    env,
                    request_id=request,
                    figures=InvocationFigures(0.1 + (i % 97) / 10, 1, 128, 40),
                )
            )
        per_record = (time.perf_counter() - start) / (2 * invocations) * 1e6
        if not trace:
            return 0.0, per_record
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 1e6, per_record

    bounded, _ = feed(Timeline())
    everything, _ = feed(Timeline(max_invocations=invocations))
    _, per_record = feed(Timeline(), trace=False)
    print(f"\nInvocation timeline ({invocations:,} invocations fed)")
    print(f"  peak memory, default bounds    {bounded:7.1f} MB   (detail for the latest 10,000)")
    print(f"  peak memory, keeping them all  {everything:7.1f} MB   ratio {bounded / everything:.2f}x")
    print(f"  feed cost                      {per_record:7.2f} µs per lifecycle record")


def event_template_figures(count: int) -> None:
    """Catalog load and per-template render times, beside parsing the same events from JSON text."""
    import functools
    import json

    from lambench.core.events.catalog import TEMPLATES_DIR, Catalog, load_catalog

    load = time_calls(lambda: load_catalog(TEMPLATES_DIR), count)
    catalog = Catalog.builtin()
    renders: list[tuple[float, float, str]] = []
    for template in catalog.templates():
        text = json.dumps(template.render())
        render_us = percentile(time_calls(template.render, count), 50)
        parse_us = percentile(time_calls(functools.partial(json.loads, text), count), 50)
        renders.append((render_us, parse_us, template.key))
    render_med = statistics.median(render for render, _, _ in renders)
    parse_med = statistics.median(parse for _, parse, _ in renders)
    slowest = max(renders)
    print(f"\nEvent templates ({len(renders)} across {len(catalog.services)} services)")
    print(f"  load the catalog         median {percentile(load, 50) / 1000:7.1f} ms")
    slowest_text = f"slowest {slowest[0]:.1f} µs ({slowest[2]})"
    print(f"  render one template      median {render_med:7.1f} µs   {slowest_text}")
    print(f"  json.loads of the event  median {parse_med:7.1f} µs")
    print(f"  ratio render/parse: {render_med / parse_med:.1f}x")


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures with their baselines and goals."""
    parser = argparse.ArgumentParser(prog="lambench-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (for a smoke run)")
    args = parser.parse_args(argv)
    warm_n = 2000 if args.quick else 20000
    cold_n = 5 if args.quick else 20
    seconds = 0.5 if args.quick else 2.0

    with tempfile.TemporaryDirectory(prefix="lambench-bench-") as tmp:
        code_dir = Path(tmp)
        (code_dir / "app.py").write_text(TRIVIAL_HANDLER)
        config = FunctionConfig.create(name="trivial", handler="app.handler", code_dir=code_dir)
        print(f"lambench bench on {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
        with LocalLambda([config]) as service:
            service.invoke("trivial", b"{}")
            time_calls(lambda: service.invoke("trivial", b'{"n": 1}'), 500)
            warm = time_calls(lambda: service.invoke("trivial", b'{"n": 1}'), warm_n)
            raw = raw_round_trip_us(warm_n)
            direct = direct_call_us(code_dir, warm_n)
            w50, w99, r50, d50 = (
                percentile(warm, 50),
                percentile(warm, 99),
                percentile(raw, 50),
                percentile(direct, 50),
            )
            print("Warm invoke (trivial handler)")
            print(f"  lambench warm invoke     p50 {w50:8.1f} µs   p99 {percentile(warm, 99):8.1f} µs")
            print(f"  raw loopback round trip  p50 {r50:8.1f} µs   p99 {percentile(raw, 99):8.1f} µs")
            print(f"  direct in-process call   p50 {d50:8.1f} µs   p99 {percentile(direct, 99):8.1f} µs")
            print(f"  ratio warm/raw round trip: {w50 / r50:.2f}x   (goal: p50 <= 150 µs and <= 4x)")
            del w99

            cold = cold_start_ms(service, "trivial", cold_n)
            python = python_startup_ms(cold_n)
            c50, p50 = statistics.median(cold), statistics.median(python)
            print("\nCold start (new environment to first result)")
            print(f"  lambench cold start      median {c50:7.1f} ms   min {min(cold):7.1f} ms")
            print(f"  python -I -c pass        median {p50:7.1f} ms   min {min(python):7.1f} ms")
            print(f"  ratio: {c50 / p50:.2f}x   (goal: <= 1.5x)")

            print("\nThroughput (trivial handler, back-to-back synchronous invokes)")
            rates = {}
            for concurrency in (1, 2, 8):
                rates[concurrency] = throughput(service, "trivial", concurrency, seconds)
                print(f"  concurrency {concurrency}: {rates[concurrency]:9.0f} invokes/s")
            print(f"  best: {max(rates.values()):.0f} invokes/s   (goal: >= 5,000)")
            node_figures(code_dir, warm_n, cold_n, seconds, r50, (w50, c50, rates))
            load_figures(service, code_dir, rates, args.quick)
    async_figures(args.quick)
    event_source_figures(args.quick)
    front_door_figures(args.quick)
    cpu_scaling_figures(args.quick)
    timeline_memory_figures(20_000 if args.quick else 100_000)
    event_template_figures(20 if args.quick else 200)
    log_figures(args.quick)
    backend_figures(args.quick)
    reload_figures(args.quick)
    tui_figures(args.quick)
    startup_figures(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
