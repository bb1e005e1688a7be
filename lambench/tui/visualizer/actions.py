"""What the visualizer's controls do to the local engine, and its export: plain blocking functions.

The screen calls these from thread workers and turns their answers (or their `ActionError`, one
line for a notification) into messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from lambench.core.limits import MEMORY_MAX_MB, MEMORY_MIN_MB
from lambench.core.record import replace
from lambench.core.runtime import errors
from lambench.core.runtime.service import LocalLambda
from lambench.core.timeline.export import CSV_TABLES, to_json, write_csv
from lambench.core.timeline.spans import Snapshot

LATEST = "$LATEST"


class ActionError(Exception):
    """A control could not act; the message is one line for the user."""


def parse_count(text: str, what: str, *, minimum: int, maximum: int | None = None) -> int:
    """A whole number typed in a field, in range, or ActionError naming the field."""
    cleaned = text.strip().replace("_", "")
    try:
        value = int(cleaned)
    except ValueError:
        raise ActionError(f"{what}: {text.strip() or 'nothing'} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f"{minimum:,}-{maximum:,}" if maximum is not None else f"at least {minimum:,}"
        raise ActionError(f"{what}: {value:,} is out of range; use {allowed}")
    return value


def parse_rate(text: str) -> float:
    """Requests per second typed in the rate field."""
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        raise ActionError(f"rate: {text.strip() or 'nothing'} is not a number") from None
    if not value > 0:
        raise ActionError("rate: must be more than 0 requests per second")
    return value


def _service_error(exc: errors.LambdaServiceError) -> ActionError:
    return ActionError(f"{exc.error_code}: {exc.message}")


def set_reserved(service: LocalLambda, function: str, text: str) -> str:
    """Put (or, for an empty field, delete) the function's reserved concurrency; says what it did."""
    value = None if not text.strip() else parse_count(text, "reserved concurrency", minimum=0)
    try:
        service.put_function_concurrency(function, value)
    except errors.LambdaServiceError as exc:
        raise _service_error(exc) from None
    if value is None:
        return f"{function}: reserved concurrency removed (it shares the account's unreserved pool)"
    if value == 0:
        return f"{function}: reserved concurrency 0 (every invoke is throttled)"
    return f"{function}: reserved concurrency {value}"


def provisioned_qualifier(service: LocalLambda, function: str, preferred: str | None) -> str:
    """Where provisioned concurrency goes: `preferred` if it is an alias or version, else an alias
    of the function, else its latest published version."""
    aliases = [alias.name for alias in service.aliases(function)]
    if preferred is not None and (preferred in aliases or preferred.isdigit()):
        return preferred
    if aliases:
        return aliases[0]
    versions = service.versions(function)
    if versions:
        return versions[-1].number
    raise ActionError(
        f"provisioned concurrency needs an alias or a published version of {function}: "
        f"publish one with 'lambench versions publish {function}'"
    )


def set_provisioned(
    service: LocalLambda, function: str, text: str, preferred: str | None
) -> tuple[str | None, str]:
    """Set provisioned concurrency (empty or 0 removes it); returns (qualifier, what it did).

    Returns at once: the environments start in the background and show up on the timeline.
    """
    count = 0 if not text.strip() else parse_count(text, "provisioned concurrency", minimum=0)
    try:
        qualifier = provisioned_qualifier(service, function, preferred)
    except ActionError:
        if count == 0:
            return None, f"{function}: no provisioned concurrency to remove"
        raise
    try:
        if count == 0:
            service.delete_provisioned_concurrency(function, qualifier)
            return qualifier, f"{function}:{qualifier}: provisioned concurrency removed"
        service.put_provisioned_concurrency(function, qualifier, count)
    except errors.LambdaServiceError as exc:
        raise _service_error(exc) from None
    return qualifier, f"{function}:{qualifier}: starting {count} provisioned environment(s)"


def current_provisioned(service: LocalLambda, function: str, qualifier: str | None) -> int | None:
    """The provisioned concurrency requested on `function:qualifier`, or None without a configuration."""
    if qualifier is None or qualifier == LATEST:
        return None
    try:
        return service.get_provisioned_concurrency(function, qualifier).requested
    except errors.LambdaServiceError:
        return None


def set_memory(service: LocalLambda, function: str, text: str, qualifier: str | None) -> str:
    """Give $LATEST a new memory size: its environments are recycled, the next invoke is cold."""
    memory = parse_count(text, "memory (MB)", minimum=MEMORY_MIN_MB, maximum=MEMORY_MAX_MB)
    try:
        config = service.get_function(function)
        service.reload_function(function, replace(config, memory_mb=memory))
    except errors.LambdaServiceError as exc:
        raise _service_error(exc) from None
    said = f"{function}: memory {memory} MB; the next invoke starts a new environment"
    if qualifier not in (None, LATEST):
        # Versions are snapshots: the load's target keeps the memory it was published with.
        said += f" ({function}:{qualifier} keeps its published memory)"
    return said


def export_directory(project_dir: Path | None) -> Path:
    """`<project>/.lambench/exports/`, or `./.lambench/exports/` without a project; created."""
    base = project_dir if project_dir is not None else Path.cwd()
    directory = base / ".lambench" / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def export_stem(directory: Path, function: str, clock: Callable[[], float]) -> str:
    """`slow-20250101-120000`, with `-2`, `-3`... when an export of that second exists."""
    safe = function.replace(":", "_").replace("$", "")
    stem = f"{safe}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(clock()))}"
    candidate, number = stem, 1
    while any(directory.glob(f"{candidate}.*")) or any(directory.glob(f"{candidate}-*.csv")):
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


def export_snapshot(snapshot: Snapshot, directory: Path, stem: str) -> list[Path]:
    """Write the window as `<stem>.json` and one `<stem>-<table>.csv` per table; the paths written."""
    written = []
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(to_json(snapshot), indent=2) + "\n", encoding="utf-8")
    written.append(path)
    for table in CSV_TABLES:
        path = directory / f"{stem}-{table}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            write_csv(snapshot, handle, table)
        written.append(path)
    return written
