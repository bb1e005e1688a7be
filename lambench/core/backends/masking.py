"""Hiding secrets in a function's environment variables before they are shown.

Both backends show environment variables with secret-looking values masked unless the user asks
to see them (`--show-secrets`). A value is secret when its variable's name says so (`DB_PASSWORD`,
`STRIPE_API_KEY`, `githubToken`) or when the value itself has the shape of a credential (an AWS
access key id, a private key, a JWT, a well-known token prefix). A URL keeps everything but its
password (`postgres://app:****@db:5432/orders`), so the host stays visible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: What a masked value is replaced with; the same for every value, so nothing about its length leaks.
MASK = "********"

# Words that mark a secret wherever they appear in a name (`DBPASSWORD`, `MY_SECRET_ARN` too: a
# false positive only costs a --show-secrets).
_SECRET_FRAGMENTS = (
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "TOKEN",
    "CREDENTIAL",
    "APIKEY",
    "PRIVATEKEY",
    "ACCESSKEY",
    "SIGNINGKEY",
    "CLIENTKEY",
)
# Short words that are secrets only as a whole word of the name (`KEY` but not `MONKEY`).
_SECRET_WORDS = frozenset(
    {"KEY", "KEYS", "PASS", "PWD", "AUTH", "AUTHORIZATION", "DSN", "SALT", "SIGNATURE", "COOKIE", "PEPPER"}
)
_WORD_SPLIT_RE = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

_SECRET_VALUE_RES = (
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),  # JWT
    re.compile(r"\b(?:xox[abposr]-|gh[pousr]_|github_pat_|sk_live_|rk_live_|glpat-|AIza)[A-Za-z0-9_\-]{10,}"),
)
# scheme://user:password@host — only the password is hidden.
_URL_PASSWORD_RE = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)(?P<password>[^/\s@]+)(?=@)")


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says its value is a secret."""
    squashed = re.sub(r"[^A-Z0-9]", "", name.upper())
    if any(fragment in squashed for fragment in _SECRET_FRAGMENTS):
        return True
    words = {word.upper() for word in _WORD_SPLIT_RE.split(name) if word}
    return not words.isdisjoint(_SECRET_WORDS)


def looks_like_secret(value: str) -> bool:
    """Whether a value has the shape of a credential whatever its variable is called."""
    return any(pattern.search(value) for pattern in _SECRET_VALUE_RES)


def mask_value(name: str, value: str) -> str:
    """`value` as it may be shown: MASK for a secret, a URL with its password hidden, else unchanged."""
    if not value:
        return value
    if is_secret_name(name) or looks_like_secret(value):
        return MASK
    return _URL_PASSWORD_RE.sub(lambda match: match.group("head") + MASK, value)


def mask_environment(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` with secret-looking values masked; names and order are kept."""
    return {name: mask_value(name, value) for name, value in env.items()}
