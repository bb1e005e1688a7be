"""What a SAM template says about HTTP front doors: APIs, their routes, function URLs, CORS, authorizers.

`read` in `core/template/routes_reader.py` builds these; `front_door.py` serves them. SAM's
implicit APIs (an `Api` or `HttpApi` event without `RestApiId` / `ApiId`) get SAM's logical ids,
`ServerlessRestApi` (stage `Prod`) and `ServerlessHttpApi` (stage `$default`).
"""

from __future__ import annotations

from typing import Literal

from lambench.core.digests import sha256_hex
from lambench.core.record import field, record

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

ApiKind = Literal["rest", "http", "url"]
REST: ApiKind = "rest"
HTTP: ApiKind = "http"
URL: ApiKind = "url"
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
#: SAM's stage for the implicit REST API, and API Gateway's stage of an HTTP API by default.
IMPLICIT_REST_STAGE = "Prod"
DEFAULT_HTTP_STAGE = "$default"
#: API Gateway's own integration timeouts (REST: 29 s; HTTP APIs: 30 s), beside the function's.
REST_TIMEOUT_MS = 29_000
HTTP_TIMEOUT_MS = 30_000
#: The route of an HTTP API that catches every request no other route matches.
DEFAULT_ROUTE = "$default"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")


@record(frozen=True)
class Cors:
    """A CORS configuration as the front door answers it (REST `Cors`, HTTP `CorsConfiguration`).

    Values are lists as the browser's headers are compared with them; `max_age_s` None sends no
    `Access-Control-Max-Age`.
    """

    allow_origins: tuple[str, ...] = ("*",)
    allow_methods: tuple[str, ...] = ("*",)
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: int | None = None


@record(frozen=True)
class Authorizer:
    """A Lambda authorizer: `TOKEN` (REST, one header) or `REQUEST` (identity sources).

    `identity_sources` are API Gateway's expressions (`method.request.header.Authorization`,
    `$request.header.Authorization`, ...) reduced to (where, name): where is `header`, `query`,
    `stage` or `context`. `simple_responses` (HTTP APIs) means the authorizer answers
    `{"isAuthorized": ...}` instead of an IAM policy; `payload_version` is an HTTP API's 1.0/2.0.
    A `ttl_s` of 0 turns caching off.
    """

    name: str
    function: str
    kind: Literal["TOKEN", "REQUEST"]
    identity_sources: tuple[tuple[str, str], ...]
    ttl_s: int = 300
    simple_responses: bool = False
    payload_version: str = "2.0"
    validation_expression: str | None = None


@record(frozen=True)
class Api:
    """One API: REST or HTTP, its stage, CORS, binary media types and authorizers."""

    api_id: str
    kind: ApiKind
    stage: str
    cors: Cors | None = None
    binary_media_types: tuple[str, ...] = ()
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    default_authorizer: str | None = None

    @property
    def path_prefix(self) -> str:
        """Where its routes are served locally: `/<stage>` for REST and for a named HTTP stage."""
        return "" if self.stage == DEFAULT_HTTP_STAGE else f"/{self.stage}"


@record(frozen=True)
class Route:
    """One route: `method` (upper case, or `ANY`) and `path` (`/items/{id}`, `/{proxy+}`, `$default`).

    `authorizer` is the authorizer's name, or None for none. `timeout_ms` is the integration's
    (an HttpApi event's TimeoutInMillis; REST's fixed 29 s).
    """

    api_id: str
    method: str
    path: str
    function: str
    event_name: str
    payload_version: str
    authorizer: str | None = None
    timeout_ms: int = HTTP_TIMEOUT_MS

    @property
    def route_key(self) -> str:
        """An HTTP API's `routeKey`: `GET /items/{id}`, or `$default`."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@record(frozen=True)
class FunctionUrl:
    """A function URL (`FunctionUrlConfig`): always payload 2.0, served on its own port locally."""

    function: str
    auth_type: Literal["NONE", "AWS_IAM"] = "NONE"
    cors: Cors | None = None
    invoke_mode: str = "BUFFERED"


@record(frozen=True)
class AlbRule:
    """A listener rule forwarding to a Lambda target group; `priority` None is the default action.

    Conditions are ALB's: path patterns and host patterns with `*` and `?`, HTTP methods
    (`alb.rule_matches` applies them). `multi_value` is the target group's
    `lambda.multi_value_headers.enabled`.
    """

    target_group: str
    function: str
    priority: int | None = None
    paths: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    multi_value: bool = False
    name: str = field(default="", compare=False)

    @property
    def target_group_arn(self) -> str:
        """`arn:aws:elasticloadbalancing:...:targetgroup/<name>/<16 hex>`, stable for the target group."""
        suffix = sha256_hex(self.target_group.encode())[:16]
        name = self.target_group[:32]
        return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/{name}/{suffix}"


@record(frozen=True)
class HttpFrontDoors:
    """Everything a template says about HTTP: APIs by id, their routes, and function URLs."""

    apis: dict[str, Api] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    urls: tuple[FunctionUrl, ...] = ()
    #: Application Load Balancer listener rules forwarding to Lambda target groups.
    alb_rules: tuple[AlbRule, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the template has nothing to serve over HTTP."""
        return not self.routes and not self.urls and not self.alb_rules
