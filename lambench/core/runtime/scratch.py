"""Private scratch directories (each environment's `/tmp`), made and removed without tempfile or shutil.

`tempfile` and `shutil` together cost a one-shot `lambench invoke` more start-up time than its
function's whole cold start, for two calls; these are the few lines of them lambench needs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

#: Where `tempfile.gettempdir` would look, in its order (the last resort is the working directory).
_TMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")
_TMP_FALLBACKS = ("/tmp", "/var/tmp", "/usr/tmp")


def _candidates() -> list[str]:
    found = [os.environ[name] for name in _TMP_VARIABLES if os.environ.get(name)]
    return [*found, *_TMP_FALLBACKS, os.getcwd()]


def make_scratch_dir(prefix: str) -> str:
    """A new empty directory only this user can enter (mode 0700), named `<prefix><16 hex>`."""
    last: OSError | None = None
    for base in _candidates():
        for _ in range(8):
            path = os.path.join(base, f"{prefix}{os.urandom(8).hex()}")
            try:
                os.mkdir(path, 0o700)
                return os.path.abspath(path)
            except FileExistsError:
                continue  # 64 random bits collided: try another name
            except OSError as exc:
                last = exc
                break  # this base is not writable: try the next
    raise last or OSError("no writable temporary directory")


def remove_tree(path: str) -> None:
    """Delete `path` and everything below it, never following a symbolic link; errors are ignored.

    A handler may leave anything in its `/tmp`: links to outside directories are removed as links.
    """
    if os.path.islink(path):
        _quietly(os.unlink, path)
        return
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            _quietly(os.unlink, os.path.join(root, name))
        for name in dirs:
            child = os.path.join(root, name)
            # os.walk lists a link to a directory among `dirs` without entering it.
            _quietly(os.unlink if os.path.islink(child) else os.rmdir, child)
    _quietly(os.rmdir, path)


def _quietly(remove: Callable[[str], None], path: str) -> None:
    with contextlib.suppress(OSError):
        remove(path)
