"""Tests for SAM template discovery (`lambench.core.template`) and the demo project's template."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from lambench.core.config import ConfigError, FunctionConfig, LoggingConfig
from lambench.core.template import (
    ACCOUNT_ID,
    INTRINSIC_TAGS,
    Deployment,
    Intrinsic,
    TemplateError,
    adhoc_function,
    find_template,
    load_project,
    parse_env_pairs,
)

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo_functions"


def write_project(
    root: Path, template: str, dirs: Sequence[str] = ("src",), name: str = "template.yaml"
) -> Path:
    """Write `template` (dedented) into `root` and create the code directories it names."""
    for directory in dirs:
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / name).write_text(textwrap.dedent(template))
    return root


def load_error(root: Path) -> str:
    """The message of the TemplateError that loading `root` raises."""
    with pytest.raises(TemplateError) as info:
        load_project(root)
    return str(info.value)


def one_function(root: Path, properties: str, *, preamble: str = "", dirs: Sequence[str] = ("src",)) -> str:
    """Write a template whose one function `Fn` has `properties`; returns the template's text.

    The first property is on line 5, plus the number of lines in `preamble`.
    """
    body = textwrap.indent(textwrap.dedent(properties), " " * 6)
    text = (
        textwrap.dedent(preamble)
        + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
    )
    write_project(root, text + body, dirs)
    return text + body


# --- the demo project --------------------------------------------------------------------------

DEMO_EXPECTED = {
    # name: (folder, handler, memory, timeout, own environment variables)
    "hello": ("hello", "app.lambda_handler", 128, 3, {}),
    "api": ("api", "app.lambda_handler", 128, 3, {}),
    "greeter": ("greeter", "index.handler", 128, 3, {}),
    "s3-processor": ("s3-processor", "app.handler", 128, 3, {}),
    "sqs-batch": ("sqs-batch", "app.handler", 128, 3, {}),
    "ticker": (
        "ticker",
        "app.handler",
        128,
        3,
        {"JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/JobsQueue"},
    ),
    "heavy-init": ("heavy-init", "app.handler", 128, 3, {"INIT_SLEEP_MS": "800"}),
    "slow": ("slow", "app.handler", 128, 10, {"SLEEP_MS": "500"}),
    "flaky": ("flaky", "app.handler", 128, 3, {"FAIL_RATE": "0.3"}),
    "timeout": ("timeout", "app.handler", 128, 2, {}),
    "memory-hog": ("memory-hog", "app.handler", 128, 3, {}),
    "logger": ("logger", "app.handler", 128, 3, {}),
    "orders": ("orders", "app.handler", 128, 3, {"TABLE_NAME": "OrdersTable"}),
    "crunch": ("crunch", "app.handler", 128, 30, {}),
}


@pytest.fixture(scope="module")
def demo() -> dict[str, FunctionConfig]:
    project = load_project(DEMO_DIR)
    assert project.template_path == DEMO_DIR / "template.yaml"
    return project.functions


def test_demo_lists_every_function_in_template_order(demo: dict[str, FunctionConfig]) -> None:
    assert list(demo) == list(DEMO_EXPECTED)


@pytest.mark.parametrize("name", list(DEMO_EXPECTED))
def test_demo_function_config(demo: dict[str, FunctionConfig], name: str) -> None:
    folder, handler, memory, timeout, own_env = DEMO_EXPECTED[name]
    function = demo[name]
    assert function.name == name
    assert function.handler == handler
    assert function.memory_mb == memory
    assert function.timeout_s == timeout
    # Every demo function is Python but greeter, the Node.js one (an ES module).
    node = name == "greeter"
    assert function.runtime == ("nodejs20.x" if node else "python3.12")
    assert function.architecture == "x86_64"
    assert function.code_dir == DEMO_DIR / folder
    module = handler.partition(".")[0]
    assert (function.code_dir / f"{module}{'.mjs' if node else '.py'}").is_file()
    # STAGE comes from Globals (!Ref Stage, default dev) and is merged with the function's own.
    assert dict(function.environment) == {"STAGE": "dev", **own_env}
    assert function.layers == ()


def test_demo_logging_config(demo: dict[str, FunctionConfig]) -> None:
    assert demo["logger"].logging == LoggingConfig(log_format="JSON", application_log_level="DEBUG")
    assert demo["logger"].logging.effective_application_level() == "DEBUG"
    others = [function.logging for name, function in demo.items() if name != "logger"]
    assert others == [LoggingConfig()] * (len(DEMO_EXPECTED) - 1)


def test_demo_keeps_events_and_other_resources_raw() -> None:
    project = load_project(DEMO_DIR)
    events = project.extra["sqs-batch"]["Events"]
    assert events == {
        "Jobs": {
            "Type": "SQS",
            "Properties": {
                "Queue": Intrinsic("Fn::GetAtt", "JobsQueue.Arn"),
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        }
    }
    assert project.extra["orders"]["Policies"] == [
        {"DynamoDBCrudPolicy": {"TableName": Intrinsic("Ref", "OrdersTable")}}
    ]
    assert set(project.extra["hello"]) == {"Events"}
    assert project.resources["OrdersTable"]["Type"] == "AWS::DynamoDB::Table"
    assert set(project.resources) == {"OrdersTable", "UploadsBucket", "JobsQueue", "JobsDeadLetters"}
    assert project.logical_ids["hello"] == "HelloFunction"
    assert project.stack_name == "demo_functions"


# --- discovery ---------------------------------------------------------------------------------


def test_directory_without_template_is_an_empty_project(tmp_path: Path) -> None:
    project = load_project(tmp_path)
    assert project.directory == tmp_path.resolve()
    assert project.template_path is None
    assert project.functions == {}
    assert find_template(tmp_path) is None


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path / "nope")


def test_template_yml_and_template_file_paths(tmp_path: Path) -> None:
    template = """\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src
              Handler: app.handler
        """
    write_project(tmp_path, template, name="template.yml")
    assert list(load_project(tmp_path).functions) == ["Fn"]
    by_file = load_project(tmp_path / "template.yml")
    assert by_file.directory == tmp_path.resolve()
    assert list(by_file.functions) == ["Fn"]
    # template.yaml wins over template.yml, as with sam.
    write_project(tmp_path, template.replace("Fn:", "Other:"))
    assert list(load_project(tmp_path).functions) == ["Other"]


def test_defaults_code_dir_and_function_names(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        Resources:
          Plain:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
          Named:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: my-function
              CodeUri: ./src/
              Handler: app.handler
          Computed:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: !Sub "${AWS::StackName}-computed"
              CodeUri: src
              Handler: app.handler
          Table:
            Type: AWS::DynamoDB::Table
        """,
    )
    project = load_project(tmp_path)
    assert list(project.functions) == ["Plain", "my-function", "Computed"]
    plain = project.functions["Plain"]
    assert plain.code_dir == tmp_path.resolve()
    assert (plain.runtime, plain.memory_mb, plain.timeout_s, plain.ephemeral_storage_mb) == (
        "python3.12",
        128,
        3,
        512,
    )
    assert project.functions["my-function"].code_dir == (tmp_path / "src").resolve()
    assert project.logical_ids == {"Plain": "Plain", "my-function": "Named", "Computed": "Computed"}


