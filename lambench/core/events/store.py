"""Saved test events: per function (the console's private events) and shared across the project.

Layout, relative to the project directory:

    .lambench/events/<function>/<name>.json   events saved for one function
    .lambench/shared-events/<name>.json       events every function can use

Every write goes to a temporary file in the same folder first and is then linked or renamed
into place, so a file is always complete, valid JSON, and an existing file is never replaced
unless the caller asks for it.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lambench.core.events.catalog import EventError
from lambench.core.record import record

FUNCTION_EVENTS_DIR = Path(".lambench") / "events"
SHARED_EVENTS_DIR = Path(".lambench") / "shared-events"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FUNCTION = re.compile(r"[A-Za-z0-9_-]{1,64}")


class EventStoreError(EventError):
    """A saved-event operation that cannot be done: bad name, missing event, would overwrite."""


@record(frozen=True)
class SavedEvent:
    """One saved event file."""

    name: str
    function: str | None  # None for a shared event
    path: Path

    @property
    def scope(self) -> str:
        """`function` or `shared`."""
        return "shared" if self.function is None else "function"

    @property
    def label(self) -> str:
        """How lists show it: `<function>/<name>` or `shared/<name>`."""
        return f"{self.function or 'shared'}/{self.name}"

    def load(self) -> Any:
        """The event; a file that is not JSON is an error naming the file, line and column."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EventStoreError(f"saved event {self.label} no longer exists ({self.path})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise EventStoreError(f"cannot read {self.path}: {exc}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise EventStoreError(
                f"{self.path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
            ) from None


class EventStore:
    """The saved events of one project directory."""

    def __init__(self, project_dir: Path | str) -> None:
        self.project_dir = Path(project_dir)

    def folder(self, function: str | None) -> Path:
        """Where a function's events (or, for None, the shared events) live."""
        if function is None:
            return self.project_dir / SHARED_EVENTS_DIR
        return self.project_dir / FUNCTION_EVENTS_DIR / check_function_name(function)

    def events(self, function: str | None = None, *, all_functions: bool = False) -> list[SavedEvent]:
        """A function's events then the shared ones; `all_functions` lists every function's."""
        functions: list[str] = []
        if all_functions:
            root = self.project_dir / FUNCTION_EVENTS_DIR
            if root.is_dir():
                functions = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
        elif function is not None:
            functions = [function]
        events = [event for name in functions for event in self._list_folder(name)]
        return events + self._list_folder(None)

    def _list_folder(self, function: str | None) -> list[SavedEvent]:
        folder = self.folder(function)
        if not folder.is_dir():
            return []
        return [
            SavedEvent(path.stem, function, path)
            for path in sorted(folder.glob("*.json"))
            if _NAME.fullmatch(path.stem) and path.is_file()
        ]

    def find(self, name: str, function: str | None = None) -> SavedEvent:
        """A saved event by name: the function's own first, then a shared one."""
        name = check_event_name(name)
        for scope in ([function] if function is not None else []) + [None]:
            path = self.folder(scope) / f"{name}.json"
            if path.is_file():
                return SavedEvent(name, scope, path)
        available = [event.name for event in self.events(function)]
        where = f"for {function} or shared" if function is not None else "shared"
        listing = f"; saved events are: {', '.join(available)}" if available else "; none are saved"
        raise EventStoreError(f"no saved event {name!r} {where}{listing}")

    def get(self, name: str, function: str | None = None) -> SavedEvent:
        """Exactly the event in one scope (a function's, or shared for None)."""
        name = check_event_name(name)
        path = self.folder(function) / f"{name}.json"
        if not path.is_file():
            raise EventStoreError(f"no saved event {(function or 'shared')}/{name}")
        return SavedEvent(name, function, path)

    def save(
        self, name: str, event: Any, *, function: str | None = None, overwrite: bool = False
    ) -> SavedEvent:
        """Write `event` as a saved event; an existing one is replaced only with `overwrite`."""
        name = check_event_name(name)
        try:
            text = json.dumps(event, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        except (TypeError, ValueError) as exc:
            raise EventStoreError(f"the event cannot be saved as JSON: {exc}") from None
        folder = self.folder(function)
        target = SavedEvent(name, function, folder / f"{name}.json")
        with _as_store_errors(target, "save", target.path):
            folder.mkdir(parents=True, exist_ok=True)
            _write_new(folder, target.path, text.encode(), overwrite=overwrite)
        return target

    def rename(
        self, name: str, new_name: str, *, function: str | None = None, overwrite: bool = False
    ) -> SavedEvent:
        """Rename a saved event within its scope; never replaces another unless `overwrite`."""
        source = self.get(name, function)
        new_name = check_event_name(new_name)
        target = SavedEvent(new_name, function, source.path.with_name(f"{new_name}.json"))
        if target.path == source.path:
            return source
        with _as_store_errors(target, "rename", source.path):
            if overwrite:
                os.replace(source.path, target.path)
            else:
                _link_or_exclusive_copy(source.path, target.path)
                source.path.unlink()
        return target

    def delete(self, name: str, *, function: str | None = None) -> SavedEvent:
        """Remove a saved event; returns what was removed."""
        event = self.get(name, function)
        try:
            event.path.unlink()
        except FileNotFoundError:
            raise EventStoreError(f"no saved event {event.label}") from None
        except OSError as exc:
            raise EventStoreError(f"cannot delete {event.path}: {exc.strerror or exc}") from None
        return event


def check_event_name(name: str) -> str:
    """A valid saved-event name (a trailing `.json` is dropped), or an error saying what is allowed."""
    if name.endswith(".json"):
        name = name[: -len(".json")]
    if not _NAME.fullmatch(name):
        raise EventStoreError(
            f"bad event name {name!r}: use up to 100 letters, digits, '.', '-' and '_', starting with a "
            "letter or digit"
        )
    return name


def check_function_name(function: str) -> str:
    """A function name as Lambda allows it (it becomes a folder name)."""
    if not _FUNCTION.fullmatch(function):
        raise EventStoreError(f"bad function name {function!r}: up to 64 letters, digits, '-' and '_'")
    return function


@contextmanager
def _as_store_errors(target: SavedEvent, action: str, path: Path) -> Iterator[None]:
    """File-system failures while writing `target`, as one-line errors that say what to do."""
    try:
        yield
    except FileExistsError:
        raise EventStoreError(
            f"saved event {target.label} already exists; choose another name or overwrite it"
        ) from None
    except OSError as exc:
        raise EventStoreError(f"cannot {action} {path}: {exc.strerror or exc}") from None


def _write_new(folder: Path, path: Path, data: bytes, *, overwrite: bool) -> None:
    import tempfile  # only writers pay for it

    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp's 0600 would hide a shared event from teammates
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            _link_or_exclusive_copy(Path(temporary), path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _link_or_exclusive_copy(source: Path, target: Path) -> None:
    # link() fails if the target exists, which makes "create only if new" atomic. Some
    # filesystems (FAT, some network mounts) cannot link; there an O_EXCL create does the same job.
    try:
        os.link(source, target)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
    data = source.read_bytes()
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
