"""Project discovery: the functions an AWS SAM template declares, as `FunctionConfig`s.

lambench reads the part of the SAM specification that decides how a function runs locally:
Handler, Runtime, CodeUri, MemorySize, Timeout, Environment, Layers, LoggingConfig,
EphemeralStorage, Architectures and FunctionName, with `Globals.Function` merged in the way SAM
merges it. Every other function property is kept raw in `Project.extra` for other features
(event sources, policies) and the template's other resources in `Project.resources`.

Every mistake in a template becomes a `TemplateError` whose message starts with `file:line:` and
the property path, so a user can jump straight to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.reader import ReaderError

from lambench.core import cloud_resources
from lambench.core.cloud_resources import CloudResource
from lambench.core.config import ConfigError, FunctionConfig, LoggingConfig
from lambench.core.limits import (
    DEFAULT_MEMORY_MB,
    DEFAULT_RUNTIME,
    DEFAULT_TIMEOUT_S,
    EPHEMERAL_MIN_MB,
    PYTHON_RUNTIMES,
)

__all__ = [
    "ACCOUNT_ID",
    "INTRINSIC_TAGS",
    "TEMPLATE_NAMES",
    "Intrinsic",
    "Project",
    "TemplateError",
    "adhoc_function",
    "find_template",
    "load_project",
    "parse_env_pairs",
]

#: File names looked for in a project directory, in order of preference (as `sam` does).
TEMPLATE_NAMES = ("template.yaml", "template.yml")
#: The account id lambench reports for `AWS::AccountId` (moto's default account).
ACCOUNT_ID = "123456789012"

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"

#: CloudFormation short-form tags and the long-form key each one stands for.
INTRINSIC_TAGS: dict[str, str] = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in (
            *("Sub", "GetAtt", "If", "Join", "Select", "Split", "FindInMap", "Equals", "Not", "And", "Or"),
            *("ImportValue", "Base64", "Cidr", "GetAZs", "Transform"),
        )
    },
}

# The function properties lambench turns into a FunctionConfig; the rest go to Project.extra.
_HANDLED_PROPERTIES = frozenset(
    {
        *("Handler", "Runtime", "CodeUri", "MemorySize", "Timeout", "Environment", "Layers"),
        *("LoggingConfig", "EphemeralStorage", "Architectures", "FunctionName"),
        *("ReservedConcurrentExecutions", "AutoPublishAlias", "ProvisionedConcurrencyConfig"),
    }
)
_ALIAS_NAME_RE = re.compile(r"^(?!\d+$)[a-zA-Z0-9_-]{1,128}$")
_LOGGING_KEYS = {
    "LogFormat": "log_format",
    "ApplicationLogLevel": "application_log_level",
    "SystemLogLevel": "system_log_level",
    "LogGroup": "log_group",
}
_RESOLVABLE = (
    "!Ref, !Sub and !GetAtt (Arn and names of buckets, queues, tables, topics and functions) "
    "of parameters, resources, AWS::Region, AWS::AccountId and AWS::StackName"
)
_SUB_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NAME_INVALID_RE = re.compile(r"[^A-Za-z0-9_-]+")


class TemplateError(ConfigError):
    """A mistake in a SAM template, located: `<file>:<line>: <property path>: <what is wrong>`."""

    def __init__(self, file: Path, line: int, property_path: str, detail: str) -> None:
        super().__init__(f"{file.name}:{line}: {property_path}: {detail}")
        self.file = file
        self.line = line
        self.property_path = property_path
        self.detail = detail


@dataclass(frozen=True)
class Intrinsic:
    """A CloudFormation intrinsic function as written in the template, e.g. `!GetAtt Table.Arn`.

    `name` is the long-form key (`Ref`, `Condition` or `Fn::...`); `value` is its argument as
    loaded from YAML. `line` is where it was written (0 when unknown).
    """

    name: str
    value: object
    line: int = field(default=0, compare=False)

    @property
    def tag(self) -> str:
        """The short-form tag, e.g. `!GetAtt`."""
        return "!" + self.name.removeprefix("Fn::")

    def __str__(self) -> str:
        argument = self.value if isinstance(self.value, str) else "[...]"
        return f"{self.tag} {argument}"


@dataclass(frozen=True)
class Deployment:
    """How a function is deployed beyond its configuration: concurrency and its published alias.

    `auto_publish_alias` is SAM's AutoPublishAlias: a version is published whenever the code or
    configuration changed and the alias moved to it. `provisioned` is that alias's provisioned
    concurrency (SAM only allows it together with AutoPublishAlias).
    """

    reserved_concurrency: int | None = None
    auto_publish_alias: str | None = None
    provisioned: int | None = None


@dataclass
class Project:
    """A directory of Lambda functions, described by a SAM template or by nothing at all.

    `functions` follows the template's order. `extra[name]` holds the function's properties that
    lambench does not interpret (Events, Policies, Tracing, ...) with Globals merged in; `resources`
    holds the template's other resources (tables, queues, layers) by logical id. Both are plain
    dicts and lists, with intrinsic functions kept as `Intrinsic` markers.
    """

    directory: Path
    template_path: Path | None = None
    functions: dict[str, FunctionConfig] = field(default_factory=dict)
    extra: dict[str, dict[str, object]] = field(default_factory=dict)
    logical_ids: dict[str, str] = field(default_factory=dict)
    resources: dict[str, dict[str, object]] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    cloud_resources: list[CloudResource] = field(default_factory=list)

    @property
    def stack_name(self) -> str:
        """What `AWS::StackName` resolves to: the project directory's name."""
        return self.directory.name


