"""`make bench` figures for the embedded account: moto's start-up, and that it stays off the invoke path.

Each measurement runs in a fresh interpreter, so moto's imports are paid every time, as a user
pays them on the first AWS call of a session.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Time from a handler-side boto3 call to its answer when the embedded account is not yet running:
# the call itself starts moto (imports, server, the template's resources, function registration).
_EMBEDDED = r"""
import json, os, sys, time
from pathlib import Path
from lambench.core.backends.local import LocalBackend
from lambench.core.config import FunctionConfig
from lambench.core.cloud_resources import CloudResource
code = Path(sys.argv[1])
plain = FunctionConfig.create(name="plain", handler="plain.handler", code_dir=code)
aws = FunctionConfig.create(name="aws", handler="aws.handler", code_dir=code)
table = CloudResource("T", "AWS::DynamoDB::Table", "T", {
    "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]})
with LocalBackend([plain, aws], project_dir=code, resources=[table], share=False, log_store=False) as backend:
    began = time.perf_counter()
    backend.service.invoke("plain", b"{}")
    plain_ms = (time.perf_counter() - began) * 1000
    backend.service.invoke("aws", b"{}")  # the cold start, and the call that starts moto
    began = time.perf_counter()
    result = backend.service.invoke("aws", b"{}")
    warm_call_ms = (time.perf_counter() - began) * 1000
    print(json.dumps({"plain_first_ms": plain_ms, "startup_s": backend.account.startup_s,
                      "warm_aws_call_ms": warm_call_ms, "ok": result.function_error is None}))
"""

# The same first invoke of a function that never calls AWS, with no account at all.
_BARE = r"""
import json, sys, time
from pathlib import Path
from lambench.core.runtime.service import LocalLambda
from lambench.core.config import FunctionConfig
code = Path(sys.argv[1])
plain = FunctionConfig.create(name="plain", handler="plain.handler", code_dir=code)
with LocalLambda([plain]) as service:
    began = time.perf_counter()
    service.invoke("plain", b"{}")
    print(json.dumps({"plain_first_ms": (time.perf_counter() - began) * 1000}))
"""

# moto's own ThreadedMotoServer: start it and make one DynamoDB call.
_THREADED = r"""
import json, time
began = time.perf_counter()
from moto.server import ThreadedMotoServer
import boto3
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
client = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
client.list_tables()
print(json.dumps({"startup_s": time.perf_counter() - began}))
server.stop()
"""

_PLAIN = "def handler(event, context):\n    return 1\n"
_AWS = """
import boto3

_table = boto3.resource("dynamodb").Table("T")

def handler(event, context):
    _table.put_item(Item={"k": context.aws_request_id})
    return 1
"""


def _run(script: str, code_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", script, str(code_dir)], capture_output=True, text=True, timeout=300, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def backend_figures(quick: bool) -> None:
    """Print moto's start-up beside moto's own threaded server, and the first-invoke cost of the account."""
    rounds = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="lambench-bench-moto-") as tmp:
        code_dir = Path(tmp)
        (code_dir / "plain.py").write_text(_PLAIN)
        (code_dir / "aws.py").write_text(_AWS)
        embedded = [_run(_EMBEDDED, code_dir) for _ in range(rounds)]
        bare = [_run(_BARE, code_dir) for _ in range(rounds)]
        threaded = [_run(_THREADED, code_dir) for _ in range(rounds)]
    startup = statistics.median(e["startup_s"] for e in embedded) * 1000
    baseline = statistics.median(t["startup_s"] for t in threaded) * 1000
    with_account = statistics.median(e["plain_first_ms"] for e in embedded)
    without = statistics.median(b["plain_first_ms"] for b in bare)
    warm_call = statistics.median(e["warm_aws_call_ms"] for e in embedded)
    print(f"\nEmbedded account (moto; {rounds} fresh processes each, medians)")
    print(f"  start-up on first AWS call  {startup:7.0f} ms  (imports, server, a table, 2 functions)")
    print(f"  ThreadedMotoServer + 1 call {baseline:7.0f} ms   ratio {startup / baseline:.2f}x")
    print(
        f"  first invoke, no AWS calls  {with_account:7.1f} ms with the account, {without:.1f} ms without "
        f"({with_account / without:.2f}x: moto stays off the invoke path)"
    )
    print(f"  warm invoke doing put_item  {warm_call:7.1f} ms")
