"""Reading a SAM template's functions, layers and deployments into a `Project`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lambench.core import cloud_resources
from lambench.core.config import ConfigError, FunctionConfig, LoggingConfig
from lambench.core.limits import (
    DEFAULT_MEMORY_MB,
    DEFAULT_RUNTIME,
    DEFAULT_TIMEOUT_S,
    EPHEMERAL_MIN_MB,
    NODE_RUNTIMES,
    PYTHON_RUNTIMES,
)
from lambench.core.runtime import errors
from lambench.core.runtime.async_config import AsyncConfig, check_range, destination_kind
from lambench.core.template.model import (
    SERVERLESS_FUNCTION,
    SERVERLESS_LAYER,
    Deployment,
    Project,
    TemplateError,
)
from lambench.core.template.nodes import Node, as_intrinsic, describe, merge, plain_node
from lambench.core.template.routes_reader import HttpRouteReader
from lambench.core.template.values import drop_empty

# The function properties lambench turns into a FunctionConfig; the rest go to Project.extra.
_HANDLED_PROPERTIES = frozenset(
    {
        *("Handler", "Runtime", "CodeUri", "MemorySize", "Timeout", "Environment", "Layers"),
        *("LoggingConfig", "EphemeralStorage", "Architectures", "FunctionName"),
        *("ReservedConcurrentExecutions", "AutoPublishAlias", "ProvisionedConcurrencyConfig"),
        *("EventInvokeConfig", "DeadLetterQueue"),
    }
)
_EVENT_INVOKE_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
#: SAM's destination `Type` to the service its ARN names.
_DESTINATION_TYPES = {"SQS": "sqs", "SNS": "sns", "Lambda": "lambda", "EventBridge": "events"}
_DEAD_LETTER_TYPES = {"SQS": "sqs", "SNS": "sns"}
_DESTINATION_NOUNS = {
    "SQS": "an SQS queue",
    "SNS": "an SNS topic",
    "Lambda": "a Lambda function",
    "EventBridge": "an EventBridge event bus",
}
_ALIAS_NAME_RE = re.compile(r"^(?!\d+$)[a-zA-Z0-9_-]{1,128}$")
_LOGGING_KEYS = {
    "LogFormat": "log_format",
    "ApplicationLogLevel": "application_log_level",
    "SystemLogLevel": "system_log_level",
    "LogGroup": "log_group",
}
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class TemplateReader(HttpRouteReader):
    """Turns one loaded template into a Project's functions, raising located errors."""

    def read(self, project: Project) -> None:
        """Fill `project` with the template's functions, their extra data and other resources."""
        for name in self.overrides:
            if name not in self.parameters:
                raise ConfigError(f"parameter override {name!r}: {self.path.name} has no such parameter")
        functions: list[tuple[object, Node]] = []
        for logical_id, resource in self.resources.items():
            if resource.entries is None:
                raise self.error(
                    resource, f"expected a resource mapping, got {describe(resource, resource.value)}"
                )
            type_node = resource.entries.get("Type")
            if type_node is None:
                raise self.error(self._missing(resource, "Type"), "missing; every resource needs a Type")
            if not isinstance(type_node.value, str) or not type_node.is_scalar:
                raise self.error(
                    type_node, f"expected a resource type, got {describe(type_node, type_node.value)}"
                )
            self.types[logical_id] = type_node.value
            if type_node.value == SERVERLESS_FUNCTION:
                functions.append((logical_id, resource))
                self.function_names[logical_id] = self._function_name(logical_id, resource)
            else:
                project.resources[str(logical_id)] = {
                    str(key): plain_node(child) for key, child in resource.entries.items()
                }
        global_props = self._global_function_properties()
        first_use: dict[str, Node] = {}
        read: list[tuple[str, Node]] = []
        for logical_id, resource in functions:
            props = self._properties(resource)
            if global_props is not None:
                props = merge(global_props, props)
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
            project.sources += self._event_sources(config.name, props, project.warnings)
            read.append((config.name, props))
            assert props.entries is not None
            project.extra[config.name] = {
                str(key): plain_node(child)
                for key, child in props.entries.items()
                if key not in _HANDLED_PROPERTIES
            }
        project.http = self._front_doors(read, project.warnings)
        for logical_id, resource_type in self.types.items():
            if resource_type in cloud_resources.NAME_PROPERTIES:
                project.cloud_resources.append(self._cloud_resource(logical_id, resource_type))

    def _deployment(self, props: Node) -> Deployment:
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
        return Deployment(
            reserved_concurrency=reserved,
            auto_publish_alias=alias,
            provisioned=provisioned,
            async_config=self._async_config(props),
        )

    def _async_config(self, props: Node) -> AsyncConfig | None:
        """SAM's EventInvokeConfig and DeadLetterQueue, as the engine's AsyncConfig (or None)."""
        entries = props.entries
        assert entries is not None
        invoke_node = entries.get("EventInvokeConfig")
        dead_node = entries.get("DeadLetterQueue")
        if invoke_node is None and dead_node is None:
            return None
        settings: dict[str, object] = {}
        if invoke_node is not None:
            invoke = self._mapping(invoke_node, "EventInvokeConfig", _EVENT_INVOKE_KEYS)
            if "MaximumRetryAttempts" in invoke:
                node = invoke["MaximumRetryAttempts"]
                settings["maximum_retry_attempts"] = self._bounded(node, "maximumRetryAttempts", 0, 2)
            if "MaximumEventAgeInSeconds" in invoke:
                node = invoke["MaximumEventAgeInSeconds"]
                settings["maximum_event_age_s"] = self._bounded(node, "maximumEventAgeInSeconds", 60, 21600)
            if "DestinationConfig" in invoke:
                config = self._mapping(
                    invoke["DestinationConfig"], "DestinationConfig", ("OnSuccess", "OnFailure")
                )
                for key, target in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
                    if key in config:
                        settings[target] = self._destination(config[key], _DESTINATION_TYPES)
        if dead_node is not None:
            settings["dead_letter_arn"] = self._destination(
                dead_node, _DEAD_LETTER_TYPES, arn_key="TargetArn"
            )
        return AsyncConfig(**settings)  # type: ignore[arg-type]

    def _bounded(self, node: Node, api_name: str, low: int, high: int) -> int:
        value = self._whole_number(node, 0, f"a number ({low}-{high})")
        try:
            check_range(api_name, value, low, high)
        except errors.LambdaServiceError as exc:
            raise self.error(node, exc.message.split("constraint: ")[-1]) from None
        return value

    def _mapping(self, node: Node, name: str, keys: tuple[str, ...]) -> dict[object, Node]:
        if node.entries is None:
            raise self.error(
                node, f"expected a mapping with {', '.join(keys)}, got {describe(node, node.value)}"
            )
        for key, child in node.entries.items():
            if key not in keys:
                raise self.error(child, f"unknown key in {name}; use {', '.join(keys)}")
        return node.entries

    def _destination(self, node: Node, types: dict[str, str], arn_key: str = "Destination") -> str:
        """The ARN of a destination (`Type` + `Destination`) or dead-letter queue (`Type` + `TargetArn`)."""
        entries = self._mapping(node, node.path.rsplit(".", 1)[-1], ("Type", arn_key))
        type_node = entries.get("Type")
        if type_node is None:
            raise self.error(self._missing(node, "Type"), f"missing; use {', '.join(types)}")
        kind = self._string(type_node, f"one of {', '.join(types)}")
        if kind not in types:
            unsupported = " (lambench has no S3 destinations)" if kind == "S3Bucket" else ""
            raise self.error(
                type_node, f"{kind!r} is not a destination type{unsupported}; use {', '.join(types)}"
            )
        arn_node = entries.get(arn_key)
        if arn_node is None:
            # SAM creates a queue or topic when Destination is left out; lambench does not.
            raise self.error(
                self._missing(node, arn_key),
                "missing; give the ARN (lambench does not create the resource for you)",
            )
        arn = self._string(arn_node, f"the ARN of the {kind} destination")
        if destination_kind(arn) != types[kind]:
            raise self.error(arn_node, f"{arn!r} is not the ARN of {_DESTINATION_NOUNS[kind]}")
        return arn

    def _provisioned(self, node: Node, alias: str | None, reserved: int | None) -> int:
        if node.entries is None:
            detail = describe(node, node.value)
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

    def _whole_number(self, node: Node, low: int, expected: str) -> int:
        value = self._scalar(node, expected)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.error(node, f"expected {expected}, got {describe(node, value)}")
        return value

    def _global_function_properties(self) -> Node | None:
        globals_section = self._section("Globals")
        node = globals_section.get("Function")
        if node is None:
            return None
        if node.entries is None:
            raise self.error(
                node, f"expected a mapping of function properties, got {describe(node, node.value)}"
            )
        if "FunctionName" in node.entries:
            raise self.error(
                node.entries["FunctionName"], "cannot be set in Globals; every function needs its own"
            )
        return Node(node.path, node.line, entries=drop_empty(node.entries))

    def _function_name(self, logical_id: object, resource: Node) -> str:
        props = self._properties(resource)
        assert props.entries is not None
        node = props.entries.get("FunctionName")
        # A computed name (!Sub "${AWS::StackName}-x") would differ per stack; the logical id is stable.
        if node is not None and node.is_scalar and isinstance(node.value, str):
            return node.value
        return str(logical_id)

    def _function(self, logical_id: object, resource: Node, props: Node) -> tuple[FunctionConfig, Node]:
        entries = props.entries
        assert entries is not None
        name = self.function_names[logical_id]
        name_node = entries.get("FunctionName")
        if name_node is None or name_node.value != name:
            name_node = resource
        self._reject_unsupported_packaging(entries)
        # Nodes by the field names ConfigError messages start with, to locate create()'s complaints.
        located: dict[str, Node] = {"FunctionName": name_node}
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
        elif runtime in NODE_RUNTIMES:
            raise self.error(
                self._missing(props, "Handler"),
                "missing; a Node.js function needs a handler such as 'index.handler'",
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
        props: Node,
        located: Mapping[str, Node],
        variable_nodes: Mapping[str, Node],
        layers: Sequence[tuple[Path, Node]],
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

    def _reject_unsupported_packaging(self, entries: Mapping[object, Node]) -> None:
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
        self, node: Node | None, located: dict[str, Node]
    ) -> tuple[dict[str, object], dict[str, Node]]:
        if node is None:
            return {}, {}
        if node.entries is None:
            raise self.error(node, f"expected a mapping with Variables, got {describe(node, node.value)}")
        for key, child in node.entries.items():
            if key != "Variables":
                raise self.error(child, "unknown key; Environment takes only Variables")
        variables = node.entries.get("Variables")
        if variables is None or (variables.is_scalar and variables.value is None):
            return {}, {}
        if variables.entries is None:
            raise self.error(
                variables, f"expected a mapping of NAME: value, got {describe(variables, variables.value)}"
            )
        located["Environment.Variables"] = variables
        values: dict[str, object] = {}
        nodes: dict[str, Node] = {}
        for key, child in variables.entries.items():
            value = self._scalar(child, "a string")
            if value is None:
                raise self.error(child, "has no value; write '' for an empty string")
            values[str(key)] = value
            nodes[str(key)] = child
        return values, nodes

    def _layers(self, node: Node | None) -> list[tuple[Path, Node]]:
        if node is None:
            return []
        if node.items is None:
            raise self.error(node, f"expected a list of layer directories, got {describe(node, node.value)}")
        return [self._layer(item) for item in node.items]

    def _layer(self, item: Node) -> tuple[Path, Node]:
        hint = "use a local directory or a !Ref to an AWS::Serverless::LayerVersion in this template"
        function = as_intrinsic(item.value) if item.is_scalar else None
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

    def _layer_content(self, logical_id: str) -> tuple[Path, Node]:
        resource = self.resources[logical_id]
        props = self._properties(resource)
        assert props.entries is not None
        content = props.entries.get("ContentUri")
        if content is None:
            raise self.error(self._missing(props, "ContentUri"), "missing; a layer needs a local directory")
        return self._local_path(content, "the layer's content"), content

    def _logging(self, node: Node | None, located: dict[str, Node]) -> LoggingConfig | None:
        if node is None:
            return None
        if node.entries is None:
            raise self.error(node, f"expected a mapping, got {describe(node, node.value)}")
        values: dict[str, str] = {}
        for key, child in node.entries.items():
            if key not in _LOGGING_KEYS:
                raise self.error(child, f"unknown key; use {', '.join(_LOGGING_KEYS)}")
            located[f"LoggingConfig.{key}"] = child
            values[_LOGGING_KEYS[str(key)]] = self._string(child, "a string")
        return LoggingConfig(**values)

    def _ephemeral_storage(self, node: Node | None, located: dict[str, Node]) -> object:
        if node is None:
            return None
        if node.entries is None:
            raise self.error(node, f"expected a mapping with Size, got {describe(node, node.value)}")
        for key, child in node.entries.items():
            if key != "Size":
                raise self.error(child, "unknown key; EphemeralStorage takes only Size")
        size = node.entries.get("Size")
        if size is None:
            raise self.error(self._missing(node, "Size"), "missing; give the size in MB (512-10240)")
        located["EphemeralStorage"] = size
        return self._scalar(size, "a number of MB")

    def _architecture(self, node: Node | None, located: dict[str, Node]) -> str:
        if node is None:
            return "x86_64"
        if not node.items:
            raise self.error(
                node, f"expected a list such as [x86_64] or [arm64], got {describe(node, node.value)}"
            )
        located["Architectures"] = node.items[0]
        return self._string(node.items[0], "x86_64 or arm64")

    def _local_path(self, node: Node, what: str) -> Path:
        if node.entries is not None:
            raise self.error(node, f"an S3 location is not supported; lambench needs a local path to {what}")
        value = self._scalar(node, f"a local path to {what}")
        if not isinstance(value, str) or not value:
            raise self.error(node, f"expected a local path to {what}, got {describe(node, value)}")
        if value.startswith("s3://"):
            raise self.error(node, f"{value!r} is an S3 URI; lambench needs a local path to {what}")
        if _URI_SCHEME_RE.match(value):
            raise self.error(node, f"{value!r} is a URI; lambench needs a local path to {what}")
        return self.directory / value
