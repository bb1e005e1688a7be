"""The front door's rules without a server: route precedence, the template's HTTP parts and their
mistakes, and how answers are read (pure functions, no processes)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from lambench.core.http import proxy_responses
from lambench.core.http.authorizers import evaluate_policy
from lambench.core.http.model import Api, HttpFrontDoors, Route
from lambench.core.http.proxy_responses import Malformed
from lambench.core.http.routing import NoRoute, RouteMatch, RouteTable, match_path
from lambench.core.template import TemplateError, load_project


def table(*routes: tuple[str, str], kind: str = "http", stage: str = "$default") -> RouteTable:
    api = Api(api_id="A", kind=kind, stage=stage)  # type: ignore[arg-type]
    built = tuple(
        Route(
            api_id="A",
            method=method,
            path=path,
            function=f"{method} {path}",
            event_name="E",
            payload_version="2.0",
        )
        for method, path in routes
    )
    return RouteTable(HttpFrontDoors(apis={"A": api}, routes=built))


def taken(result: RouteMatch | NoRoute) -> str | None:
    return result.route.function if isinstance(result, RouteMatch) else None


def test_the_most_specific_route_wins_then_the_exact_method() -> None:
    routes = table(
        ("ANY", "/{proxy+}"),
        ("GET", "/pets/{id}"),
        ("GET", "/pets/dog"),
        ("ANY", "/pets/{id}"),
        ("ANY", "$default"),
    )
    assert taken(routes.match("GET", "/pets/dog")) == "GET /pets/dog"
    assert taken(routes.match("GET", "/pets/cat")) == "GET /pets/{id}"
    assert taken(routes.match("PUT", "/pets/cat")) == "ANY /pets/{id}"
    assert taken(routes.match("GET", "/a/b/c")) == "ANY /{proxy+}"
    assert taken(routes.match("GET", "/")) == "ANY $default"


def test_path_parameters_are_decoded_and_a_greedy_one_keeps_slashes() -> None:
    assert match_path("/pets/{id}", "/pets/a%2Fb") == {"id": "a/b"}
    assert match_path("/files/{key+}", "/files/x/y%20z") == {"key": "x/y z"}
    assert match_path("/files/{key+}", "/files") is None
    assert match_path("/pets/{id}", "/pets/1/2") is None
    assert match_path("/pets", "/pets/") == {}


def test_a_stage_prefix_picks_its_api_and_a_miss_says_whether_the_path_exists() -> None:
    routes = table(("GET", "/pets"), kind="rest", stage="Prod")
    staged = routes.match("GET", "/Prod/pets")
    assert isinstance(staged, RouteMatch) and staged.staged and staged.path == "/pets"
    wrong_method = routes.match("POST", "/Prod/pets")
    assert isinstance(wrong_method, NoRoute) and wrong_method.path_exists
    nowhere = routes.match("GET", "/Prod/cats")
    assert isinstance(nowhere, NoRoute) and not nowhere.path_exists


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"statusCode": 204}, (204, b"")),
        ({"statusCode": "200", "body": "ok"}, (200, b"ok")),
        ({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True}, (200, b"hi")),
    ],
)
def test_rest_answers_are_read_as_api_gateway_reads_them(
    payload: dict[str, object], expected: tuple[int, bytes]
) -> None:
    response = proxy_responses.rest_response(json.dumps(payload).encode())
    assert (response.status, response.body) == expected


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b'"text"', "the answer is not a JSON object"),
        (b"{}", "statusCode is missing"),
        (b'{"statusCode": 200, "body": 5}', "body is not a string"),
        (b'{"statusCode": 200, "headers": {"a": [1]}}', "header a [1] is not a string"),
        (b'{"statusCode": 99}', "statusCode 99 is not an HTTP status"),
        (b'{"statusCode": 200, "extra": 1}', "unknown field(s) extra"),
        (
            b'{"statusCode": 200, "body": "!", "isBase64Encoded": true}',
            "isBase64Encoded is true but body is not base64",
        ),
    ],
)
def test_malformed_rest_answers_say_why(payload: bytes, problem: str) -> None:
    with pytest.raises(Malformed) as caught:
        proxy_responses.rest_response(payload)
    assert str(caught.value) == problem


def test_policies_allow_deny_and_wildcards() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/pets"

    def policy(*statements: tuple[str, str]) -> dict[str, object]:
        return {
            "policyDocument": {
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": e, "Resource": r} for e, r in statements
                ]
            }
        }

    assert evaluate_policy(policy(("Allow", arn)), arn) is True
    assert evaluate_policy(policy(("Allow", "arn:aws:execute-api:*:*:abc/*/GET/*")), arn) is True
    assert evaluate_policy(policy(("Allow", "*"), ("Deny", arn)), arn) is False
    assert evaluate_policy(policy(("Allow", arn.replace("GET", "POST"))), arn) is None


# -- the template -------------------------------------------------------------------------------

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: fn/
{function}
{resources}
"""


def project_with(tmp_path: Path, function: str, resources: str = "") -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return None\n")
    body = textwrap.indent(textwrap.dedent(function).strip("\n"), " " * 6)
    extra = textwrap.indent(textwrap.dedent(resources).strip("\n"), " " * 2)
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(function=body, resources=extra))
    return tmp_path


