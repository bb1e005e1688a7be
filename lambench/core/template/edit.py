"""Small, formatting-preserving edits of a SAM template: today, a function's `MemorySize`.

The file is edited as text, line by line, so comments, order and quoting stay as the user wrote
them: the function's `Properties:` block is found by indentation under its logical id, and its
`MemorySize:` line replaced, or one added as the block's first line.
"""

from __future__ import annotations

import re
from pathlib import Path


class TemplateEditError(ValueError):
    """The template cannot be edited safely here; the message says what to do by hand."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def set_memory_size(path: Path, logical_id: str, memory_mb: int) -> str:
    """Set `logical_id`'s `MemorySize` to `memory_mb` in the template at `path`; returns the line written."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    resource = next(
        (
            i
            for i, line in enumerate(lines)
            if re.fullmatch(rf"\s*{re.escape(logical_id)}:\s*(#.*)?\n?", line)
        ),
        None,
    )
    if resource is None:
        raise TemplateEditError(
            f"{path.name}: no resource {logical_id} written as a block; set MemorySize by hand"
        )
    base = _indent(lines[resource])
    properties = None
    end = len(lines)
    for index in range(resource + 1, len(lines)):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _indent(line) <= base:
            end = index
            break
        if properties is None and re.fullmatch(r"\s*Properties:\s*(#.*)?\n?", line):
            properties = index
        elif properties is None and line.lstrip().startswith("Properties:"):
            raise TemplateEditError(
                f"{path.name}:{index + 1}: {logical_id}'s Properties are written inline; "
                "set MemorySize by hand"
            )
    if properties is None:
        raise TemplateEditError(f"{path.name}: {logical_id} has no Properties block; set MemorySize by hand")
    parent = _indent(lines[properties])
    child = None
    for index in range(properties + 1, end):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _indent(line) <= parent:
            break
        child = child if child is not None else _indent(line)
        if _indent(line) == child and re.match(r"\s*MemorySize:", line):
            written = f"{' ' * child}MemorySize: {memory_mb}"
            lines[index] = written + ("\n" if line.endswith("\n") else "")
            path.write_text("".join(lines), encoding="utf-8")
            return written.strip()
    written = f"{' ' * (child if child is not None else parent + 2)}MemorySize: {memory_mb}"
    lines.insert(properties + 1, written + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return written.strip()
