"""HTTP front door figures: requests per second and latency through an HttpApi route.

Measured in the same run, at concurrency 1 and 16, with keep-alive connections from a client in
its own process (so the client and the server do not share a GIL):
- the front door: `GET /ping` routed to a trivial handler (payload 2.0), through uvicorn and
  httptools, the route table, the event and the engine's invoke;
- the same invokes through the engine directly (`LocalLambda.invoke`, in process);
- a bare server of the same stack (uvicorn + httptools) answering a constant: the HTTP floor.
The front door's overhead is its latency minus the engine's; the goal is that overhead at most
2x the bare server's latency, and at least 2,000 requests/s on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.stats import percentile
from lambench.core.config import FunctionConfig
from lambench.core.http.front_door import FrontDoor
from lambench.core.http.model import Api, HttpFrontDoors, Route
from lambench.core.http.server import FrontDoorServer
from lambench.core.runtime.service import LocalLambda

_HANDLER = """
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""

#: The load client: `python -c CLIENT port concurrency seconds` prints the latencies (ms) as JSON.
_CLIENT = textwrap.dedent(
    """
    import http.client, json, sys, threading, time
    port, concurrency, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    latencies = [[] for _ in range(concurrency)]
    errors = [0]
    stop = time.perf_counter() + seconds

    def run(mine):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < stop:
            began = time.perf_counter()
            connection.request("GET", "/ping")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors[0] += 1
            mine.append((time.perf_counter() - began) * 1000)
        connection.close()

    threads = [threading.Thread(target=run, args=(mine,)) for mine in latencies]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = [x for mine in latencies for x in mine]
    print(json.dumps({"latencies": flat, "elapsed": elapsed, "errors": errors[0]}))
    """
)


def _load(port: int, concurrency: int, seconds: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-200 answers) from the client process."""
    out = subprocess.run(
        [sys.executable, "-c", _CLIENT, str(port), str(concurrency), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    data = json.loads(out.stdout)
    latencies = data["latencies"]
    return (
        len(latencies) / data["elapsed"],
        percentile(latencies, 50),
        percentile(latencies, 99),
        data["errors"],
    )


def _engine(service: LocalLambda, concurrency: int, seconds: float) -> tuple[float, float, float]:
    """The same invokes through the engine, `concurrency` threads in process."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    stop = time.perf_counter() + seconds
    payload = b'{"version": "2.0", "rawPath": "/ping"}'

    def run(mine: list[float]) -> None:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            service.invoke("fn", payload)
            mine.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=run, args=(mine,)) for mine in latencies]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = [x for mine in latencies for x in mine]
    return len(flat) / elapsed, percentile(flat, 50), percentile(flat, 99)


class _Constant:
    """The bare server's application: 200 `ok` for every request."""

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def _bare_server() -> tuple[Callable[[], None], int]:
    import asyncio
    import socket

    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the front door's own sockets
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    config = uvicorn.Config(
        _Constant(), http="httptools", lifespan="off", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(5)
        sock.close()

    return stop, sock.getsockname()[1]


def _row(label: str, rate: float, unit: str, p50: float, p99: float) -> str:
    return f"    {label:<19} {rate:8.0f} {unit}   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"


def front_door_figures(quick: bool) -> None:
    """Print the front door's rate and latency beside the engine's and the bare server's."""
    seconds = 1.0 if quick else 3.0
    with tempfile.TemporaryDirectory(prefix="lambench-bench-http-") as tmp:
        code = Path(tmp)
        (code / "app.py").write_text(_HANDLER)
        config = FunctionConfig.create(name="fn", handler="app.handler", code_dir=code)
        doors = HttpFrontDoors(
            apis={"HttpApi": Api(api_id="HttpApi", kind="http", stage="$default")},
            routes=(
                Route(
                    api_id="HttpApi",
                    method="GET",
                    path="/ping",
                    function="fn",
                    event_name="Ping",
                    payload_version="2.0",
                ),
            ),
        )
        print("\nHTTP front door (trivial handler behind an HttpApi route; keep-alive client, own process)")
        with LocalLambda([config]) as service:
            server = FrontDoorServer(FrontDoor(doors, lambda name, payload: service.invoke(name, payload)))
            server.start()
            stop_bare, bare_port = _bare_server()
            try:
                assert server.door.api_port is not None
                _load(server.door.api_port, 16, 0.5)  # warm environments up to 16
                for concurrency in (1, 16):
                    rate, p50, p99, bad = _load(server.door.api_port, concurrency, seconds)
                    engine_rate, e50, e99 = _engine(service, concurrency, seconds)
                    bare_rate, b50, b99 = _load(bare_port, concurrency, seconds)[:3]
                    overhead = max(0.0, p50 - e50)
                    print(f"  concurrency {concurrency}:")
                    print(_row("front door", rate, "req/s", p50, p99) + f"   non-200 {bad}")
                    print(_row("engine directly", engine_rate, "inv/s", e50, e99))
                    print(_row("bare uvicorn", bare_rate, "req/s", b50, b99))
                    ratio = overhead / b50
                    print(
                        f"    front door overhead p50 {overhead:.2f} ms = {ratio:.2f}x the bare server's p50"
                    )
                    print("    (goal: overhead <= 2x the bare server's latency; >= 2,000 req/s)")
            finally:
                stop_bare()
                server.stop()
