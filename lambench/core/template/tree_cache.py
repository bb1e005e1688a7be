"""A cache of parsed templates under the project's `.lambench/cache/`, so a second command skips YAML.

Parsing a template with PyYAML (and importing it) is most of what an ad hoc `lambench invoke`
spends before the function runs. The cache keeps the located values `yaml_source.parse` returns,
as JSON, beside a header naming what they were parsed from: lambench's version, the template's
size, mtime and a CRC-32 of its bytes. The template is read on every use (a few kilobytes, cheap
next to parsing) and its CRC compared, so an edit that keeps the size and lands within the
filesystem's mtime granularity is still seen. A cache that does not match, cannot be decoded or
fails its own CRC is parsed again and rewritten, never trusted. Writing is best effort: a
read-only project simply parses every time.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path

from lambench import __version__
from lambench.core.template.model import Intrinsic, LocatedList, LocatedMap, TemplateError

#: Bumped whenever the encoding below changes.
CACHE_FORMAT = 1

#: What `_read_cache` returns when there is no usable cache (None is a valid parsed template).
_MISSING = object()


def cache_path(template_path: Path) -> Path:
    """Where the parsed form of `template_path` is kept."""
    return template_path.parent / ".lambench" / "cache" / f"{template_path.name}.json"


def load_tree(template_path: Path) -> object:
    """The template's located values: from the cache when it matches the file, else parsed (and cached)."""
    try:
        data = template_path.read_bytes()
        stat = os.stat(template_path)
    except OSError as exc:
        raise TemplateError(template_path, 1, "Template", f"cannot be read: {exc.strerror or exc}") from None
    header = {
        "format": CACHE_FORMAT,
        "lambench": __version__,
        "size": len(data),
        "mtime_ns": stat.st_mtime_ns,
        "crc32": zlib.crc32(data),
    }
    target = cache_path(template_path)
    cached = _read_cache(target, header)
    if cached is not _MISSING:
        return cached
    from lambench.core.template.yaml_source import parse

    tree = parse(template_path, data)
    _write_cache(target, header, tree)
    return tree


def _read_cache(target: Path, header: dict[str, object]) -> object:
    try:
        raw = target.read_bytes()
    except OSError:
        return _MISSING
    first, _, body = raw.partition(b"\n")
    try:
        stored = json.loads(first)
        if not isinstance(stored, dict) or stored.get("body_crc32") != zlib.crc32(body):
            return _MISSING
        if {key: stored.get(key) for key in header} != header:
            return _MISSING
        return decode(json.loads(body))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return _MISSING  # corrupt: parse again and replace it


def _write_cache(target: Path, header: dict[str, object], tree: object) -> None:
    try:
        body = json.dumps(encode(tree), separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError):
        return  # a value JSON cannot hold (a YAML !!binary, say): this template is parsed each time
    first = json.dumps({**header, "body_crc32": zlib.crc32(body)}).encode()
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(first + b"\n" + body)
        # Atomic: a concurrent reader sees the old cache or the new one, never half of either.
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def encode(value: object) -> object:
    """Located values as JSON-ready data; raises TypeError for a value the cache cannot hold."""
    if isinstance(value, LocatedMap):
        entries = [[key, value.key_lines[key], encode(item)] for key, item in value.items()]
        return {"m": value.line, "e": entries}
    if isinstance(value, LocatedList):
        items = [[line, encode(item)] for item, line in zip(value, value.item_lines, strict=True)]
        return {"l": value.line, "i": items}
    if isinstance(value, Intrinsic):
        return {"f": value.name, "n": value.line, "v": encode(value.value)}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(data: object) -> object:
    """The inverse of `encode`; raises on anything `encode` cannot have written."""
    if isinstance(data, dict):
        if "m" in data:
            mapping = LocatedMap(int(data["m"]))
            for key, line, item in data["e"]:
                if not (key is None or isinstance(key, (str, bool, int, float))):
                    raise TypeError("a mapping key must be a scalar")
                mapping[key] = decode(item)
                mapping.key_lines[key] = int(line)
            return mapping
        if "l" in data:
            items = LocatedList(int(data["l"]))
            for line, item in data["i"]:
                items.append(decode(item))
                items.item_lines.append(int(line))
            return items
        return Intrinsic(str(data["f"]), decode(data["v"]), int(data["n"]))
    if isinstance(data, list):
        raise TypeError("a bare list is not an encoded value")
    return data
