"""What reading a SAM template produces (`Project`, `Deployment`), its errors, and its located raw values."""

from __future__ import annotations

from pathlib import Path

from lambench.core.cloud_resources import CloudResource
from lambench.core.config import ConfigError, FunctionConfig
from lambench.core.http.model import HttpFrontDoors
from lambench.core.record import field, record
from lambench.core.runtime.async_config import AsyncConfig
from lambench.core.sources.model import Source

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


class TemplateError(ConfigError):
    """A mistake in a SAM template, located: `<file>:<line>: <property path>: <what is wrong>`."""

    def __init__(self, file: Path, line: int, property_path: str, detail: str) -> None:
        super().__init__(f"{file.name}:{line}: {property_path}: {detail}")
        self.file = file
        self.line = line
        self.property_path = property_path
        self.detail = detail


@record(frozen=True)
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


@record(frozen=True)
class Deployment:
    """How a function is deployed beyond its configuration: concurrency and its published alias.

    `auto_publish_alias` is SAM's AutoPublishAlias: a version is published whenever the code or
    configuration changed and the alias moved to it. `provisioned` is that alias's provisioned
    concurrency (SAM only allows it together with AutoPublishAlias).
    """

    reserved_concurrency: int | None = None
    auto_publish_alias: str | None = None
    provisioned: int | None = None
    #: EventInvokeConfig and DeadLetterQueue: how `Event` invokes retry and where outcomes go.
    async_config: AsyncConfig | None = None


@record
class Project:
    """A directory of Lambda functions, described by a SAM template or by nothing at all.

    `functions` follows the template's order. `extra[name]` holds the function's properties that
    lambench does not interpret (Events, Policies, Tracing, ...) with Globals merged in; `resources`
    holds the template's other resources (tables, queues, layers) by logical id. Both are plain
    dicts and lists, with intrinsic functions kept as `Intrinsic` markers. `sources` are the
    `Events:` lambench runs, read; `warnings` are located lines about what in the template is ignored.
    """

    directory: Path
    template_path: Path | None = None
    functions: dict[str, FunctionConfig] = field(default_factory=dict)
    extra: dict[str, dict[str, object]] = field(default_factory=dict)
    logical_ids: dict[str, str] = field(default_factory=dict)
    resources: dict[str, dict[str, object]] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    cloud_resources: list[CloudResource] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The template's APIs, routes and function URLs (`lambench serve` answers them over HTTP).
    http: HttpFrontDoors = field(default_factory=HttpFrontDoors)

    @property
    def stack_name(self) -> str:
        """What `AWS::StackName` resolves to: the project directory's name."""
        return self.directory.name


class LocatedMap(dict[object, object]):
    """A YAML mapping that remembers the (1-based) line of each of its keys."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[object, int] = {}


class LocatedList(list[object]):
    """A YAML sequence that remembers the (1-based) line of each of its items."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []
