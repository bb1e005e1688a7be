"""Content filtering: EventBridge event patterns, SNS filter policies and event source mapping filters.

All three use one language (EventBridge's): a pattern is a JSON object whose leaves are lists of
allowed values. A leaf matches when the event's value (or, for a list in the event, any of its
elements) matches any of the list's entries: a literal (type-exact), or one of
`{"prefix"}`, `{"suffix"}`, `{"equals-ignore-case"}`, `{"wildcard"}`, `{"anything-but"}`,
`{"numeric": [op, n, ...]}` and `{"exists": bool}`. Nested objects match nested objects, and
`"$or": [pattern, ...]` matches when any of its patterns does.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()
_OPERATORS = {"=", "<", "<=", ">", ">="}
_RULES = ("prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists")


class PatternError(ValueError):
    """A pattern lambench cannot read; the message says which part and why."""


def check_pattern(pattern: object, where: str = "pattern") -> None:
    """Raise `PatternError` unless `pattern` is a pattern object lambench can match."""
    if not isinstance(pattern, Mapping):
        raise PatternError(f"{where}: expected a JSON object, got {_kind(pattern)}")
    if not pattern:
        raise PatternError(f"{where}: is empty; give at least one field to match")
    for key, value in pattern.items():
        path = f"{where}.{key}"
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError(f"{path}: expected a list of two or more patterns")
            for index, alternative in enumerate(value):
                check_pattern(alternative, f"{path}[{index}]")
        elif isinstance(value, Mapping):
            check_pattern(value, path)
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"{path}: an empty list matches nothing; give at least one value")
            for rule in value:
                _check_rule(rule, path)
        else:
            raise PatternError(f"{path}: expected a list of values or an object, got {_kind(value)}")


def _check_rule(rule: object, path: str) -> None:
    if not isinstance(rule, Mapping):
        if isinstance(rule, list):
            raise PatternError(f"{path}: a value cannot be a list")
        return
    if len(rule) != 1:
        raise PatternError(f"{path}: a matching rule has exactly one key, such as prefix or numeric")
    ((name, argument),) = rule.items()
    if name not in _RULES:
        known = ", ".join(_RULES)
        raise PatternError(f"{path}: {name!r} is not a matching rule lambench knows ({known})")
    if name in ("prefix", "suffix", "equals-ignore-case", "wildcard") and not isinstance(argument, str):
        raise PatternError(f"{path}: {name} takes a string")
    if name == "exists" and not isinstance(argument, bool):
        raise PatternError(f"{path}: exists takes true or false")
    if name == "numeric":
        _numeric_bounds(argument, path)
    anything_but_rules = {"prefix", "suffix", "equals-ignore-case", "wildcard"}
    if name == "anything-but" and isinstance(argument, Mapping) and set(argument) - anything_but_rules:
        raise PatternError(f"{path}: anything-but takes values, or one of prefix, suffix, wildcard")


def _numeric_bounds(argument: object, path: str) -> list[tuple[str, float]]:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        raise PatternError(f'{path}: numeric takes operator/number pairs, such as [">", 0, "<=", 5]')
    bounds = []
    for operator, number in zip(argument[::2], argument[1::2], strict=True):
        if operator not in _OPERATORS or isinstance(number, bool) or not isinstance(number, int | float):
            raise PatternError(f"{path}: {operator!r} {number!r} is not a numeric comparison")
        bounds.append((str(operator), float(number)))
    return bounds


def matches(pattern: Mapping[str, Any], event: object) -> bool:
    """Whether `event` (a decoded JSON object) matches `pattern` (checked with `check_pattern`)."""
    if not isinstance(event, Mapping):
        return False
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in wanted):
                return False
            continue
        value = event.get(key, _MISSING)
        if isinstance(wanted, Mapping):
            if not matches(wanted, value if value is not _MISSING else {}):
                # A nested pattern of only `exists: false` leaves matches an absent object.
                return False
        elif not _leaf_matches(wanted, value):
            return False
    return True


def _leaf_matches(rules: Sequence[Any], value: object) -> bool:
    candidates: Sequence[object] = value if isinstance(value, list) else (value,)
    for rule in rules:
        if isinstance(rule, Mapping) and "exists" in rule:
            present = value is not _MISSING
            if rule["exists"] == present:
                return True
            continue
        if value is _MISSING:
            continue
        if any(_rule_matches(rule, candidate) for candidate in candidates):
            return True
    return False


def _rule_matches(rule: object, value: object) -> bool:
    if not isinstance(rule, Mapping):
        return _same(rule, value)
    ((name, argument),) = rule.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == argument.casefold()
    if name == "wildcard":
        return isinstance(value, str) and _wildcard(argument).fullmatch(value) is not None
    if name == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return all(_compare(float(value), op, bound) for op, bound in _numeric_bounds(argument, ""))
    if name == "anything-but":
        if isinstance(argument, Mapping):
            return not _rule_matches(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_same(item, value) for item in excluded)
    return False


def _same(rule: object, value: object) -> bool:
    # JSON types are kept apart: the string "5" is not the number 5, and true is not 1.
    if isinstance(rule, bool) or isinstance(value, bool):
        return isinstance(rule, bool) and isinstance(value, bool) and rule == value
    if isinstance(rule, int | float) and isinstance(value, int | float):
        return float(rule) == float(value)
    return type(rule) is type(value) and rule == value


def _compare(value: float, operator: str, bound: float) -> bool:
    if operator == "=":
        return value == bound
    if operator == "<":
        return value < bound
    if operator == "<=":
        return value <= bound
    if operator == ">":
        return value > bound
    return value >= bound


_WILDCARDS: dict[str, re.Pattern[str]] = {}


def _wildcard(text: str) -> re.Pattern[str]:
    compiled = _WILDCARDS.get(text)
    if compiled is None:
        # Only `*` is special in EventBridge wildcards; fnmatch's `?` and `[` are escaped first.
        escaped = text.replace("[", "[[]").replace("?", "[?]")
        compiled = _WILDCARDS[text] = re.compile(fnmatch.translate(escaped))
    return compiled


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return repr(value)


def sns_attributes(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """SNS message attributes as a filter policy sees them: strings, numbers, and arrays decoded."""
    import json

    values: dict[str, object] = {}
    for name, attribute in attributes.items():
        data_type = attribute.get("DataType", "String")
        text = attribute.get("StringValue")
        if text is None:
            continue  # binary attributes are not matched by filter policies
        if data_type.startswith("Number"):
            try:
                values[name] = float(text) if "." in text or "e" in text.lower() else int(text)
            except ValueError:
                values[name] = text
        elif data_type == "String.Array":
            try:
                values[name] = json.loads(text)
            except ValueError:
                values[name] = text
        else:
            values[name] = text
    return values
