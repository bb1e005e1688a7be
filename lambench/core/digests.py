"""MD5 and SHA-256 from CPython's built-in modules, with hashlib as the fallback.

`hashlib` loads OpenSSL before it hands out a digest, a few milliseconds that a one-shot command
(`lambench invoke`, `lambench events generate`) notices; CPython's own `_md5` and `_sha2`
(`_sha256` before 3.12) compute the same digests without it. Builds without them use hashlib.
"""

from __future__ import annotations

from typing import Any


def md5() -> Any:
    """A new MD5 object (`update`, `digest`, `hexdigest`), for checksums such as SQS's, not security."""
    try:
        from _md5 import md5 as builtin  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import md5 as builtin
    return builtin()


def sha256() -> Any:
    """A new SHA-256 object (`update`, `digest`, `hexdigest`)."""
    try:
        from _sha2 import sha256 as builtin  # type: ignore[import-not-found]  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256 as builtin  # type: ignore[import-not-found]  # Python 3.10-3.11
        except ImportError:
            from hashlib import sha256 as builtin
    return builtin()


def md5_hex(data: bytes) -> str:
    """The MD5 of `data` as 32 lower-case hex digits."""
    digest = md5()
    digest.update(data)
    return str(digest.hexdigest())


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as 64 lower-case hex digits."""
    digest = sha256()
    digest.update(data)
    return str(digest.hexdigest())
