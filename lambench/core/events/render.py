"""Render a template's event: JSON structure with `${expression}` strings and a few directives.

A template's event is ordinary JSON. Inside it:

* `"${expr}"` (the whole string) becomes the expression's value with its own type, so
  `"${size}"` gives a number and `"${headers}"` an object;
* `"text ${expr} text"` interpolates; `$${` writes a literal `${`;
* object keys may interpolate too;
* `{"$each": expr, "let": {...}, "as": "name", "item": T}` renders T once per index
  (`expr` is a count) or per element (`expr` is a list, bound to `name`, default `item`;
  pick a name that no parameter has, or the parameter is hidden inside T), with `i` bound to
  the index; inside a list its items are spliced in;
* `{"$if": expr, "then": T, "else": T}`: without `else`, a false condition drops the key
  (in an object) or the element (in a list);
* `{"$entries": expr, "key": T, "value": T}` builds an object from another one, with `key`
  and `value` bound to each entry (`key` defaults to the entry's own key; these names hide
  parameters called `key` or `value` inside the directive);
* `{"$json": T}` renders T and serialises it to a compact JSON string;
* `{"$let": {...}, "in": T}` binds names for T.

`let` values are templates themselves, evaluated in order, each seeing those before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from lambench.core.events.expressions import ExpressionError, evaluate

_DROP = object()  # what a false `$if` without `else` renders to


def render(node: Any, variables: Mapping[str, Any]) -> Any:
    """Render one template node against `variables` (params, lets, `now`, `i`...)."""
    result = _render(node, dict(variables))
    return None if result is _DROP else result


def bind(lets: Mapping[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """Evaluate `let` bindings in order into a copy of `variables`."""
    scope = dict(variables)
    for name, node in lets.items():
        try:
            value = _render(node, scope)
        except ExpressionError as exc:
            raise ExpressionError(f"let {name}: {exc}") from None
        scope[name] = None if value is _DROP else value
    return scope


def _render(node: Any, variables: dict[str, Any]) -> Any:
    if isinstance(node, str):
        return _render_string(node, variables)
    if isinstance(node, list):
        return _render_list(node, variables)
    if isinstance(node, dict):
        if "$each" in node:
            return _render_each(node, variables)
        if "$if" in node:
            chosen = "then" if evaluate(node["$if"], variables) else "else"
            return _render(node[chosen], variables) if chosen in node else _DROP
        if "$entries" in node:
            return _render_entries(node, variables)
        if "$json" in node:
            value = _render(node["$json"], variables)
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if "$let" in node:
            return _render(node["in"], bind(node["$let"], variables))
        rendered: dict[str, Any] = {}
        for key, value in node.items():
            item = _render(value, variables)
            if item is not _DROP:
                rendered[str(_render_string(key, variables))] = item
        return rendered
    return node


def _render_list(nodes: list[Any], variables: dict[str, Any]) -> list[Any]:
    rendered: list[Any] = []
    for node in nodes:
        item = _render(node, variables)
        if item is _DROP:
            continue
        if isinstance(node, dict) and "$each" in node:
            rendered.extend(item)
        else:
            rendered.append(item)
    return rendered


def _render_each(node: Mapping[str, Any], variables: dict[str, Any]) -> list[Any]:
    over = evaluate(node["$each"], variables)
    name = node.get("as", "item")
    elements = list(range(over)) if isinstance(over, int) else list(over)
    results: list[Any] = []
    for index, element in enumerate(elements):
        scope = dict(variables, i=index)
        scope[name] = element
        scope = bind(node.get("let", {}), scope)
        item = _render(node["item"], scope)
        if item is not _DROP:
            results.append(item)
    return results


def _render_entries(node: Mapping[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    source = evaluate(node["$entries"], variables) or {}
    results: dict[str, Any] = {}
    for key, value in source.items():
        scope = dict(variables, key=key, value=value)
        new_key = _render(node.get("key", "${key}"), scope)
        new_value = _render(node["value"], scope)
        if new_value is not _DROP:
            results[str(new_key)] = new_value
    return results


def _render_string(text: str, variables: dict[str, Any]) -> Any:
    parts = split_string(text)
    if len(parts) == 1 and isinstance(parts[0], _Expr):
        return evaluate(parts[0].source, variables)
    return "".join(
        part if isinstance(part, str) else _as_text(evaluate(part.source, variables)) for part in parts
    )


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


class _Expr:
    """An expression found between `${` and `}` in a template string."""

    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source


@lru_cache(maxsize=8192)
def split_string(text: str) -> tuple[str | _Expr, ...]:
    """Split a template string into literal text and expressions."""
    parts: list[str | _Expr] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        if text.startswith("$${", position):
            literal.append("${")
            position += 3
        elif text.startswith("${", position):
            end = _closing_brace(text, position + 2)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_Expr(text[position + 2 : end]))
            position = end + 1
        else:
            literal.append(text[position])
            position += 1
    if literal or not parts:
        parts.append("".join(literal))
    return tuple(parts)


def _closing_brace(text: str, start: int) -> int:
    # Braces may nest (dict literals) and may sit inside quoted strings; both are skipped.
    depth = 0
    quote: str | None = None
    position = start
    while position < len(text):
        char = text[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    raise ExpressionError(f"unclosed ${{ in {text!r}")