def test_every_property_is_read(tmp_path: Path) -> None:
    one_function(
        tmp_path,
        """\
        CodeUri: src
        Handler: pkg.module.handler
        Runtime: python3.11
        MemorySize: 1024
        Timeout: 30
        EphemeralStorage:
          Size: 2048
        Architectures: [arm64]
        LoggingConfig:
          LogFormat: JSON
          ApplicationLogLevel: WARN
          SystemLogLevel: DEBUG
          LogGroup: /custom/group
        Environment:
          Variables:
            NUMBER: 42
            FLAG: true
        Tracing: Active
        ReservedConcurrentExecutions: 5
        """,
    )
    project = load_project(tmp_path, region="eu-west-1")
    function = project.functions["Fn"]
    assert function.handler == "pkg.module.handler"
    assert function.runtime == "python3.11"
    assert (function.memory_mb, function.timeout_s, function.ephemeral_storage_mb) == (1024, 30, 2048)
    assert function.architecture == "arm64"
    assert function.region == "eu-west-1"
    assert function.logging == LoggingConfig("JSON", "WARN", "DEBUG", "/custom/group")
    assert function.log_group == "/custom/group"
    assert dict(function.environment) == {"NUMBER": "42", "FLAG": "true"}
    assert project.extra["Fn"] == {"Tracing": "Active"}
    assert project.deployments["Fn"].reserved_concurrency == 5


def test_custom_runtime_needs_no_handler(tmp_path: Path) -> None:
    one_function(tmp_path, "CodeUri: src\nRuntime: provided.al2023\n")
    function = load_project(tmp_path).functions["Fn"]
    assert function.is_custom_runtime
    assert function.handler == ""


# --- Globals -----------------------------------------------------------------------------------


