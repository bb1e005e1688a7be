"""Identifiers in the shapes AWS uses: request ids, log stream names, trace headers, ARNs."""

from __future__ import annotations

import os
import time

#: The account id lambench reports for local functions (the one AWS uses in its documentation).
LOCAL_ACCOUNT_ID = "123456789012"


def new_request_id() -> str:
    """A fresh invocation id: a random (version 4) UUID, as Lambda uses."""
    # Formatted here rather than by the uuid module, whose import (it loads platform) costs a
    # one-shot command more than its invoke.
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    digits = raw.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def new_environment_id() -> str:
    """32 lowercase hex digits: the tail of a log stream name, and lambench's environment id."""
    return os.urandom(16).hex()


def log_stream_name(version: str, environment_id: str, when: float | None = None) -> str:
    """`YYYY/MM/DD/[<version>]<32 hex>`, one per execution environment (lambda-facts §5.1)."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if when is None else when))
    return f"{day}/[{version}]{environment_id}"


def new_trace_header(sampled: bool = False) -> str:
    """An X-Ray trace header: `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=0|1`."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled={1 if sampled else 0}"


def function_arn(region: str, name: str, qualifier: str | None = None) -> str:
    """The function's ARN, qualified when a version or alias is given (lambda-facts §10)."""
    arn = f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
