"""A template's sections and the values in them: parameters, pseudo parameters, and the intrinsic
functions lambench resolves locally (`!Ref`, `!Sub`, `!GetAtt`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from lambench.core import cloud_resources
from lambench.core.cloud_resources import CloudResource
from lambench.core.template.model import ACCOUNT_ID, SERVERLESS_FUNCTION, Intrinsic, LocatedMap, TemplateError
from lambench.core.template.nodes import Node, as_intrinsic, describe, join, plain_node, to_node

#: What the errors about unresolvable values say lambench can resolve.
RESOLVABLE = (
    "!Ref, !Sub and !GetAtt (Arn and names of buckets, queues, tables, topics and functions) "
    "of parameters, resources, AWS::Region, AWS::AccountId and AWS::StackName"
)
_SUB_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")


class TemplateValues:
    """One loaded template's sections, and its values resolved; every error is located."""

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
        if not isinstance(data, LocatedMap):
            root = to_node(data, "Template", 1)
            raise self.error(root, f"expected a mapping of template sections, got {describe(root, data)}")
        self.root = to_node(data, "", 1)
        self.parameters = self._section("Parameters")
        self.resources = self._section("Resources", required=True)
        # Logical id -> resource type, and the function name each function resource gets.
        self.types: dict[object, str] = {}
        self.function_names: dict[object, str] = {}
        # Names of the resources created in the embedded account, worked out on first reference.
        self.cloud_names: dict[object, str] = {}
        self._naming: set[object] = set()

    def error(self, node: Node, detail: str) -> TemplateError:
        """A TemplateError pointing at `node`."""
        return TemplateError(self.path, node.line, node.path, detail)

    def _section(self, key: str, *, required: bool = False) -> dict[object, Node]:
        assert self.root.entries is not None
        node = self.root.entries.get(key)
        if node is None:
            if required:
                raise TemplateError(self.path, 1, key, "missing; a SAM template declares its functions there")
            return {}
        if node.entries is None:
            raise self.error(node, f"expected a mapping, got {describe(node, node.value)}")
        return node.entries

    def _missing(self, parent: Node, key: str) -> Node:
        # A property that is not there is reported at the mapping that should hold it.
        return Node(join(parent.path, key), parent.line)

    def _properties(self, resource: Node) -> Node:
        assert resource.entries is not None
        node = resource.entries.get("Properties")
        if node is None or (node.is_scalar and node.value is None):
            return Node(join(resource.path, "Properties"), node.line if node else resource.line, entries={})
        if node.entries is None:
            raise self.error(node, f"expected a mapping of properties, got {describe(node, node.value)}")
        return Node(node.path, node.line, entries=drop_empty(node.entries))

    def _string(self, node: Node, expected: str) -> str:
        value = self._scalar(node, expected)
        if not isinstance(value, str):
            raise self.error(node, f"expected {expected}, got {describe(node, value)}")
        return value

    def _scalar(self, node: Node, expected: str) -> object:
        if not node.is_scalar:
            raise self.error(node, f"expected {expected}, got {describe(node)}")
        return self._evaluate(node.value, node)

    def _evaluate(self, value: object, node: Node) -> object:
        function = as_intrinsic(value)
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
        raise self.error(node, f"{function} cannot be resolved locally; lambench resolves only {RESOLVABLE}")

    def _ref(self, function: Intrinsic, node: Node) -> object:
        target = function.value
        if not isinstance(target, str) or not target:
            raise self.error(node, f"!Ref needs the name of a parameter or resource, got {target!r}")
        return self._lookup(target, node, f"!Ref {target}")

    def _lookup(self, name: str, node: Node, written: str) -> object:
        if name in self.overrides:
            return self.overrides[name]
        if name in self.parameters:
            parameter = self.parameters[name]
            default = parameter.entries.get("Default") if parameter.entries is not None else None
            if default is None or (default.is_scalar and default.value is None):
                raise self.error(
                    node, f"{written}: parameter {name} has no Default; give it one or override it"
                )
            if not default.is_scalar or as_intrinsic(default.value) is not None:
                raise self.error(default, f"expected a plain value, got {describe(default, default.value)}")
            return default.value
        pseudo = self._pseudo_parameter(name)
        if pseudo is not None:
            return pseudo
        if name.startswith("AWS::"):
            raise self.error(
                node, f"{written}: {name} cannot be resolved locally; lambench resolves only {RESOLVABLE}"
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

    def _sub(self, function: Intrinsic, node: Node) -> str:
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

    def _get_att(self, argument: object, node: Node) -> str:
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

    def _cloud_name(self, logical_id: object, node: Node) -> str:
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

    def _resolve(self, node: Node) -> object:
        """A property tree with every intrinsic function evaluated."""
        if node.entries is not None:
            if as_intrinsic(plain_node(node)) is not None:
                return self._evaluate(plain_node(node), node)
            return {key: self._resolve(child) for key, child in node.entries.items()}
        if node.items is not None:
            return [self._resolve(child) for child in node.items]
        return self._evaluate(node.value, node)


def drop_empty(entries: Mapping[object, Node]) -> dict[object, Node]:
    # `MemorySize:` with nothing after it means the same as leaving the property out.
    return {key: node for key, node in entries.items() if not (node.is_scalar and node.value is None)}