def find_template(project_dir: Path) -> Path | None:
    """The SAM template of `project_dir`, or None when it has none."""
    for name in TEMPLATE_NAMES:
        candidate = project_dir / name
        if candidate.is_file():
            return candidate
    return None


def load_project(
    project_dir: Path | str,
    *,
    region: str = "us-east-1",
    parameter_overrides: Mapping[str, str] | None = None,
) -> Project:
    """Discover the functions of `project_dir` from its `template.yaml` (or `template.yml`).

    `project_dir` may also be the template file itself. A directory without a template is an empty
    project. `parameter_overrides` replace template parameters' defaults, as `sam
    --parameter-overrides` does. Raises `TemplateError` for any mistake in the template.
    """
    path = Path(project_dir).resolve()
    if path.is_file():
        template_path: Path | None = path
        directory = path.parent
    elif path.is_dir():
        directory = path
        template_path = find_template(path)
    else:
        raise ConfigError(f"project directory {path} does not exist")
    project = Project(directory=directory, template_path=template_path)
    if template_path is None:
        if parameter_overrides:
            raise ConfigError(f"parameter overrides need a template; {directory} has none")
        return project
    data = _parse(template_path)
    _TemplateReader(template_path, data, region, directory.name, parameter_overrides or {}).read(project)
    return project


def parse_env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """Turn `["K=V", ...]` into a dict; the value may itself contain `=`, and a later key wins."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"Environment: {pair!r} is not in KEY=VALUE form")
        result[key] = value
    return result


def adhoc_function(
    *,
    handler: str,
    code_dir: str | Path,
    runtime: str = DEFAULT_RUNTIME,
    memory: object = DEFAULT_MEMORY_MB,
    timeout: object = DEFAULT_TIMEOUT_S,
    env: Sequence[str] = (),
    name: str | None = None,
    region: str = "us-east-1",
) -> FunctionConfig:
    """A function described by command-line options rather than a template.

    The name defaults to the handler's module part (`app.handler` -> `app`, `src/api.main` ->
    `src-api`), made into a valid function name.
    """
    return FunctionConfig.create(
        name=name if name is not None else _name_from_handler(handler, Path(code_dir)),
        handler=handler,
        code_dir=code_dir,
        runtime=runtime,
        memory_mb=memory,
        timeout_s=timeout,
        environment=parse_env_pairs(env),
        region=region,
    )


def _name_from_handler(handler: str, code_dir: Path) -> str:
    module = handler.rpartition(".")[0] or handler
    for candidate in (module, code_dir.resolve().name):
        name = _NAME_INVALID_RE.sub("-", candidate).strip("-")[:64]
        if name:
            return name
    return "function"


# --- YAML loading ------------------------------------------------------------------------------


class _YamlMap(dict[object, object]):
    """A YAML mapping that remembers the (1-based) line of each of its keys."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[object, int] = {}


class _YamlList(list[object]):
    """A YAML sequence that remembers the (1-based) line of each of its items."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _YamlProblem(Exception):
    """Raised from inside the loader, where only the line is known; becomes a TemplateError."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.detail = detail


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation tags and records where every key is."""


def _line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_map(loader: _TemplateLoader, node: yaml.MappingNode) -> _YamlMap:
    own_pairs = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    # flatten_mapping puts `<<:` merged pairs first; a key may repeat those, but not its siblings.
    inherited = len(node.value) - own_pairs
    result = _YamlMap(_line_of(node))
    own_keys: set[object] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)):
            raise _YamlProblem(_line_of(key_node), "a mapping key must be a plain string")
        if index >= inherited:
            if key in own_keys:
                raise _YamlProblem(
                    _line_of(key_node), f"duplicate key {key!r} (first on line {result.key_lines[key]})"
                )
            own_keys.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = _line_of(key_node)
    return result


def _construct_list(loader: _TemplateLoader, node: yaml.SequenceNode) -> _YamlList:
    result = _YamlList(_line_of(node))
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
    raise _YamlProblem(
        _line_of(node), f"unknown tag '!{suffix}'; it is not a CloudFormation intrinsic function"
    )


def _construct_timestamp(loader: _TemplateLoader, node: yaml.ScalarNode) -> str:
    # CloudFormation reads dates such as AWSTemplateFormatVersion as plain strings.
    return loader.construct_scalar(node)


_TemplateLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_TemplateLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
for _tag in INTRINSIC_TAGS:
    _TemplateLoader.add_constructor(_tag, _construct_intrinsic)
_TemplateLoader.add_multi_constructor("!", _construct_unknown_tag)


def _parse(path: Path) -> object:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(path, 1, "Template", f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TemplateError(path, line, "YAML", f"byte 0x{data[exc.start]:02x} is not UTF-8") from None
    try:
        return yaml.load(text, Loader=_TemplateLoader)
    except _YamlProblem as exc:
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


# --- Located values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """A template value with where it came from; mappings and lists hold located children.

    Globals merging mixes values from two places, so each value carries its own path and line.
    """

    path: str
    line: int
    value: object = None
    entries: dict[object, _Node] | None = None
    items: list[_Node] | None = None

    @property
    def is_scalar(self) -> bool:
        return self.entries is None and self.items is None


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _as_intrinsic(value: object) -> Intrinsic | None:
    if isinstance(value, Intrinsic):
        return value
    # The long form: a one-key mapping such as {"Ref": "Table"} or {"Fn::GetAtt": [...]}.
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if isinstance(key, str) and (key in ("Ref", "Condition") or key.startswith("Fn::")):
            return Intrinsic(key, value[key], getattr(value, "line", 0))
    return None


def _to_node(raw: object, path: str, line: int) -> _Node:
    if isinstance(raw, _YamlMap) and _as_intrinsic(raw) is None:
        entries = {key: _to_node(value, _join(path, key), raw.key_lines[key]) for key, value in raw.items()}
        return _Node(path, line, raw, entries=entries)
    if isinstance(raw, _YamlList):
        items = [
            _to_node(value, f"{path}[{index}]", item_line)
            for index, (value, item_line) in enumerate(zip(raw, raw.item_lines, strict=True))
        ]
        return _Node(path, line, raw, items=items)
    return _Node(path, line, raw)


def _merge(global_node: _Node, local_node: _Node) -> _Node:
    """SAM's Globals rule: mappings merge key by key, lists concatenate (globals first), else local wins."""
    if global_node.entries is not None and local_node.entries is not None:
        entries = dict(global_node.entries)
        for key, value in local_node.entries.items():
            entries[key] = _merge(entries[key], value) if key in entries else value
        return _Node(local_node.path, local_node.line, entries=entries)
    if global_node.items is not None and local_node.items is not None:
        return _Node(local_node.path, local_node.line, items=[*global_node.items, *local_node.items])
    return local_node


def _plain(value: object) -> object:
    """Raw YAML data as ordinary dicts and lists, keeping intrinsic functions as markers."""
    if isinstance(value, Intrinsic):
        return Intrinsic(value.name, _plain(value.value), value.line)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _plain_node(node: _Node) -> object:
    if node.entries is not None:
        return {key: _plain_node(child) for key, child in node.entries.items()}
    if node.items is not None:
        return [_plain_node(child) for child in node.items]
    return _plain(node.value)


def _describe(node: _Node, value: object = None) -> str:
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


# --- Reading a template ------------------------------------------------------------------------


class _TemplateReader:
    """Turns one loaded template into a Project's functions, raising located errors."""

    def __init__(
        self,
        path: Path,
        data: object,
        region: str,
        stack_name: str,
        overrides: Mapping[str, str],
    ) -> None:
        self.path = path
        self.directory = path.parent
        self.region = region
        self.stack_name = stack_name
        self.overrides = overrides
        if data is None:
            raise TemplateError(
                path, 1, "Template", "the file is empty; expected a SAM template with Resources"
            )
        if not isinstance(data, _YamlMap):
            root = _to_node(data, "Template", 1)
            raise self.error(root, f"expected a mapping of template sections, got {_describe(root, data)}")
        self.root = _to_node(data, "", 1)
        self.parameters = self._section("Parameters")
        self.resources = self._section("Resources", required=True)
        # Logical id -> resource type, and the function name each function resource gets.
        self.types: dict[object, str] = {}
        self.function_names: dict[object, str] = {}
        # Names of the resources created in the embedded account, worked out on first reference.
        self.cloud_names: dict[object, str] = {}
        self._naming: set[object] = set()

    def error(self, node: _Node, detail: str) -> TemplateError:
        """A TemplateError pointing at `node`."""
        return TemplateError(self.path, node.line, node.path, detail)

    def _section(self, key: str, *, required: bool = False) -> dict[object, _Node]:
        assert self.root.entries is not None
        node = self.root.entries.get(key)
        if node is None:
            if required:
                raise TemplateError(self.path, 1, key, "missing; a SAM template declares its functions there")
            return {}
        if node.entries is None:
            raise self.error(node, f"expected a mapping, got {_describe(node, node.value)}")
        return node.entries

    def _missing(self, parent: _Node, key: str) -> _Node:
        # A property that is not there is reported at the mapping that should hold it.
        return _Node(_join(parent.path, key), parent.line)

    def read(self, project: Project) -> None:
        """Fill `project` with the template's functions, their extra data and other resources."""
        for name in self.overrides:
            if name not in self.parameters:
                raise ConfigError(f"parameter override {name!r}: {self.path.name} has no such parameter")
        functions: list[tuple[object, _Node]] = []
        for logical_id, resource in self.resources.items():
            if resource.entries is None:
                raise self.error(
                    resource, f"expected a resource mapping, got {_describe(resource, resource.value)}"
                )
            type_node = resource.entries.get("Type")
            if type_node is None:
                raise self.error(self._missing(resource, "Type"), "missing; every resource needs a Type")
            if not isinstance(type_node.value, str) or not type_node.is_scalar:
                raise self.error(
                    type_node, f"expected a resource type, got {_describe(type_node, type_node.value)}"
                )
            self.types[logical_id] = type_node.value
            if type_node.value == SERVERLESS_FUNCTION:
                functions.append((logical_id, resource))
                self.function_names[logical_id] = self._function_name(logical_id, resource)
            else:
                project.resources[str(logical_id)] = {
                    str(key): _plain_node(child) for key, child in resource.entries.items()
                }
        global_props = self._global_function_properties()
        first_use: dict[str, _Node] = {}
        for logical_id, resource in functions:
            props = self._properties(resource)
            if global_props is not None:
                props = _merge(global_props, props)
            config, name_node = self._function(logical_id, resource, props)
            if config.name in first_use:
                earlier = first_use[config.name]
                raise self.error(
                    name_node,
                    f"function name {config.name!r} is already used by {earlier.path} (line {earlier.line})",
                )
            first_use[config.name] = name_node
            project.functions[config.name] = config
            project.logical_ids[config.name] = str(logical_id)
            project.deployments[config.name] = self._deployment(props)
            assert props.entries is not None
            project.extra[config.name] = {
                str(key): _plain_node(child)
                for key, child in props.entries.items()
                if key not in _HANDLED_PROPERTIES
            }
        for logical_id, resource_type in self.types.items():
            if resource_type in cloud_resources.NAME_PROPERTIES:
                project.cloud_resources.append(self._cloud_resource(logical_id, resource_type))

    def _deployment(self, props: _Node) -> Deployment:
        entries = props.entries
        assert entries is not None
        reserved = None
        if "ReservedConcurrentExecutions" in entries:
            node = entries["ReservedConcurrentExecutions"]
            reserved = self._whole_number(node, 0, "a number of environments (0 or more)")
        alias = None
        if "AutoPublishAlias" in entries:
            node = entries["AutoPublishAlias"]
            alias = self._string(node, "an alias name such as live")
            if not _ALIAS_NAME_RE.match(alias):
                raise self.error(
                    node,
                    f"{alias!r} is not a valid alias name; use letters, digits, - and _, not only digits",
                )
        provisioned = None
        if "ProvisionedConcurrencyConfig" in entries:
            provisioned = self._provisioned(entries["ProvisionedConcurrencyConfig"], alias, reserved)
        return Deployment(reserved_concurrency=reserved, auto_publish_alias=alias, provisioned=provisioned)

    def _provisioned(self, node: _Node, alias: str | None, reserved: int | None) -> int:
        if node.entries is None:
            detail = _describe(node, node.value)
            raise self.error(node, f"expected a mapping with ProvisionedConcurrentExecutions, got {detail}")
        for key, child in node.entries.items():
            if key != "ProvisionedConcurrentExecutions":
                raise self.error(child, "unknown key; use ProvisionedConcurrentExecutions")
        count = node.entries.get("ProvisionedConcurrentExecutions")
        if count is None:
            missing = self._missing(node, "ProvisionedConcurrentExecutions")
            raise self.error(missing, "missing; give a number (1 or more)")
        provisioned = self._whole_number(count, 1, "a number of environments (1 or more)")
        if alias is None:
            # SAM refuses this too: provisioned concurrency needs a version or alias to live on.
            raise self.error(node, "needs AutoPublishAlias on the same function")
        if reserved is not None and provisioned > reserved:
            detail = f"more than the function's ReservedConcurrentExecutions ({reserved})"
            raise self.error(count, f"{provisioned} is {detail}")
        return provisioned

    def _whole_number(self, node: _Node, low: int, expected: str) -> int:
        value = self._scalar(node, expected)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.error(node, f"expected {expected}, got {_describe(node, value)}")
        return value

    def _global_function_properties(self) -> _Node | None:
        globals_section = self._section("Globals")
        node = globals_section.get("Function")
        if node is None:
            return None
        if node.entries is None:
            raise self.error(
                node, f"expected a mapping of function properties, got {_describe(node, node.value)}"
            )
        if "FunctionName" in node.entries:
            raise self.error(
                node.entries["FunctionName"], "cannot be set in Globals; every function needs its own"
            )
        return _Node(node.path, node.line, entries=_drop_empty(node.entries))

    def _properties(self, resource: _Node) -> _Node:
        assert resource.entries is not None
        node = resource.entries.get("Properties")
        if node is None or (node.is_scalar and node.value is None):
            return _Node(_join(resource.path, "Properties"), node.line if node else resource.line, entries={})
        if node.entries is None:
            raise self.error(node, f"expected a mapping of properties, got {_describe(node, node.value)}")
        return _Node(node.path, node.line, entries=_drop_empty(node.entries))

    def _function_name(self, logical_id: object, resource: _Node) -> str:
        props = self._properties(resource)
        assert props.entries is not None
        node = props.entries.get("FunctionName")
        # A computed name (!Sub "${AWS::StackName}-x") would differ per stack; the logical id is stable.
        if node is not None and node.is_scalar and isinstance(node.value, str):
            return node.value
        return str(logical_id)

    def _function(self, logical_id: object, resource: _Node, props: _Node) -> tuple[FunctionConfig, _Node]:
        entries = props.entries
        assert entries is not None
        name = self.function_names[logical_id]
        name_node = entries.get("FunctionName")
        if name_node is None or name_node.value != name:
            name_node = resource
        self._reject_unsupported_packaging(entries)
        # Nodes by the field names ConfigError messages start with, to locate create()'s complaints.
        located: dict[str, _Node] = {"FunctionName": name_node}
        for key in ("Runtime", "Handler", "CodeUri", "MemorySize", "Timeout"):
            if key in entries:
                located[key] = entries[key]

        runtime = DEFAULT_RUNTIME
        if "Runtime" in entries:
            runtime = self._string(entries["Runtime"], "a runtime such as python3.12")
        if "Handler" in entries:
            handler = self._string(entries["Handler"], "a handler such as 'app.handler'")
        elif runtime in PYTHON_RUNTIMES:
            raise self.error(
                self._missing(props, "Handler"),
                "missing; a Python function needs a handler such as 'app.handler'",
            )
        else:
            handler = ""
        code_dir = self.directory
        if "CodeUri" in entries:
            code_dir = self._local_path(entries["CodeUri"], "the function's code")
        memory = self._scalar(entries["MemorySize"], "a number of MB") if "MemorySize" in entries else None
        timeout = self._scalar(entries["Timeout"], "a number of seconds") if "Timeout" in entries else None
        environment, variable_nodes = self._environment(entries.get("Environment"), located)
        layers = self._layers(entries.get("Layers"))
        logging = self._logging(entries.get("LoggingConfig"), located)
        storage = self._ephemeral_storage(entries.get("EphemeralStorage"), located)
        architecture = self._architecture(entries.get("Architectures"), located)
        try:
            config = FunctionConfig.create(
                name=name,
                handler=handler,
                code_dir=code_dir,
                runtime=runtime,
                memory_mb=DEFAULT_MEMORY_MB if memory is None else memory,
                timeout_s=DEFAULT_TIMEOUT_S if timeout is None else timeout,
                environment=environment,
                layers=[path for path, _ in layers],
                ephemeral_storage_mb=EPHEMERAL_MIN_MB if storage is None else storage,
                logging=logging,
                architecture=architecture,
                region=self.region,
            )
        except ConfigError as exc:
            raise self._locate(exc, props, located, variable_nodes, layers) from None
        return config, name_node

    def _locate(
        self,
        exc: ConfigError,
        props: _Node,
        located: Mapping[str, _Node],
        variable_nodes: Mapping[str, _Node],
        layers: Sequence[tuple[Path, _Node]],
    ) -> TemplateError:
        """Re-raise FunctionConfig.create's complaint at the property it is about."""
        field_name, sep, detail = str(exc).partition(": ")
        if not sep:
            field_name, detail = "", str(exc)
        node = located.get(field_name)
        if field_name == "Environment.Variables":
            for key, variable in variable_nodes.items():
                if detail.startswith((f"{key!r} ", f"{key} ")):
                    node = variable
        elif field_name == "Layers":
            for path, layer in layers:
                if detail.startswith(f"{path.resolve()} "):
                    node = layer
                    break
        if node is None:
            node = self._missing(props, field_name) if field_name else props
        return self.error(node, detail)

    def _reject_unsupported_packaging(self, entries: Mapping[object, _Node]) -> None:
        package = entries.get("PackageType")
        if package is not None and package.value == "Image":
            raise self.error(
                package, "container image functions are not supported; lambench runs code from CodeUri"
            )
        if "InlineCode" in entries:
            raise self.error(
                entries["InlineCode"], "not supported; put the code in a directory and point CodeUri at it"
            )

    # --- properties

    def _environment(
        self, node: _Node | None, located: dict[str, _Node]
    ) -> tuple[dict[str, object], dict[str, _Node]]:
        if node is None:
            return {}, {}
        if node.entries is None:
            raise self.error(node, f"expected a mapping with Variables, got {_describe(node, node.value)}")
        for key, child in node.entries.items():
            if key != "Variables":
                raise self.error(child, "unknown key; Environment takes only Variables")
        variables = node.entries.get("Variables")
        if variables is None or (variables.is_scalar and variables.value is None):
            return {}, {}
        if variables.entries is None:
            raise self.error(
                variables, f"expected a mapping of NAME: value, got {_describe(variables, variables.value)}"
            )
        located["Environment.Variables"] = variables
        values: dict[str, object] = {}
        nodes: dict[str, _Node] = {}
        for key, child in variables.entries.items():
            value = self._scalar(child, "a string")
            if value is None:
                raise self.error(child, "has no value; write '' for an empty string")
            values[str(key)] = value
            nodes[str(key)] = child
        return values, nodes

    def _layers(self, node: _Node | None) -> list[tuple[Path, _Node]]:
        if node is None:
            return []
        if node.items is None:
            raise self.error(node, f"expected a list of layer directories, got {_describe(node, node.value)}")
        return [self._layer(item) for item in node.items]

    def _layer(self, item: _Node) -> tuple[Path, _Node]:
        hint = "use a local directory or a !Ref to an AWS::Serverless::LayerVersion in this template"
        function = _as_intrinsic(item.value) if item.is_scalar else None
        if function is None:
            if isinstance(item.value, str) and item.value.startswith("arn:"):
                raise self.error(
                    item, f"{item.value!r} is a layer ARN; lambench cannot download layers, {hint}"
                )
            return self._local_path(item, "the layer"), item
        if function.name == "Ref" and isinstance(function.value, str) and function.value in self.types:
            resource_type = self.types[function.value]
            if resource_type == SERVERLESS_LAYER:
                return self._layer_content(function.value)
            raise self.error(item, f"{function} is a {resource_type}, not a layer; {hint}")
        raise self.error(item, f"{function} cannot be used as a layer; {hint}")

    def _layer_content(self, logical_id: str) -> tuple[Path, _Node]:
        resource = self.resources[logical_id]
        props = self._properties(resource)
        assert props.entries is not None
        content = props.entries.get("ContentUri")
        if content is None:
            raise self.error(self._missing(props, "ContentUri"), "missing; a layer needs a local directory")
        return self._local_path(content, "the layer's content"), content

    def _logging(self, node: _Node | None, located: dict[str, _Node]) -> LoggingConfig | None:
        if node is None:
            return None
        if node.entries is None:
            raise self.error(node, f"expected a mapping, got {_describe(node, node.value)}")
        values: dict[str, str] = {}
        for key, child in node.entries.items():
            if key not in _LOGGING_KEYS:
                raise self.error(child, f"unknown key; use {', '.join(_LOGGING_KEYS)}")
            located[f"LoggingConfig.{key}"] = child
            values[_LOGGING_KEYS[str(key)]] = self._string(child, "a string")
        return LoggingConfig(**values)

    def _ephemeral_storage(self, node: _Node | None, located: dict[str, _Node]) -> object:
        if node is None:
            return None
        if node.entries is None:
            raise self.error(node, f"expected a mapping with Size, got {_describe(node, node.value)}")
        for key, child in node.entries.items():
            if key != "Size":
                raise self.error(child, "unknown key; EphemeralStorage takes only Size")
        size = node.entries.get("Size")
        if size is None:
            raise self.error(self._missing(node, "Size"), "missing; give the size in MB (512-10240)")
        located["EphemeralStorage"] = size
        return self._scalar(size, "a number of MB")

    def _architecture(self, node: _Node | None, located: dict[str, _Node]) -> str:
        if node is None:
            return "x86_64"
        if not node.items:
            raise self.error(
                node, f"expected a list such as [x86_64] or [arm64], got {_describe(node, node.value)}"
            )
        located["Architectures"] = node.items[0]
        return self._string(node.items[0], "x86_64 or arm64")

    def _local_path(self, node: _Node, what: str) -> Path:
        if node.entries is not None:
            raise self.error(node, f"an S3 location is not supported; lambench needs a local path to {what}")
        value = self._scalar(node, f"a local path to {what}")
        if not isinstance(value, str) or not value:
            raise self.error(node, f"expected a local path to {what}, got {_describe(node, value)}")
        if value.startswith("s3://"):
            raise self.error(node, f"{value!r} is an S3 URI; lambench needs a local path to {what}")
        if _URI_SCHEME_RE.match(value):
            raise self.error(node, f"{value!r} is a URI; lambench needs a local path to {what}")
        return self.directory / value

    # --- values and intrinsic functions

    def _string(self, node: _Node, expected: str) -> str:
        value = self._scalar(node, expected)
        if not isinstance(value, str):
            raise self.error(node, f"expected {expected}, got {_describe(node, value)}")
        return value

    def _scalar(self, node: _Node, expected: str) -> object:
        if not node.is_scalar:
            raise self.error(node, f"expected {expected}, got {_describe(node)}")
        return self._evaluate(node.value, node)

    def _evaluate(self, value: object, node: _Node) -> object:
        function = _as_intrinsic(value)
        if function is None:
            if isinstance(value, (dict, list)):
                raise self.error(
                    node,
                    f"expected a single value, got {'a mapping' if isinstance(value, dict) else 'a list'}",
                )
            return value
        if function.name == "Ref":
            return self._ref(function, node)
        if function.name == "Fn::Sub":
            return self._sub(function, node)
        if function.name == "Fn::GetAtt":
            return self._get_att(function.value, node)
        raise self.error(node, f"{function} cannot be resolved locally; lambench resolves only {_RESOLVABLE}")

    def _ref(self, function: Intrinsic, node: _Node) -> object:
        target = function.value
        if not isinstance(target, str) or not target:
            raise self.error(node, f"!Ref needs the name of a parameter or resource, got {target!r}")
        return self._lookup(target, node, f"!Ref {target}")

    def _lookup(self, name: str, node: _Node, written: str) -> object:
        if name in self.overrides:
            return self.overrides[name]
        if name in self.parameters:
            parameter = self.parameters[name]
            default = parameter.entries.get("Default") if parameter.entries is not None else None
            if default is None or (default.is_scalar and default.value is None):
                raise self.error(
                    node, f"{written}: parameter {name} has no Default; give it one or override it"
                )
            if not default.is_scalar or _as_intrinsic(default.value) is not None:
                raise self.error(default, f"expected a plain value, got {_describe(default, default.value)}")
            return default.value
        pseudo = self._pseudo_parameter(name)
        if pseudo is not None:
            return pseudo
        if name.startswith("AWS::"):
            raise self.error(
                node, f"{written}: {name} cannot be resolved locally; lambench resolves only {_RESOLVABLE}"
            )
        if name in self.types:
            resource_type = self.types[name]
            if resource_type in cloud_resources.NAME_PROPERTIES:
                return cloud_resources.ref_value(
                    resource_type, self._cloud_name(name, node), self.region, ACCOUNT_ID
                )
            # A function's reference is its function name, which is what lambench registers it under.
            return self.function_names.get(name, name)
        raise self.error(node, f"{written}: {name} is not a parameter or resource of this template")

    def _pseudo_parameter(self, name: str) -> str | None:
        partition = cloud_resources.partition(self.region)
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        }.get(name)

    def _sub(self, function: Intrinsic, node: _Node) -> str:
        argument = function.value
        variables: Mapping[object, object] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            argument, variables = argument[0], argument[1]
        if not isinstance(argument, str):
            raise self.error(node, "!Sub needs a string, or a list of a string and a mapping of variables")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self._evaluate(variables[name], node)
            elif "." in name:
                value = self._get_att(name, node)
            else:
                value = self._lookup(name, node, f"!Sub ${{{name}}}")
            if isinstance(value, (dict, list)) or value is None:
                raise self.error(node, f"!Sub ${{{name}}}: expected a single value")
            return str(value).lower() if isinstance(value, bool) else str(value)

        return _SUB_VARIABLE_RE.sub(substitute, argument)

    def _get_att(self, argument: object, node: _Node) -> str:
        if isinstance(argument, str) and "." in argument:
            logical_id, _, attr = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
            logical_id, attr = argument
        else:
            raise self.error(node, f"!GetAtt needs Resource.Attribute, got {argument!r}")
        written = f"!GetAtt {logical_id}.{attr}"
        resource_type = self.types.get(logical_id)
        if resource_type is None:
            raise self.error(node, f"{written}: {logical_id} is not a resource of this template")
        if resource_type == SERVERLESS_FUNCTION:
            name = self.function_names[logical_id]
        elif resource_type in cloud_resources.NAME_PROPERTIES:
            name = self._cloud_name(logical_id, node)
        else:
            name = logical_id
        value = cloud_resources.attribute(resource_type, name, attr, self.region, ACCOUNT_ID)
        if value is None:
            known = ", ".join(cloud_resources.ATTRIBUTES.get(resource_type, ())) or "none"
            raise self.error(
                node,
                f"{written}: lambench cannot resolve this attribute of a {resource_type} locally "
                f"(it resolves: {known})",
            )
        return value

    def _cloud_name(self, logical_id: object, node: _Node) -> str:
        """The physical name of a bucket, queue, table or topic: its name property or its logical id."""
        if logical_id in self.cloud_names:
            return self.cloud_names[logical_id]
        if logical_id in self._naming:
            raise self.error(node, f"{logical_id}'s name refers to itself")
        self._naming.add(logical_id)
        resource_type = self.types[logical_id]
        props = self._properties(self.resources[logical_id])
        assert props.entries is not None
        name_node = props.entries.get(cloud_resources.NAME_PROPERTIES[resource_type])
        if name_node is not None:
            name = self._string(name_node, "a name")
        else:
            fifo = props.entries.get("FifoQueue")
            is_fifo = fifo is not None and self._scalar(fifo, "true or false") in (True, "true")
            name = cloud_resources.default_name(resource_type, str(logical_id), fifo=is_fifo)
        self._naming.discard(logical_id)
        self.cloud_names[logical_id] = name
        return name

    def _cloud_resource(self, logical_id: object, resource_type: str) -> CloudResource:
        props = self._properties(self.resources[logical_id])
        assert props.entries is not None
        used = cloud_resources.USED_PROPERTIES[resource_type]
        return CloudResource(
            logical_id=str(logical_id),
            type=resource_type,
            name=self._cloud_name(logical_id, props),
            properties={
                str(key): self._resolve(child) for key, child in props.entries.items() if key in used
            },
        )

    def _resolve(self, node: _Node) -> object:
        """A property tree with every intrinsic function evaluated."""
        if node.entries is not None:
            if _as_intrinsic(_plain_node(node)) is not None:
                return self._evaluate(_plain_node(node), node)
            return {key: self._resolve(child) for key, child in node.entries.items()}
        if node.items is not None:
            return [self._resolve(child) for child in node.items]
        return self._evaluate(node.value, node)


def _drop_empty(entries: Mapping[object, _Node]) -> dict[object, _Node]:
    # `MemorySize:` with nothing after it means the same as leaving the property out.
    return {key: node for key, node in entries.items() if not (node.is_scalar and node.value is None)}
