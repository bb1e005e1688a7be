"""Which files hot reload looks at, and whether a file's content really changed.

Editors save in storms (a swap file, a backup, a temporary file renamed over the original, a
chmod); only the content of the files that stay matters, so changes are judged by checksum.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

#: Directories whose contents never reload a function.
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".lambench", ".mypy_cache", ".pytest_cache"})
# Editor swap, backup and temporary files: vim (.swp, .swo, ~, 4913), emacs (#x#, .#x),
# JetBrains (___jb_tmp___), and the usual .tmp / .bak.
_IGNORED_SUFFIXES = (
    ".pyc",
    ".pyo",
    ".swp",
    ".swo",
    ".swx",
    "~",
    ".tmp",
    ".bak",
    "___jb_tmp___",
    "___jb_old___",
)
_IGNORED_NAMES = frozenset({"4913", ".DS_Store"})


def is_ignored(path: Path) -> bool:
    """Whether a change to `path` can never matter to a function."""
    name = path.name
    if name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES):
        return True
    if name.startswith(".#") or (name.startswith("#") and name.endswith("#")):
        return True
    return any(part in IGNORED_DIRS for part in path.parts)


def checksum(path: Path) -> str | None:
    """The SHA-256 of a file's content, or None when it is gone (or is not a readable file)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


class Checksums:
    """The last known content of every watched file, to tell real changes from touches."""

    def __init__(self) -> None:
        self._known: dict[Path, str | None] = {}

    def scan(self, roots: Iterable[Path]) -> None:
        """Record every file under `roots` (a file root is recorded itself)."""
        for root in roots:
            if root.is_file():
                self._known[root] = checksum(root)
                continue
            for directory, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d not in IGNORED_DIRS]
                for name in files:
                    path = Path(directory, name)
                    if not is_ignored(path):
                        self._known[path] = checksum(path)

    def changed(self, path: Path) -> bool:
        """Whether `path`'s content differs from the last seen (and remember the new content).

        A file seen for the first time counts as changed when it exists: it is new.
        """
        current = checksum(path)
        known = path in self._known
        previous = self._known.get(path)
        self._known[path] = current
        if current is None:
            self._known.pop(path, None)
        return (current != previous) if known else current is not None


def drop_bytecode(path: Path) -> None:
    """Delete the cached bytecode of a changed Python source.

    A .pyc is trusted when the source's size and mtime (whole seconds) match; an edit that keeps
    the size within the same second would otherwise run stale code in the next environment.
    """
    if path.suffix != ".py":
        return
    cache = path.parent / "__pycache__"
    for compiled in cache.glob(f"{path.stem}.*.pyc"):
        with contextlib.suppress(OSError):
            compiled.unlink()