def test_globals_merge_under_each_function(tmp_path: Path) -> None:
    for layer in ("layers/common", "layers/own"):
        (tmp_path / layer).mkdir(parents=True)
    write_project(
        tmp_path,
        """\
        Globals:
          Function:
            Runtime: python3.13
            Handler: app.handler
            CodeUri: src
            MemorySize: 256
            Timeout: 20
            Layers: [layers/common]
            LoggingConfig:
              LogFormat: JSON
            Environment:
              Variables:
                SHARED: from-globals
                OVERRIDDEN: from-globals
          Api:
            Cors: "'*'"
        Resources:
          First:
            Type: AWS::Serverless::Function
            Properties:
              Timeout: 5
              Layers: [layers/own]
              LoggingConfig:
                ApplicationLogLevel: ERROR
              Environment:
                Variables:
                  OVERRIDDEN: from-function
                  OWN: "1"
          Second:
            Type: AWS::Serverless::Function
        """,
    )
    first, second = load_project(tmp_path).functions.values()
    assert first.runtime == second.runtime == "python3.13"
    assert first.memory_mb == second.memory_mb == 256
    assert (first.timeout_s, second.timeout_s) == (5, 20)
    assert dict(first.environment) == {"SHARED": "from-globals", "OVERRIDDEN": "from-function", "OWN": "1"}
    assert dict(second.environment) == {"SHARED": "from-globals", "OVERRIDDEN": "from-globals"}
    # SAM concatenates lists, the Globals entries first.
    assert first.layers == ((tmp_path / "layers/common").resolve(), (tmp_path / "layers/own").resolve())
    assert second.layers == ((tmp_path / "layers/common").resolve(),)
    assert first.logging == LoggingConfig(log_format="JSON", application_log_level="ERROR")
    assert second.logging == LoggingConfig(log_format="JSON")


def test_globals_errors_point_into_globals(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        Globals:
          Function:
            Timeout: 901
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
        """,
    )
    assert (
        load_error(tmp_path)
        == "template.yaml:3: Globals.Function.Timeout: 901 is out of range; use 1-900 seconds"
    )


def test_function_name_in_globals_is_rejected(tmp_path: Path) -> None:
    write_project(tmp_path, "Globals:\n  Function:\n    FunctionName: x\nResources: {}\n")
    assert load_error(tmp_path) == (
        "template.yaml:3: Globals.Function.FunctionName: cannot be set in Globals; "
        "every function needs its own"
    )


# --- intrinsic functions -----------------------------------------------------------------------


def test_every_short_form_tag_loads_as_a_marker(tmp_path: Path) -> None:
    tags = "\n".join(f"  T{index}: {tag} [a, b]" for index, tag in enumerate(INTRINSIC_TAGS))
    one_function(tmp_path, f"Handler: app.handler\nCodeUri: src\nTags:\n{tags}\n")
    assert len(INTRINSIC_TAGS) == 18
    loaded = load_project(tmp_path).extra["Fn"]["Tags"]
    assert isinstance(loaded, dict)
    assert [(value.tag, value.name, value.value) for value in loaded.values()] == [
        (tag, name, ["a", "b"]) for tag, name in INTRINSIC_TAGS.items()
    ]


def test_tags_in_conditions_and_outputs_load(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          NotProd: !Not [!Condition IsProd]
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src
              Handler: app.handler
        Outputs:
          Zone:
            Value: !Select [0, !GetAZs ""]
          Joined:
            Value: !Join ["-", !Split [",", "a,b"]]
          Mapped:
            Value: !If [IsProd, !FindInMap [Map, !Ref "AWS::Region", Key], !ImportValue Other]
          Encoded:
            Value: !Base64 {"Fn::Sub": "${AWS::StackName}"}
        """,
    )
    assert list(load_project(tmp_path).functions) == ["Fn"]


def test_environment_intrinsics_are_resolved(tmp_path: Path) -> None:
    one_function(
        tmp_path,
        """\
        CodeUri: src
        Handler: app.handler
        Environment:
          Variables:
            PARAM: !Ref Stage
            NUMBER_PARAM: !Ref Retries
            TABLE: !Ref Table
            OTHER_FUNCTION: !Ref Other
            REGION: !Ref AWS::Region
            URL: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"
            ARN: !Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-${Table}
            LITERAL: !Sub "${!NotReplaced}"
            WITH_VARIABLES: !Sub ["${Prefix}-${Stage}", {Prefix: !Ref Table}]
            LONG_FORM: {"Fn::Sub": "${Stage}!"}
        """,
        preamble="""\
        Parameters:
          Stage:
            Type: String
            Default: dev
          Retries:
            Type: Number
            Default: 3
        """,
    )
    with (tmp_path / "template.yaml").open("a") as template:
        template.write(
            "  Table:\n    Type: AWS::DynamoDB::Table\n  Api:\n    Type: AWS::Serverless::Api\n"
            "  Other:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      FunctionName: other-name\n      CodeUri: src\n      Handler: app.handler\n"
        )
    env = load_project(tmp_path, region="eu-west-1").functions["Fn"].environment
    stack = tmp_path.resolve().name
    assert dict(env) == {
        "PARAM": "dev",
        "NUMBER_PARAM": "3",
        "TABLE": "Table",
        "OTHER_FUNCTION": "other-name",
        "REGION": "eu-west-1",
        "URL": "https://Api.execute-api.eu-west-1.amazonaws.com/dev",
        "ARN": f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:{stack}-Table",
        "LITERAL": "${NotReplaced}",
        "WITH_VARIABLES": "Table-dev",
        "LONG_FORM": "dev!",
    }
    overridden = load_project(tmp_path, parameter_overrides={"Stage": "prod"}).functions["Fn"].environment
    assert overridden["PARAM"] == "prod"
    assert overridden["URL"] == "https://Api.execute-api.us-east-1.amazonaws.com/prod"


