"""Reading a partial batch response (`ReportBatchItemFailures`, lambda-facts §8.2 and §8.3)."""

from __future__ import annotations

import json
from collections.abc import Collection


def failed_items(payload: bytes, identifiers: Collection[str]) -> list[str] | None:
    """The item identifiers the function reported as failed: [] for a complete success.

    None means the whole batch failed: the payload is not JSON, `batchItemFailures` is not a list,
    or an entry has no `itemIdentifier` or names a record that is not in the batch. An empty or
    null response, and an empty or null `batchItemFailures`, are a complete success. A response
    that is JSON but not an object has no `batchItemFailures` either; lambench counts it a success
    (AWS's documentation lists only the cases above).
    """
    text = payload.strip()
    if not text:
        return []
    try:
        response = json.loads(text)
    except ValueError:
        return None
    if not isinstance(response, dict):
        return []
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    failed: list[str] = []
    for entry in failures:
        if not isinstance(entry, dict) or set(entry) - {"itemIdentifier"}:
            return None
        identifier = entry.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier or identifier not in identifiers:
            return None
        if identifier not in failed:
            failed.append(identifier)
    return failed
