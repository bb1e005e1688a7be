"""AWS's event-stream framing (`application/vnd.amazon.eventstream`), as InvokeWithResponseStream answers.

Each message is a prelude (total length, headers length, both 4-byte big-endian, and the
prelude's CRC-32), headers (a one-byte name length, the name, type 7 for a string, a two-byte
value length, the value), the payload, then the whole message's CRC-32. InvokeWithResponseStream
sends `PayloadChunk` events with the function's bytes, then one `InvokeComplete` with
`ErrorCode`, `ErrorDetails` and `LogResult`.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7


def _headers(pairs: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in pairs.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += (
            bytes([len(raw_name)])
            + raw_name
            + bytes([_STRING])
            + struct.pack(">H", len(raw_value))
            + raw_value
        )
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message."""
    head = _headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def payload_chunk(data: bytes) -> bytes:
    """A `PayloadChunk` event carrying `data`."""
    return message(
        {
            ":event-type": "PayloadChunk",
            ":content-type": "application/octet-stream",
            ":message-type": "event",
        },
        data,
    )


def invoke_complete(error_code: str | None, error_details: str | None, log_result: str | None) -> bytes:
    """The closing `InvokeComplete` event."""
    fields = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = json.dumps({key: value for key, value in fields.items() if value is not None}).encode()
    return message(
        {":event-type": "InvokeComplete", ":content-type": "application/json", ":message-type": "event"}, body
    )