def test_other_properties_accept_parameter_refs(tmp_path: Path) -> None:
    one_function(
        tmp_path,
        "CodeUri: src\nHandler: app.handler\nMemorySize: !Ref Memory\nTimeout: !Ref Timeout\n",
        preamble="Parameters:\n  Memory:\n    Type: Number\n    Default: 512\n  Timeout:\n    Default: '7'\n",
    )
    function = load_project(tmp_path).functions["Fn"]
    assert (function.memory_mb, function.timeout_s) == (512, 7)


def test_stack_name_is_the_directory_name(tmp_path: Path) -> None:
    root = tmp_path / "shop-backend"
    root.mkdir()
    one_function(
        root,
        'CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variables:\n    S: !Sub "${AWS::StackName}"\n',
    )
    project = load_project(root)
    assert project.stack_name == "shop-backend"
    assert project.functions["Fn"].environment["S"] == "shop-backend"


RESOLVABLE = (
    "!Ref, !Sub and !GetAtt (Arn and names of buckets, queues, tables, topics and functions) "
    "of parameters, resources, AWS::Region, AWS::AccountId and AWS::StackName"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!Ref Table", "Orders"),
        ("!GetAtt Table.Arn", "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"),
        ('!Sub "${Table.Arn}/index/*"', "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/index/*"),
        ("!Ref Queue", "https://sqs.us-east-1.amazonaws.com/123456789012/Queue.fifo"),
        ("!GetAtt [Queue, Arn]", "arn:aws:sqs:us-east-1:123456789012:Queue.fifo"),
        ("!GetAtt Queue.QueueName", "Queue.fifo"),
        ("!Ref Topic", "arn:aws:sns:us-east-1:123456789012:Topic"),
        ("!GetAtt Topic.TopicName", "Topic"),
        ("!Ref Bucket", "uploads-2"),
        ("!GetAtt Bucket.Arn", "arn:aws:s3:::uploads-2"),
        ("!GetAtt Fn.Arn", "arn:aws:lambda:us-east-1:123456789012:function:Fn"),
    ],
)
def test_resource_references_resolve_as_cloudformation_does(
    tmp_path: Path, value: str, expected: str
) -> None:
    one_function(
        tmp_path,
        f"CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variables:\n    V: {value}\n",
        preamble="Parameters:\n  Stage:\n    Type: String\n    Default: x\n",
    )
    with (tmp_path / "template.yaml").open("a") as template:
        template.write(
            "  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !Sub '${Stage}'\n"
            "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n"
            "  Topic:\n    Type: AWS::SNS::Topic\n"
            "  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: uploads-2\n"
        )
    project = load_project(tmp_path, parameter_overrides={"Stage": "Orders"})
    assert project.functions["Fn"].environment["V"] == expected
    names = {resource.logical_id: resource.name for resource in project.cloud_resources}
    assert names == {"Table": "Orders", "Queue": "Queue.fifo", "Topic": "Topic", "Bucket": "uploads-2"}


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            "!GetAtt Table.Bogus",
            "!GetAtt Table.Bogus: lambench cannot resolve this attribute of a AWS::DynamoDB::Table "
            "locally (it resolves: Arn, StreamArn)",
        ),
        (
            '!Sub "${Table.Nope}/index"',
            "!GetAtt Table.Nope: lambench cannot resolve this attribute of a AWS::DynamoDB::Table "
            "locally (it resolves: Arn, StreamArn)",
        ),
        ("!GetAtt Ghost.Arn", "!GetAtt Ghost.Arn: Ghost is not a resource of this template"),
        ("!If [a, b, c]", "!If [...] cannot be resolved locally; lambench resolves only " + RESOLVABLE),
        ("!Ref Missing", "!Ref Missing: Missing is not a parameter or resource of this template"),
        ("!Sub ${Missing}", "!Sub ${Missing}: Missing is not a parameter or resource of this template"),
        (
            "!Ref NoDefault",
            "!Ref NoDefault: parameter NoDefault has no Default; give it one or override it",
        ),
        (
            "!Ref AWS::NoValue",
            "!Ref AWS::NoValue: AWS::NoValue cannot be resolved locally; lambench resolves only "
            + RESOLVABLE,
        ),
        ("[a, b]", "expected a string, got a list"),
        ("{Key: value}", "expected a string, got a mapping"),
        ("", "has no value; write '' for an empty string"),
    ],
)
def test_unresolvable_environment_values_name_the_variable(tmp_path: Path, value: str, detail: str) -> None:
    one_function(
        tmp_path,
        f"CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variables:\n    OK: fine\n    BAD: {value}\n",
        preamble="Parameters:\n  NoDefault:\n    Type: String\n",
    )
    with (tmp_path / "template.yaml").open("a") as template:
        template.write("  Table:\n    Type: AWS::DynamoDB::Table\n")
    assert (
        load_error(tmp_path)
        == f"template.yaml:13: Resources.Fn.Properties.Environment.Variables.BAD: {detail}"
    )


