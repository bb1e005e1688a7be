"""Located template values: each value with its property path and line, and SAM's Globals merge."""

from __future__ import annotations

from lambench.core.record import record
from lambench.core.template.model import Intrinsic, LocatedList, LocatedMap


@record(frozen=True)
class Node:
    """A template value with where it came from; mappings and lists hold located children.

    Globals merging mixes values from two places, so each value carries its own path and line.
    """

    path: str
    line: int
    value: object = None
    entries: dict[object, Node] | None = None
    items: list[Node] | None = None

    @property
    def is_scalar(self) -> bool:
        return self.entries is None and self.items is None


def join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def as_intrinsic(value: object) -> Intrinsic | None:
    if isinstance(value, Intrinsic):
        return value
    # The long form: a one-key mapping such as {"Ref": "Table"} or {"Fn::GetAtt": [...]}.
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if isinstance(key, str) and (key in ("Ref", "Condition") or key.startswith("Fn::")):
            return Intrinsic(key, value[key], getattr(value, "line", 0))
    return None


def to_node(raw: object, path: str, line: int) -> Node:
    if isinstance(raw, LocatedMap) and as_intrinsic(raw) is None:
        entries = {key: to_node(value, join(path, key), raw.key_lines[key]) for key, value in raw.items()}
        return Node(path, line, raw, entries=entries)
    if isinstance(raw, LocatedList):
        items = [
            to_node(value, f"{path}[{index}]", item_line)
            for index, (value, item_line) in enumerate(zip(raw, raw.item_lines, strict=True))
        ]
        return Node(path, line, raw, items=items)
    return Node(path, line, raw)


def merge(global_node: Node, local_node: Node) -> Node:
    """SAM's Globals rule: mappings merge key by key, lists concatenate (globals first), else local wins."""
    if global_node.entries is not None and local_node.entries is not None:
        entries = dict(global_node.entries)
        for key, value in local_node.entries.items():
            entries[key] = merge(entries[key], value) if key in entries else value
        return Node(local_node.path, local_node.line, entries=entries)
    if global_node.items is not None and local_node.items is not None:
        return Node(local_node.path, local_node.line, items=[*global_node.items, *local_node.items])
    return local_node


def plain(value: object) -> object:
    """Raw YAML data as ordinary dicts and lists, keeping intrinsic functions as markers."""
    if isinstance(value, Intrinsic):
        return Intrinsic(value.name, plain(value.value), value.line)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def plain_node(node: Node) -> object:
    if node.entries is not None:
        return {key: plain_node(child) for key, child in node.entries.items()}
    if node.items is not None:
        return [plain_node(child) for child in node.items]
    return plain(node.value)


def describe(node: Node, value: object = None) -> str:
    if node.entries is not None:
        return "a mapping"
    if node.items is not None:
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, Intrinsic):
        return str(value)
    return repr(value)
