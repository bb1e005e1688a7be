"""A template file's YAML read into located values: the only module of the template package importing yaml."""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.reader import ReaderError

from lambench.core.template.model import INTRINSIC_TAGS, Intrinsic, LocatedList, LocatedMap, TemplateError


class YamlProblem(Exception):
    """Raised from inside the loader, where only the line is known; becomes a TemplateError."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.detail = detail


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation tags and records where every key is."""


# libyaml's parser (PyYAML's C binding, when it is built) reads a template about six times faster
# than the pure-Python one, with the same marks. Its error messages are worded differently, so a
# template it refuses is read again by the pure-Python loader, whose messages lambench reports.
_FastLoaderBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastTemplateLoader(_FastLoaderBase):  # type: ignore[misc]
    """`_TemplateLoader`'s constructors on libyaml's parser."""


def _line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_map(loader: _TemplateLoader, node: yaml.MappingNode) -> LocatedMap:
    own_pairs = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    # flatten_mapping puts `<<:` merged pairs first; a key may repeat those, but not its siblings.
    inherited = len(node.value) - own_pairs
    result = LocatedMap(_line_of(node))
    own_keys: set[object] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)):
            raise YamlProblem(_line_of(key_node), "a mapping key must be a plain string")
        if index >= inherited:
            if key in own_keys:
                raise YamlProblem(
                    _line_of(key_node), f"duplicate key {key!r} (first on line {result.key_lines[key]})"
                )
            own_keys.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = _line_of(key_node)
    return result


def _construct_list(loader: _TemplateLoader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(_line_of(node))
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(_line_of(item))
    return result


def _construct_intrinsic(loader: _TemplateLoader, node: yaml.Node) -> Intrinsic:
    value: object
    if isinstance(node, yaml.MappingNode):
        value = _construct_map(loader, node)
    elif isinstance(node, yaml.SequenceNode):
        value = _construct_list(loader, node)
    else:
        assert isinstance(node, yaml.ScalarNode)
        value = loader.construct_scalar(node)
    return Intrinsic(INTRINSIC_TAGS[node.tag], value, _line_of(node))


def _construct_unknown_tag(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> object:
    raise YamlProblem(
        _line_of(node), f"unknown tag '!{suffix}'; it is not a CloudFormation intrinsic function"
    )


def _construct_timestamp(loader: _TemplateLoader, node: yaml.ScalarNode) -> str:
    # CloudFormation reads dates such as AWSTemplateFormatVersion as plain strings.
    return str(loader.construct_scalar(node))


for _loader in (_TemplateLoader, _FastTemplateLoader):
    _loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
    _loader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    for _tag in INTRINSIC_TAGS:
        _loader.add_constructor(_tag, _construct_intrinsic)
    _loader.add_multi_constructor("!", _construct_unknown_tag)


def parse(path: Path, data: bytes) -> object:
    """`data`, the bytes of the template at `path`, as located values; any problem is a located
    TemplateError (`path` names the file in it)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TemplateError(path, line, "YAML", f"byte 0x{data[exc.start]:02x} is not UTF-8") from None
    try:
        return yaml.load(text, Loader=_FastTemplateLoader)
    except (yaml.YAMLError, YamlProblem):
        pass  # read again below, for the pure-Python loader's located message
    try:
        return yaml.load(text, Loader=_TemplateLoader)
    except YamlProblem as exc:
        raise TemplateError(path, exc.line, "YAML", exc.detail) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        detail = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            detail += f" ({exc.context} on line {exc.context_mark.line + 1})"
        if "<block" in detail:
            # PyYAML's block tokens mean little to a user; they almost always come from indentation.
            detail += "; check the indentation"
        raise TemplateError(path, line, "YAML", detail) from None
    except ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        character = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or b"\0")
        raise TemplateError(path, line, "YAML", f"character U+{character:04X} is not allowed") from None
    except yaml.YAMLError as exc:
        raise TemplateError(path, 1, "YAML", str(exc)) from None