def test_empty_parameter_default_counts_as_none(tmp_path: Path) -> None:
    one_function(
        tmp_path,
        "CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variables:\n    STAGE: !Ref Stage\n",
        preamble="Parameters:\n  Stage:\n    Default:\n",
    )
    assert load_error(tmp_path) == (
        "template.yaml:12: Resources.Fn.Properties.Environment.Variables.STAGE: !Ref Stage: parameter Stage "
        "has no Default; give it one or override it"
    )
    env = load_project(tmp_path, parameter_overrides={"Stage": "qa"}).functions["Fn"].environment
    assert dict(env) == {"STAGE": "qa"}


def test_unresolvable_global_environment_value(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        Globals:
          Function:
            Environment:
              Variables:
                SHARED: !ImportValue exported-name
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
        """,
    )
    assert load_error(tmp_path) == (
        "template.yaml:5: Globals.Function.Environment.Variables.SHARED: !ImportValue exported-name "
        "cannot be resolved locally; lambench resolves only " + RESOLVABLE
    )


def test_unknown_parameter_override(tmp_path: Path) -> None:
    one_function(tmp_path, "CodeUri: src\nHandler: app.handler\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, parameter_overrides={"Stage": "prod"})
    assert str(info.value) == "parameter override 'Stage': template.yaml has no such parameter"


# --- layers ------------------------------------------------------------------------------------

LAYER_RESOURCE = """\
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared
  Table:
    Type: AWS::DynamoDB::Table
"""


def test_layers_local_paths_and_layer_version_refs(tmp_path: Path) -> None:
    (tmp_path / "layers/shared").mkdir(parents=True)
    (tmp_path / "layers/local").mkdir(parents=True)
    one_function(
        tmp_path, "CodeUri: src\nHandler: app.handler\nLayers:\n  - layers/local\n  - !Ref SharedLayer\n"
    )
    with (tmp_path / "template.yaml").open("a") as template:
        template.write(LAYER_RESOURCE)
    project = load_project(tmp_path)
    assert project.functions["Fn"].layers == (
        (tmp_path / "layers/local").resolve(),
        (tmp_path / "layers/shared").resolve(),
    )
    assert project.resources["SharedLayer"]["Properties"] == {"ContentUri": "layers/shared"}


@pytest.mark.parametrize(
    ("layer", "detail"),
    [
        (
            "arn:aws:lambda:us-east-1:123456789012:layer:shared:3",
            "'arn:aws:lambda:us-east-1:123456789012:layer:shared:3' is a layer ARN; lambench cannot download "
            "layers, use a local directory or a !Ref to an AWS::Serverless::LayerVersion in this template",
        ),
        (
            "!Ref Table",
            "!Ref Table is a AWS::DynamoDB::Table, not a layer; use a local directory or a !Ref to an "
            "AWS::Serverless::LayerVersion in this template",
        ),
        (
            "!GetAtt SharedLayer.Arn",
            "!GetAtt SharedLayer.Arn cannot be used as a layer; use a local directory or a !Ref to an "
            "AWS::Serverless::LayerVersion in this template",
        ),
        (
            "s3://bucket/layer.zip",
            "'s3://bucket/layer.zip' is an S3 URI; lambench needs a local path to the layer",
        ),
    ],
)
def test_unusable_layers(tmp_path: Path, layer: str, detail: str) -> None:
    (tmp_path / "layers/shared").mkdir(parents=True)
    one_function(tmp_path, f"CodeUri: src\nHandler: app.handler\nLayers:\n  - layers/shared\n  - {layer}\n")
    with (tmp_path / "template.yaml").open("a") as template:
        template.write(LAYER_RESOURCE)
    assert load_error(tmp_path) == f"template.yaml:9: Resources.Fn.Properties.Layers[1]: {detail}"


def test_missing_layer_directory_is_located_at_its_item(tmp_path: Path) -> None:
    one_function(tmp_path, "CodeUri: src\nHandler: app.handler\nLayers:\n  - layers/missing\n")
    missing = (tmp_path / "layers/missing").resolve()
    assert load_error(tmp_path) == (
        f"template.yaml:8: Resources.Fn.Properties.Layers[0]: {missing} is not a directory "
        "(lambench takes layers as local paths)"
    )


def test_layer_version_with_s3_content(tmp_path: Path) -> None:
    one_function(tmp_path, "CodeUri: src\nHandler: app.handler\nLayers: [!Ref Shared]\n")
    with (tmp_path / "template.yaml").open("a") as template:
        template.write(
            "  Shared:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n"
            "      ContentUri:\n        Bucket: my-bucket\n        Key: layer.zip\n"
        )
    assert load_error(tmp_path) == (
        "template.yaml:11: Resources.Shared.Properties.ContentUri: an S3 location is not supported; "
        "lambench needs a local path to the layer's content"
    )


# --- error messages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        (
            "CodeUri: src\nHandler: app.handler\nMemorySize: 99999\n",
            "template.yaml:7: Resources.Fn.Properties.MemorySize: 99999 is out of range; use 128-10240 MB",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nTimeout: soon\n",
            "template.yaml:7: Resources.Fn.Properties.Timeout: 'soon' is not a whole number; "
            "use 1-900 seconds",
        ),
        (
            "CodeUri: src\n",
            "template.yaml:4: Resources.Fn.Properties.Handler: missing; a Python function needs a handler "
            "such as 'app.handler'",
        ),
        (
            "CodeUri: src\nHandler: ''\n",
            "template.yaml:6: Resources.Fn.Properties.Handler: a Python function needs a handler such as "
            "'app.handler'",
        ),
        (
            "CodeUri: src\nHandler: [app.handler]\n",
            "template.yaml:6: Resources.Fn.Properties.Handler: expected a handler such as 'app.handler', "
            "got a list",
        ),
        (
            "CodeUri: src\nHandler: index.handler\nRuntime: java21\n",
            "template.yaml:7: Resources.Fn.Properties.Runtime: 'java21' is not supported; use one of "
            "python3.9, python3.10, python3.11, python3.12, python3.13, python3.14, nodejs18.x, "
            "nodejs20.x, nodejs22.x, provided.al2023, provided.al2, provided",
        ),
        (
            "CodeUri: s3://bucket/code.zip\nHandler: app.handler\n",
            "template.yaml:5: Resources.Fn.Properties.CodeUri: 's3://bucket/code.zip' is an S3 URI; lambench "
            "needs a local path to the function's code",
        ),
        (
            "CodeUri:\n  Bucket: bucket\n  Key: code.zip\nHandler: app.handler\n",
            "template.yaml:5: Resources.Fn.Properties.CodeUri: an S3 location is not supported; lambench "
            "needs a local path to the function's code",
        ),
        (
            "CodeUri: 42\nHandler: app.handler\n",
            "template.yaml:5: Resources.Fn.Properties.CodeUri: expected a local path to the function's code, "
            "got 42",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variables:\n    GOOD: x\n    bad-name: y\n",
            "template.yaml:10: Resources.Fn.Properties.Environment.Variables.bad-name: 'bad-name' is not a "
            "valid name; start with a letter, then letters, digits or underscores",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variable:\n    A: x\n",
            "template.yaml:8: Resources.Fn.Properties.Environment.Variable: unknown key; Environment takes "
            "only Variables",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nEnvironment:\n  Variables: [A=x]\n",
            "template.yaml:8: Resources.Fn.Properties.Environment.Variables: expected a mapping of NAME: "
            "value, got a list",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nLoggingConfig:\n  LogFormat: XML\n",
            "template.yaml:8: Resources.Fn.Properties.LoggingConfig.LogFormat: 'XML' is not valid; use Text "
            "or JSON",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nLoggingConfig:\n  Level: INFO\n",
            "template.yaml:8: Resources.Fn.Properties.LoggingConfig.Level: unknown key; use LogFormat, "
            "ApplicationLogLevel, SystemLogLevel, LogGroup",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nEphemeralStorage:\n  Size: 100\n",
            "template.yaml:8: Resources.Fn.Properties.EphemeralStorage.Size: 100 is out of range; use "
            "512-10240 MB",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nArchitectures: [arm]\n",
            "template.yaml:7: Resources.Fn.Properties.Architectures[0]: 'arm' is not valid; use x86_64 or "
            "arm64",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nArchitectures: arm64\n",
            "template.yaml:7: Resources.Fn.Properties.Architectures: expected a list such as [x86_64] or "
            "[arm64], got 'arm64'",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nLayers: layers/shared\n",
            "template.yaml:7: Resources.Fn.Properties.Layers: expected a list of layer directories, got "
            "'layers/shared'",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nFunctionName: 'has space'\n",
            "template.yaml:7: Resources.Fn.Properties.FunctionName: 'has space' is not valid; use 1-64 "
            "letters, digits, hyphens or underscores",
        ),
        (
            "PackageType: Image\nImageUri: repo:latest\n",
            "template.yaml:5: Resources.Fn.Properties.PackageType: container image functions are not "
            "supported; lambench runs code from CodeUri",
        ),
        (
            "InlineCode: print(1)\nHandler: index.handler\n",
            "template.yaml:5: Resources.Fn.Properties.InlineCode: not supported; put the code in a "
            "directory and point CodeUri at it",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nTimeout: !If [IsProd, 30, 3]\n",
            "template.yaml:7: Resources.Fn.Properties.Timeout: !If [...] cannot be resolved locally; "
            "lambench resolves only " + RESOLVABLE,
        ),
    ],
)
def test_property_errors_are_located(tmp_path: Path, properties: str, expected: str) -> None:
    one_function(tmp_path, properties)
    assert load_error(tmp_path) == expected


def test_missing_code_directory(tmp_path: Path) -> None:
    one_function(tmp_path, "CodeUri: missing/\nHandler: app.handler\n", dirs=())
    missing = (tmp_path / "missing").resolve()
    assert (
        load_error(tmp_path)
        == f"template.yaml:5: Resources.Fn.Properties.CodeUri: {missing} is not a directory"
    )


def test_duplicate_function_names(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        Resources:
          api:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
          ApiV2:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: api
              Handler: app.handler
        """,
    )
    assert load_error(tmp_path) == (
        "template.yaml:9: Resources.ApiV2.Properties.FunctionName: function name 'api' is already used by "
        "Resources.api (line 2)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      Handler: app.handler\n     CodeUri: src\n",
            "template.yaml:6: YAML: expected <block end>, but found '<block mapping start>' (while parsing a "
            "block mapping on line 3); check the indentation",
        ),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: a: b\n",
            "template.yaml:5: YAML: mapping values are not allowed here",
        ),
        (
            "Resources:\n\tFn: {}\n",
            "template.yaml:2: YAML: found character '\\t' that cannot start any token",
        ),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      Handler: !Reff x\n",
            "template.yaml:5: YAML: unknown tag '!Reff'; it is not a CloudFormation intrinsic function",
        ),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      Handler: app.handler\n      Handler: app.other\n",
            "template.yaml:6: YAML: duplicate key 'Handler' (first on line 5)",
        ),
        ("Resources:\n  Fn: \x00\n", "template.yaml:2: YAML: character U+0000 is not allowed"),
        ("", "template.yaml:1: Template: the file is empty; expected a SAM template with Resources"),
        ("- a\n- b\n", "template.yaml:1: Template: expected a mapping of template sections, got a list"),
        ("Globals: {}\n", "template.yaml:1: Resources: missing; a SAM template declares its functions there"),
        ("Resources: [a]\n", "template.yaml:1: Resources: expected a mapping, got a list"),
        (
            "Resources:\n  Fn: oops\n",
            "template.yaml:2: Resources.Fn: expected a resource mapping, got 'oops'",
        ),
        (
            "Resources:\n  Fn:\n    Properties: {}\n",
            "template.yaml:2: Resources.Fn.Type: missing; every resource needs a Type",
        ),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: [Handler]\n",
            "template.yaml:4: Resources.Fn.Properties: expected a mapping of properties, got a list",
        ),
    ],
)
def test_document_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "template.yaml").write_text(text)
    assert load_error(tmp_path) == expected