def test_implicit_apis_get_sams_ids_and_stages(tmp_path: Path) -> None:
    project = load_project(
        project_with(
            tmp_path,
            """
            Events:
              Rest: {Type: Api, Properties: {Path: /r, Method: get}}
              Http: {Type: HttpApi, Properties: {Path: /h, Method: post, TimeoutInMillis: 5000}}
              Catch: {Type: HttpApi}
            FunctionUrlConfig: {AuthType: NONE}
            """,
        )
    )
    doors = project.http
    assert {api.api_id: api.stage for api in doors.apis.values()} == {
        "ServerlessRestApi": "Prod",
        "ServerlessHttpApi": "$default",
    }
    rest, http_route, catch = doors.routes
    assert (rest.method, rest.path, rest.payload_version, rest.timeout_ms) == ("GET", "/r", "1.0", 29000)
    assert (http_route.route_key, http_route.timeout_ms) == ("POST /h", 5000)
    assert catch.route_key == "$default"
    assert [url.function for url in doors.urls] == ["fn"]
    assert project.sources == [] and project.warnings == []


@pytest.mark.parametrize(
    ("function", "resources", "message"),
    [
        (
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: fetch}}",
            "",
            "Properties.Method: 'fetch' is not an HTTP method",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: get}}\n"
            "  B: {Type: Api, Properties: {Path: /x, Method: get}}",
            "",
            "Events.B: GET /x is already routed to fn",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: '/{a}/x', Method: get}}\n"
            "  B: {Type: Api, Properties: {Path: '/{b}/x', Method: get}}",
            "",
            "Events.B: GET /{b}/x is already routed to fn",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: '/{p+}/x', Method: get}}",
            "",
            "Properties.Path: '/{p+}/x': a greedy parameter ({p+}) must be the last segment",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref Missing}}",
            "Missing:\n  Type: AWS::SQS::Queue",
            "RestApiId: 'Missing' is not an AWS::Serverless::Api of this template",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref MyApi, "
            "Auth: {Authorizer: Nope}}}",
            "MyApi:\n  Type: AWS::Serverless::Api\n  Properties: {StageName: dev}",
            "Auth.Authorizer: 'Nope' is not one of MyApi's Authorizers",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref MyApi}}",
            "MyApi:\n  Type: AWS::Serverless::Api\n  Properties: {}",
            "MyApi.Properties.StageName: missing; a REST API needs a stage name",
        ),
        (
            "Events:\n  A: {Type: HttpApi, Properties: {Path: /x, Bogus: 1}}",
            "",
            "Properties.Bogus: unknown property of HttpApi events",
        ),
        (
            "FunctionUrlConfig: {AuthType: OPEN}",
            "",
            "FunctionUrlConfig.AuthType: 'OPEN': use NONE or AWS_IAM",
        ),
        (
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref MyApi}}",
            "MyApi:\n  Type: AWS::Serverless::Api\n  Properties:\n    StageName: dev\n"
            "    Auth:\n      Authorizers:\n"
            "        Bad: {FunctionArn: !GetAtt Fn.Arn, FunctionPayloadType: JWT}",
            "FunctionPayloadType: 'JWT': use TOKEN or REQUEST",
        ),
    ],
)
def test_mistakes_in_http_parts_are_located(
    tmp_path: Path, function: str, resources: str, message: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        load_project(project_with(tmp_path, function, resources))
    assert str(caught.value).startswith("template.yaml:"), caught.value
    assert message in str(caught.value)


def test_what_lambench_does_not_serve_is_a_named_warning(tmp_path: Path) -> None:
    project = load_project(
        project_with(
            tmp_path,
            "Events:\n  A: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref MyApi}}",
            "MyApi:\n  Type: AWS::Serverless::Api\n  Properties:\n    StageName: dev\n"
            "    DefinitionBody: {openapi: '3.0'}\n"
            "    Auth:\n      Authorizers:\n"
            "        Pool: {UserPoolArn: arn:aws:cognito-idp:us-east-1:1:userpool/x}",
        )
    )
    assert len(project.http.routes) == 1
    assert [warning.split(": ", 2)[2] for warning in project.warnings] == [
        "routes in an OpenAPI definition are not read by lambench",
        "Cognito authorizers are not run by lambench; its routes are open",
    ]


def test_load_balancer_rules_are_read_and_their_mistakes_located(tmp_path: Path) -> None:
    group = (
        "Group:\n  Type: AWS::ElasticLoadBalancingV2::TargetGroup\n"
        "  Properties: {TargetType: lambda, Targets: [{Id: !GetAtt Fn.Arn}]}\n"
    )
    rule = (
        "Rule:\n  Type: AWS::ElasticLoadBalancingV2::ListenerRule\n  Properties:\n    Priority: 5\n"
        "    Conditions:\n      - {Field: path-pattern, PathPatternConfig: {Values: ['/a/*']}}\n"
        "      - {Field: source-ip, Values: [10.0.0.0/8]}\n"
        "    Actions: [{Type: forward, TargetGroupArn: !Ref Group}]\n"
    )
    project = load_project(project_with(tmp_path, "Description: an ALB target", group + rule))
    (only,) = project.http.alb_rules
    assert (only.function, only.priority, only.paths, only.multi_value) == ("fn", 5, ("/a/*",), False)
    assert project.warnings[0].endswith("Field: source-ip conditions are not checked by lambench")
    broken = group.replace("!GetAtt Fn.Arn", "arn:aws:lambda:us-east-1:123456789012:function:other")
    with pytest.raises(TemplateError) as caught:
        load_project(project_with(tmp_path, "Description: an ALB target", broken))
    assert "Targets[0].Id: 'other' is not a function of this template" in str(caught.value)
