"""Event source figures: how soon an SQS message reaches its handler, and a 10,000-message drain.

- send to handler start: from `sqs.send_message` returning to the engine starting the handler's
  invocation, p50 / p95, one message at a time, beside the poller's own floor measured in the same
  run (a bare long-polling `receive_message` waking for a message sent the same way);
- drain: 10,000 messages sent in batches of 10, through a mapping at BatchSize 10, until every
  one has run: messages per second, and how many were lost or ran twice (both must be 0).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile
from lambench.core.config import FunctionConfig

_HANDLER = """
import json
import os

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write("".join(json.loads(r["body"])["id"] + "\\n" for r in event["Records"]))
    return {}
"""
ACCOUNT = "123456789012"


def _queue(clients: Any, name: str) -> str:
    url: str = clients("sqs").create_queue(QueueName=name)["QueueUrl"]
    return url


def _floor_ms(clients: Any, url: str, count: int) -> list[float]:
    """send_message to a waiting long poll's return: what any poller pays at least."""
    sqs_send, sqs_receive = clients("sqs"), clients("sqs")
    samples: list[float] = []
    for n in range(count):
        got = threading.Event()
        done: list[float] = []

        def receive(got: threading.Event = got, done: list[float] = done) -> None:
            while True:
                answer = sqs_receive.receive_message(QueueUrl=url, WaitTimeSeconds=5)
                if answer.get("Messages"):
                    done.append(time.perf_counter())
                    handles = [{"Id": "0", "ReceiptHandle": answer["Messages"][0]["ReceiptHandle"]}]
                    sqs_receive.delete_message_batch(QueueUrl=url, Entries=handles)
                    got.set()
                    return

        thread = threading.Thread(target=receive)
        thread.start()
        time.sleep(0.02)  # the receive is waiting in moto before the message is sent
        sqs_send.send_message(QueueUrl=url, MessageBody=str(n))
        sent = time.perf_counter()
        got.wait(10)
        thread.join()
        samples.append((done[0] - sent) * 1000)
    return samples


#: Messages the drain keeps in the queue at most: moto's ReceiveMessage scans the whole queue for
#: each message it returns, so 10,000 queued at once would measure moto's scan, not the mapping.
DRAIN_WINDOW = 200


def _send_all(sqs: Any, url: str, total: int, prefix: str, delivered: Callable[[], int]) -> None:
    for start in range(0, total, 10):
        while start - delivered() >= DRAIN_WINDOW:
            time.sleep(0.002)
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"id": f"{prefix}{start + i}"})} for i in range(10)
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def event_source_figures(quick: bool) -> None:
    """Print the send-to-handler latency beside its floor, and the 10,000-message drain."""
    from lambench.core.embedded.provision import internal_client_factory
    from lambench.core.embedded.server import EmbeddedMoto
    from lambench.core.runtime.records import Lifecycle, LifecycleRecord
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.sources.model import SqsSource
    from lambench.core.sources.runner import EventSources

    samples = 30 if quick else 100
    total = 2_000 if quick else 10_000
    with tempfile.TemporaryDirectory(prefix="lambench-bench-sources-") as tmp, EmbeddedMoto() as moto:
        moto.start()
        clients = internal_client_factory(moto.endpoint, "us-east-1")
        code = Path(tmp) / "fn"
        code.mkdir()
        (code / "app.py").write_text(_HANDLER)
        out = Path(tmp) / "ids.txt"
        config = FunctionConfig.create(
            name="fn", handler="app.handler", code_dir=code, environment={"OUT": str(out)}
        )
        floor = _floor_ms(clients, _queue(clients, "floor"), samples)
        latency_url, drain_url = _queue(clients, "latency"), _queue(clients, "drain")
        starts: list[float] = []
        wake = threading.Event()

        def on_record(record: object) -> None:
            if isinstance(record, LifecycleRecord) and record.kind is Lifecycle.INVOKE_START:
                starts.append(time.perf_counter())
                wake.set()

        with LocalLambda([config]) as service:
            service.subscribe(on_record)
            sources = EventSources(
                [
                    SqsSource(
                        function="fn", name="Latency", queue_arn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:latency"
                    ),
                    SqsSource(
                        function="fn", name="Drain", queue_arn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:drain"
                    ),
                ],
                invoke=lambda name, payload, kind: service.invoke(name, payload, invocation_type=kind),
                announce=service.announce,
                clients=clients,
                send=lambda delivery: None,
                region="us-east-1",
            )
            sources.start()
            try:
                sqs = clients("sqs")
                latency: list[float] = []
                for n in range(samples + 5):  # the first few warm environments up
                    wake.clear()
                    starts.clear()
                    sqs.send_message(QueueUrl=latency_url, MessageBody=json.dumps({"id": f"l{n}"}))
                    sent = time.perf_counter()
                    wake.wait(10)
                    if n >= 5 and starts:
                        latency.append((starts[0] - sent) * 1000)
                    time.sleep(0.02)
                out.write_text("")
                drained = sources.counters("fn", "Drain")
                began = time.perf_counter()
                _send_all(sqs, drain_url, total, "d", lambda: drained.status().delivered)
                deadline = time.monotonic() + 600
                while drained.status().delivered < total and time.monotonic() < deadline:
                    time.sleep(0.05)
                elapsed = time.perf_counter() - began
            finally:
                sources.close()
        ids = [line for line in out.read_text().splitlines() if line.startswith("d")]
    lost = total - len(set(ids))
    duplicated = len(ids) - len(set(ids))
    f50, f95 = percentile(floor, 50), percentile(floor, 95)
    l50, l95 = percentile(latency, 50), percentile(latency, 95)
    print(f"\nEvent sources (SQS mapping on the embedded account, trivial handler, {samples} samples)")
    print(f"  send_message to handler start      p50 {l50:6.2f} ms   p95 {l95:6.2f} ms")
    print(
        f"  poller floor (long poll wakes)     p50 {f50:6.2f} ms   p95 {f95:6.2f} ms"
        f"   ratio p50 {l50 / f50:.2f}x"
    )
    print(
        f"  {total:,} messages at BatchSize 10       {total / elapsed:7.0f} messages/s ({elapsed:.1f} s)"
        f"   lost {lost}, duplicated {duplicated}"
    )
    print(f"  (sent as the mapping drains, at most {DRAIN_WINDOW} in the queue)")


if __name__ == "__main__":
    event_source_figures(quick=False)