def test_invalid_utf8(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_bytes(b"Resources:\n  Fn:\n    Type: \xff\n")
    assert load_error(tmp_path) == "template.yaml:3: YAML: byte 0xff is not UTF-8"


def test_yaml_merge_keys_may_repeat_inherited_keys(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        Resources:
          First:
            Type: AWS::Serverless::Function
            Properties: &common
              CodeUri: src
              Handler: app.handler
              Timeout: 9
          Second:
            Type: AWS::Serverless::Function
            Properties:
              <<: *common
              Timeout: 4
        """,
    )
    functions = load_project(tmp_path).functions
    assert (functions["First"].timeout_s, functions["Second"].timeout_s) == (9, 4)


def test_template_error_attributes(tmp_path: Path) -> None:
    one_function(tmp_path, "CodeUri: src\nHandler: app.handler\nMemorySize: 64\n")
    with pytest.raises(TemplateError) as info:
        load_project(tmp_path)
    error = info.value
    assert isinstance(error, ConfigError)
    assert (error.file, error.line) == ((tmp_path / "template.yaml").resolve(), 7)
    assert error.property_path == "Resources.Fn.Properties.MemorySize"
    assert error.detail == "64 is out of range; use 128-10240 MB"


# --- ad-hoc functions --------------------------------------------------------------------------


def test_adhoc_function(tmp_path: Path) -> None:
    function = adhoc_function(
        handler="app.handler",
        code_dir=tmp_path,
        runtime="python3.11",
        memory=256,
        timeout=10,
        env=["STAGE=dev", "QUERY=a=b", "EMPTY=", "STAGE=prod"],
    )
    assert function.name == "app"
    assert function.code_dir == tmp_path.resolve()
    assert (function.runtime, function.memory_mb, function.timeout_s) == ("python3.11", 256, 10)
    assert dict(function.environment) == {"STAGE": "prod", "QUERY": "a=b", "EMPTY": ""}


@pytest.mark.parametrize(
    ("handler", "name"),
    [
        ("app.handler", "app"),
        ("src/api.main", "src-api"),
        ("pkg.module.handler", "pkg-module"),
        ("my app!.handler", "my-app"),
        ("", "code-dir"),
    ],
)
def test_adhoc_function_names_come_from_the_handler(tmp_path: Path, handler: str, name: str) -> None:
    code = tmp_path / "code.dir"
    code.mkdir()
    assert adhoc_function(handler=handler, code_dir=code, runtime="provided.al2023").name == name


def test_adhoc_function_explicit_name_and_validation(tmp_path: Path) -> None:
    assert adhoc_function(handler="app.handler", code_dir=tmp_path, name="custom").name == "custom"
    with pytest.raises(ConfigError) as info:
        adhoc_function(handler="app.handler", code_dir=tmp_path, memory=64)
    assert str(info.value) == "MemorySize: 64 is out of range; use 128-10240 MB"


@pytest.mark.parametrize("pair", ["NOVALUE", "=value", ""])
def test_malformed_env_pairs(tmp_path: Path, pair: str) -> None:
    with pytest.raises(ConfigError) as info:
        adhoc_function(handler="app.handler", code_dir=tmp_path, env=["GOOD=1", pair])
    assert str(info.value) == f"Environment: {pair!r} is not in KEY=VALUE form"


def test_env_pair_with_invalid_name(tmp_path: Path) -> None:
    assert parse_env_pairs(["bad-name=1"]) == {"bad-name": "1"}
    with pytest.raises(ConfigError) as info:
        adhoc_function(handler="app.handler", code_dir=tmp_path, env=["bad-name=1"])
    assert str(info.value) == (
        "Environment.Variables: 'bad-name' is not a valid name; start with a letter, then letters, digits "
        "or underscores"
    )


# --- deployment settings ---------------------------------------------------------------------


def test_demo_deployment_settings() -> None:
    project = load_project(DEMO_DIR)
    assert project.deployments["slow"] == Deployment(reserved_concurrency=5)
    assert project.deployments["heavy-init"] == Deployment(auto_publish_alias="live", provisioned=2)
    assert project.deployments["hello"] == Deployment()
    assert "AutoPublishAlias" not in project.extra["heavy-init"]


def test_deployment_settings_accept_parameter_refs(tmp_path: Path) -> None:
    one_function(
        tmp_path,
        """
        CodeUri: src
        Handler: app.handler
        ReservedConcurrentExecutions: !Ref Cap
        AutoPublishAlias: live
        ProvisionedConcurrencyConfig:
          ProvisionedConcurrentExecutions: "3"
        """,
        preamble="Parameters:\n  Cap:\n    Type: Number\n    Default: 4\n",
    )
    assert load_project(tmp_path).deployments["Fn"] == Deployment(4, "live", 3)


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        (
            "CodeUri: src\nHandler: app.handler\nReservedConcurrentExecutions: -1\n",
            "template.yaml:7: Resources.Fn.Properties.ReservedConcurrentExecutions: expected a number of "
            "environments (0 or more), got -1",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nAutoPublishAlias: '42'\n",
            "template.yaml:7: Resources.Fn.Properties.AutoPublishAlias: '42' is not a valid alias name; use "
            "letters, digits, - and _, not only digits",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nProvisionedConcurrencyConfig:\n"
            "  ProvisionedConcurrentExecutions: 2\n",
            "template.yaml:7: Resources.Fn.Properties.ProvisionedConcurrencyConfig: needs AutoPublishAlias "
            "on the same function",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nAutoPublishAlias: live\nProvisionedConcurrencyConfig:\n"
            "  Executions: 2\n",
            "template.yaml:9: Resources.Fn.Properties.ProvisionedConcurrencyConfig.Executions: unknown key; "
            "use ProvisionedConcurrentExecutions",
        ),
        (
            "CodeUri: src\nHandler: app.handler\nAutoPublishAlias: live\nReservedConcurrentExecutions: 1\n"
            "ProvisionedConcurrencyConfig:\n  ProvisionedConcurrentExecutions: 2\n",
            "template.yaml:10: Resources.Fn.Properties.ProvisionedConcurrencyConfig."
            "ProvisionedConcurrentExecutions: 2 is more than the function's ReservedConcurrentExecutions (1)",
        ),
    ],
)
def test_deployment_errors_are_located(tmp_path: Path, properties: str, expected: str) -> None:
    one_function(tmp_path, properties)
    assert load_error(tmp_path) == expected


def _lines(value: object) -> object:
    """Every value of a located tree with the line it was found on, for comparing two readings."""
    from lambench.core.template.model import LocatedList, LocatedMap

    if isinstance(value, LocatedMap):
        return (
            "map",
            value.line,
            [(key, value.key_lines.get(key), _lines(item)) for key, item in value.items()],
        )
    if isinstance(value, LocatedList):
        return ("list", value.line, value.item_lines, [_lines(item) for item in value])
    return value


def test_libyaml_and_pure_python_readings_agree_to_the_line() -> None:
    import yaml

    from lambench.core.template import yaml_source
    from tests.helpers import REPO

    assert yaml_source._FastTemplateLoader.__mro__[1] is getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for template in sorted((REPO / "demo_functions").rglob("template.yaml")):
        text = template.read_text()
        fast = yaml.load(text, Loader=yaml_source._FastTemplateLoader)
        pure = yaml.load(text, Loader=yaml_source._TemplateLoader)
        assert _lines(fast) == _lines(pure)
