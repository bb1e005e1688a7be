"""`lambench.core.digests`: CPython's built-in digests give hashlib's values."""

from __future__ import annotations

import hashlib

import pytest

from lambench.core import digests

SAMPLES = [b"", b"hello", bytes(range(256)) * 40]


@pytest.mark.parametrize("data", SAMPLES)
def test_hex_digests_equal_hashlib(data: bytes) -> None:
    assert digests.md5_hex(data) == hashlib.md5(data).hexdigest()
    assert digests.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_incremental_objects_equal_hashlib() -> None:
    ours, theirs = digests.md5(), hashlib.md5()
    mine256, theirs256 = digests.sha256(), hashlib.sha256()
    for chunk in SAMPLES:
        ours.update(chunk)
        theirs.update(chunk)
        mine256.update(chunk)
        theirs256.update(chunk)
    assert ours.hexdigest() == theirs.hexdigest()
    assert mine256.digest() == theirs256.digest()
