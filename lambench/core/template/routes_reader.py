"""Reading the template's HTTP front doors: `Api` and `HttpApi` events, `AWS::Serverless::Api` and
`AWS::Serverless::HttpApi` resources (and `Globals.Api` / `Globals.HttpApi`), `FunctionUrlConfig`.

A mistake (a route twice in one API, an unknown API or authorizer, a bad method) is a located
`TemplateError`; what lambench does not serve (an OpenAPI `DefinitionBody`, Cognito and JWT
authorizers, API keys, usage plans, request models) is a located warning naming it.
"""

from __future__ import annotations

from typing import Literal

from lambench.core.http import model as http
from lambench.core.http.routing import route_conflict
from lambench.core.sources.model import arn_name
from lambench.core.template.events_reader import EventSourceReader
from lambench.core.template.nodes import Node, as_intrinsic, describe, merge

SERVERLESS_API = "AWS::Serverless::Api"
SERVERLESS_HTTP_API = "AWS::Serverless::HttpApi"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
LISTENER_RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"

_REST_EVENT_KEYS = ("Path", "Method", "RestApiId", "Auth")
_REST_EVENT_IGNORED = ("RequestModel", "RequestParameters", "TimeoutInMillis")
_HTTP_EVENT_KEYS = ("Path", "Method", "ApiId", "Auth", "PayloadFormatVersion", "TimeoutInMillis")
_HTTP_EVENT_IGNORED = ("RouteSettings",)
_REST_API_KEYS = ("StageName", "Cors", "Auth", "BinaryMediaTypes", "Name", "Description")
_HTTP_API_KEYS = ("StageName", "CorsConfiguration", "Auth", "Name", "Description")
# Accepted and not served: named in a warning.
_API_IGNORED = (
    "DefinitionBody",
    "DefinitionUri",
    "EndpointConfiguration",
    "MethodSettings",
    "AccessLogSetting",
    "AccessLogSettings",
    "CacheClusterEnabled",
    "CacheClusterSize",
    "Variables",
    "StageVariables",
    "TracingEnabled",
    "GatewayResponses",
    "Models",
    "Domain",
    "OpenApiVersion",
    "MinimumCompressionSize",
    "Tags",
    "DefaultRouteSettings",
    "RouteSettings",
    "FailOnWarnings",
    "DisableExecuteApiEndpoint",
    "AlwaysDeploy",
    "ApiKeySourceType",
    "CanarySetting",
    "Mode",
    "PropagateTags",
)
_URL_KEYS = ("AuthType", "Cors", "InvokeMode")


class HttpRouteReader(EventSourceReader):
    """The HTTP part of reading a template."""

    def _front_doors(self, functions: list[tuple[str, Node]], warnings: list[str]) -> http.HttpFrontDoors:
        """APIs, routes and function URLs of `functions` (name, properties with Globals merged)."""
        # APIs are read when a route names them: an API no function routes to is left alone.
        apis: dict[str, http.Api] = {}
        routes: list[tuple[http.Route, Node]] = []
        urls: list[http.FunctionUrl] = []
        for function, props in functions:
            assert props.entries is not None
            events = props.entries.get("Events")
            for name, event in (events.entries or {}).items() if events is not None else ():
                kind = event.entries.get("Type") if event.entries else None
                if kind is None or kind.value not in ("Api", "HttpApi"):
                    continue
                route = self._route(function, str(name), str(kind.value), event, apis, warnings)
                routes.append((route, event))
            if "FunctionUrlConfig" in props.entries:
                urls.append(self._function_url(function, props.entries["FunctionUrlConfig"], warnings))
        self._check_routes(routes, apis, warnings)
        return http.HttpFrontDoors(
            apis=apis,
            routes=tuple(route for route, _ in routes),
            urls=tuple(urls),
            alb_rules=tuple(self._alb_rules(warnings)),
        )

    # -- APIs -----------------------------------------------------------------------------------

    def _globals_for(self, key: str) -> Node | None:
        section = self._section("Globals")
        node = section.get(key)
        if node is None:
            return None
        if node.entries is None:
            raise self.error(
                node, f"expected a mapping of {key} properties, got {describe(node, node.value)}"
            )
        return node

    def _api(self, api_id: str, resource_type: str, warnings: list[str]) -> http.Api:
        rest = resource_type == SERVERLESS_API
        props = self._properties(self.resources[api_id])
        globals_node = self._globals_for("Api" if rest else "HttpApi")
        if globals_node is not None:
            props = merge(globals_node, props)
        return self._api_from(api_id, rest, props, warnings, implicit=False)

    def _implicit_api(self, rest: bool, apis: dict[str, http.Api], warnings: list[str]) -> http.Api:
        api_id = http.IMPLICIT_REST_API if rest else http.IMPLICIT_HTTP_API
        if api_id not in apis:
            globals_node = self._globals_for("Api" if rest else "HttpApi")
            props = (
                globals_node
                if globals_node is not None
                else Node(f"Resources.{api_id}.Properties", 0, entries={})
            )
            apis[api_id] = self._api_from(api_id, rest, props, warnings, implicit=True)
        return apis[api_id]

    def _api_from(
        self, api_id: str, rest: bool, props: Node, warnings: list[str], *, implicit: bool
    ) -> http.Api:
        assert props.entries is not None
        entries = props.entries
        known = _REST_API_KEYS if rest else _HTTP_API_KEYS
        for key, child in entries.items():
            if key in _API_IGNORED:
                detail = (
                    "routes in an OpenAPI definition are not read"
                    if key.startswith("Definition")
                    else "is ignored"
                )
                warnings.append(str(self.error(child, f"{detail} by lambench")))
            elif key not in known:
                raise self.error(
                    child, f"unknown property of {'an Api' if rest else 'an HttpApi'}; use {', '.join(known)}"
                )
        if "StageName" in entries:
            stage = self._string(entries["StageName"], "a stage name")
        elif rest and not implicit:
            raise self.error(
                self._missing(props, "StageName"), "missing; a REST API needs a stage name (e.g. Prod)"
            )
        else:
            stage = http.IMPLICIT_REST_STAGE if rest else http.DEFAULT_HTTP_STAGE
        if rest:
            cors = self._rest_cors(entries.get("Cors"))
        else:
            cors = self._http_cors(entries.get("CorsConfiguration"))
        binary: tuple[str, ...] = ()
        if rest and "BinaryMediaTypes" in entries:
            node = entries["BinaryMediaTypes"]
            if node.items is None:
                raise self.error(node, "expected a list of media types such as image/png or */*")
            binary = tuple(self._string(item, "a media type") for item in node.items)
        authorizers: dict[str, http.Authorizer] = {}
        default = None
        if "Auth" in entries:
            authorizers, default = self._auth(entries["Auth"], rest, warnings)
        return http.Api(
            api_id=api_id,
            kind=http.REST if rest else http.HTTP,
            stage=stage,
            cors=cors,
            binary_media_types=binary,
            authorizers=authorizers,
            default_authorizer=default,
        )

    def _strings(self, node: Node | None, what: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if node.items is None:
            value = self._string(node, what)
            return tuple(part.strip() for part in value.strip("'").split(",") if part.strip())
        return tuple(self._string(item, what) for item in node.items)

    def _rest_cors(self, node: Node | None) -> http.Cors | None:
        if node is None:
            return None
        if node.is_scalar:
            # `Cors: "'*'"`: the allowed origin, quoted as SAM wants it.
            return http.Cors(allow_origins=(self._string(node, "an origin such as \"'*'\"").strip("'"),))
        entries = self._mapping_of(
            node, ("AllowOrigin", "AllowMethods", "AllowHeaders", "MaxAge", "AllowCredentials")
        )
        origin = self._required(node, "AllowOrigin", "an origin such as \"'*'\"")
        max_age = None
        if "MaxAge" in entries:
            max_age = int(str(self._scalar(entries["MaxAge"], "seconds")).strip("'"))
        return http.Cors(
            allow_origins=(self._string(origin, "an origin").strip("'"),),
            allow_methods=self._strings(entries.get("AllowMethods"), "methods") or ("*",),
            allow_headers=self._strings(entries.get("AllowHeaders"), "headers"),
            allow_credentials=self._flag(entries.get("AllowCredentials"), False),
            max_age_s=max_age,
        )

    def _http_cors(self, node: Node | None, keys_from: str = "CorsConfiguration") -> http.Cors | None:
        if node is None:
            return None
        if node.is_scalar:
            if self._flag(node, False):
                return http.Cors(allow_headers=("*",))
            return None
        keys = ("AllowOrigins", "AllowMethods", "AllowHeaders", "ExposeHeaders", "AllowCredentials", "MaxAge")
        entries = self._mapping_of(node, keys)
        return http.Cors(
            allow_origins=self._strings(entries.get("AllowOrigins"), "an origin") or ("*",),
            allow_methods=self._strings(entries.get("AllowMethods"), "a method") or ("*",),
            allow_headers=self._strings(entries.get("AllowHeaders"), "a header"),
            expose_headers=self._strings(entries.get("ExposeHeaders"), "a header"),
            allow_credentials=self._flag(entries.get("AllowCredentials"), False),
            max_age_s=self._int(entries.get("MaxAge"), -1, -1, 86400, "MaxAge")
            if "MaxAge" in entries
            else None,
        )

    # -- authorizers ----------------------------------------------------------------------------

    def _auth(
        self, node: Node, rest: bool, warnings: list[str]
    ) -> tuple[dict[str, http.Authorizer], str | None]:
        if node.entries is None:
            raise self.error(
                node,
                f"expected a mapping with Authorizers, DefaultAuthorizer; got {describe(node, node.value)}",
            )
        authorizers: dict[str, http.Authorizer] = {}
        for key, child in node.entries.items():
            if key not in ("Authorizers", "DefaultAuthorizer"):
                warnings.append(
                    str(self.error(child, "is ignored by lambench (it runs Lambda authorizers only)"))
                )
        listed = node.entries.get("Authorizers")
        skipped: set[str] = set()
        if listed is not None:
            if listed.entries is None:
                raise self.error(listed, "expected a mapping of named authorizers")
            for name, config in listed.entries.items():
                authorizer = self._authorizer(str(name), config, rest, warnings)
                if authorizer is None:
                    skipped.add(str(name))
                else:
                    authorizers[str(name)] = authorizer
        default = None
        if "DefaultAuthorizer" in node.entries:
            default_node = node.entries["DefaultAuthorizer"]
            default = self._string(default_node, "the name of an authorizer")
            if default in skipped:
                default = None
            elif default not in authorizers and default != "AWS_IAM":
                raise self.error(default_node, f"{default!r} is not one of this API's Authorizers")
            if default == "AWS_IAM":
                warnings.append(
                    str(self.error(default_node, "AWS_IAM authorization is not checked by lambench"))
                )
                default = None
        return authorizers, default

    def _authorizer(self, name: str, node: Node, rest: bool, warnings: list[str]) -> http.Authorizer | None:
        if node.entries is None:
            raise self.error(node, f"expected an authorizer's mapping, got {describe(node, node.value)}")
        entries = node.entries
        if "FunctionArn" not in entries:
            # Cognito user pools and JWT issuers are not emulated: the route is served without them.
            what = (
                "Cognito"
                if "UserPoolArn" in entries
                else "JWT"
                if "JwtConfiguration" in entries
                else "non-Lambda"
            )
            warnings.append(
                str(self.error(node, f"{what} authorizers are not run by lambench; its routes are open"))
            )
            return None
        function = arn_name(self._string(entries["FunctionArn"], "!GetAtt Function.Arn"))
        if function not in self.function_names.values():
            raise self.error(entries["FunctionArn"], f"{function!r} is not a function of this template")
        identity = entries.get("Identity")
        identity_entries = identity.entries if identity is not None and identity.entries is not None else {}
        ttl = self._int(identity_entries.get("ReauthorizeEvery"), 300, 0, 3600, "ReauthorizeEvery")
        sources: list[tuple[str, str]] = []
        if rest:
            allowed = ("FunctionArn", "FunctionPayloadType", "Identity", "FunctionInvokeRole")
            for key, child in entries.items():
                if key not in allowed:
                    raise self.error(
                        child, f"unknown property of a Lambda authorizer; use {', '.join(allowed)}"
                    )
            kind: Literal["TOKEN", "REQUEST"] = "TOKEN"
            if "FunctionPayloadType" in entries:
                payload_type = self._string(entries["FunctionPayloadType"], "TOKEN or REQUEST")
                if payload_type not in ("TOKEN", "REQUEST"):
                    raise self.error(
                        entries["FunctionPayloadType"], f"{payload_type!r}: use TOKEN or REQUEST"
                    )
                kind = "REQUEST" if payload_type == "REQUEST" else "TOKEN"
            validation = None
            if kind == "TOKEN":
                header = (
                    self._string(identity_entries["Header"], "a header name")
                    if "Header" in identity_entries
                    else "Authorization"
                )
                sources.append(("header", header))
                if "ValidationExpression" in identity_entries:
                    validation = self._string(
                        identity_entries["ValidationExpression"], "a regular expression"
                    )
            else:
                sources += self._identity_sources(identity_entries)
                if not sources:
                    raise self.error(
                        identity or node,
                        "a REQUEST authorizer needs Identity Headers, QueryStrings or Context",
                    )
            return http.Authorizer(
                name=name,
                function=function,
                kind=kind,
                identity_sources=tuple(sources),
                ttl_s=ttl,
                validation_expression=validation,
                payload_version="1.0",
            )
        allowed_http = (
            "FunctionArn",
            "AuthorizerPayloadFormatVersion",
            "EnableSimpleResponses",
            "Identity",
            "FunctionInvokeRole",
            "EnableFunctionDefaultPermissions",
        )
        for key, child in entries.items():
            if key not in allowed_http:
                raise self.error(
                    child, f"unknown property of a Lambda authorizer; use {', '.join(allowed_http)}"
                )
        version_node = entries.get("AuthorizerPayloadFormatVersion")
        version = str(self._scalar(version_node, "1.0 or 2.0")) if version_node is not None else "2.0"
        if version not in ("1.0", "2.0"):
            assert version_node is not None
            raise self.error(version_node, f"{version!r}: use 1.0 or 2.0")
        simple = self._flag(entries.get("EnableSimpleResponses"), False)
        if simple and version != "2.0":
            raise self.error(
                entries["EnableSimpleResponses"], "simple responses need AuthorizerPayloadFormatVersion 2.0"
            )
        sources += self._identity_sources(identity_entries) or [("header", "Authorization")]
        return http.Authorizer(
            name=name,
            function=function,
            kind="REQUEST",
            identity_sources=tuple(sources),
            ttl_s=ttl,
            simple_responses=simple,
            payload_version=version,
        )

    def _identity_sources(self, entries: dict[object, Node]) -> list[tuple[str, str]]:
        sources: list[tuple[str, str]] = []
        for key, where in (
            ("Headers", "header"),
            ("QueryStrings", "query"),
            ("Context", "context"),
            ("StageVariables", "stage"),
        ):
            sources += [(where, name) for name in self._strings(entries.get(key), "a name")]
        return sources

    # -- routes ---------------------------------------------------------------------------------

    def _route(
        self, function: str, name: str, kind: str, event: Node, apis: dict[str, http.Api], warnings: list[str]
    ) -> http.Route:
        rest = kind == "Api"
        props = (
            self._properties(event)
            if event.entries and "Properties" in event.entries
            else Node(f"{event.path}.Properties", event.line, entries={})
        )
        assert props.entries is not None
        entries = props.entries
        known, ignored = (
            (_REST_EVENT_KEYS, _REST_EVENT_IGNORED) if rest else (_HTTP_EVENT_KEYS, _HTTP_EVENT_IGNORED)
        )
        for key, child in entries.items():
            if key in ignored:
                warnings.append(str(self.error(child, "is ignored by lambench")))
            elif key not in known:
                raise self.error(child, f"unknown property of {kind} events; use {', '.join(known)}")
        api_key = "RestApiId" if rest else "ApiId"
        if api_key in entries:
            api_node = entries[api_key]
            # `!Ref MyApi` names the API by its logical id (resolving it would give a physical name).
            api_id = self._ref_target(api_node) or self._string(api_node, "!Ref of an API in this template")
            wanted = SERVERLESS_API if rest else SERVERLESS_HTTP_API
            if self.types.get(api_id) != wanted:
                raise self.error(api_node, f"{api_id!r} is not an {wanted} of this template")
            if api_id not in apis:
                apis[api_id] = self._api(api_id, wanted, warnings)
            api = apis[api_id]
        else:
            api = self._implicit_api(rest, apis, warnings)
        if rest:
            path = self._string(self._required(props, "Path", "a path such as /items/{id}"), "a path")
            method_node: Node | None = self._required(props, "Method", "an HTTP method or any")
            assert method_node is not None
            method = self._string(method_node, "an HTTP method").upper()
        else:
            path = self._string(entries["Path"], "a path") if "Path" in entries else http.DEFAULT_ROUTE
            method_node = entries.get("Method")
            method = "ANY" if method_node is None else self._string(method_node, "an HTTP method").upper()
        if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
            method = "ANY"
        if method not in http.METHODS:
            assert method_node is not None
            raise self.error(
                method_node,
                f"{method.lower()!r} is not an HTTP method; use {', '.join(m.lower() for m in http.METHODS)}",
            )
        if path != http.DEFAULT_ROUTE and not path.startswith("/"):
            raise self.error(entries["Path"], f"{path!r}: a path starts with /")
        self._check_greedy(path, entries.get("Path") or props)
        version = "1.0" if rest else "2.0"
        if not rest and "PayloadFormatVersion" in entries:
            version = str(self._scalar(entries["PayloadFormatVersion"], "1.0 or 2.0"))
            if version not in ("1.0", "2.0"):
                raise self.error(entries["PayloadFormatVersion"], f"{version!r}: use 1.0 or 2.0")
        timeout = (
            http.REST_TIMEOUT_MS
            if rest
            else self._int(entries.get("TimeoutInMillis"), http.HTTP_TIMEOUT_MS, 50, 30000, "TimeoutInMillis")
        )
        authorizer = api.default_authorizer
        if "Auth" in entries:
            auth = self._mapping_of(
                entries["Auth"],
                ("Authorizer", "AuthorizationScopes", "ApiKeyRequired", "InvokeRole", "ResourcePolicy"),
            )
            for key in ("AuthorizationScopes", "ApiKeyRequired", "InvokeRole", "ResourcePolicy"):
                if key in auth:
                    warnings.append(str(self.error(auth[key], "is ignored by lambench")))
            if "Authorizer" in auth:
                chosen = self._string(auth["Authorizer"], "an authorizer's name or NONE")
                if chosen in ("NONE", "AWS_IAM"):
                    authorizer = None
                elif chosen not in api.authorizers:
                    raise self.error(
                        auth["Authorizer"], f"{chosen!r} is not one of {api.api_id}'s Authorizers"
                    )
                else:
                    authorizer = chosen
        if authorizer is not None and rest and method == "OPTIONS" and api.cors is not None:
            authorizer = None  # SAM leaves the CORS preflight method open
        return http.Route(
            api_id=api.api_id,
            method=method,
            path=path,
            function=function,
            event_name=name,
            payload_version=version,
            authorizer=authorizer,
            timeout_ms=timeout,
        )

    def _check_greedy(self, path: str, node: Node) -> None:
        parts = [part for part in path.split("/") if part]
        for index, part in enumerate(parts):
            if part.endswith("+}") and index != len(parts) - 1:
                raise self.error(node, f"{path!r}: a greedy parameter ({part}) must be the last segment")

    def _check_routes(
        self, routes: list[tuple[http.Route, Node]], apis: dict[str, http.Api], warnings: list[str]
    ) -> None:
        for index, (route, node) in enumerate(routes):
            for earlier, earlier_node in routes[:index]:
                if not route_conflict(route, earlier):
                    continue
                if route.api_id == earlier.api_id:
                    raise self.error(
                        node,
                        f"{route.method} {route.path} is already routed to {earlier.function} "
                        f"({earlier_node.path}, line {earlier_node.line})",
                    )
                prefix = apis[route.api_id].path_prefix
                warnings.append(
                    str(
                        self.error(
                            node,
                            f"{route.method} {route.path} is also a route of {earlier.api_id}: at the "
                            f"root {earlier.function} answers; {prefix}{route.path} reaches {route.function}",
                        )
                    )
                )

    # -- function URLs --------------------------------------------------------------------------

    def _function_url(self, function: str, node: Node, warnings: list[str]) -> http.FunctionUrl:
        entries = self._mapping_of(node, _URL_KEYS)
        auth_node = self._required(node, "AuthType", "NONE or AWS_IAM")
        auth = self._string(auth_node, "NONE or AWS_IAM")
        if auth not in ("NONE", "AWS_IAM"):
            raise self.error(auth_node, f"{auth!r}: use NONE or AWS_IAM")
        mode = "BUFFERED"
        if "InvokeMode" in entries:
            mode = self._string(entries["InvokeMode"], "BUFFERED or RESPONSE_STREAM")
            if mode not in ("BUFFERED", "RESPONSE_STREAM"):
                raise self.error(entries["InvokeMode"], f"{mode!r}: use BUFFERED or RESPONSE_STREAM")
            if mode == "RESPONSE_STREAM":
                warnings.append(
                    str(
                        self.error(
                            entries["InvokeMode"], "lambench answers it whole once the handler's stream ends"
                        )
                    )
                )
        return http.FunctionUrl(
            function=function,
            auth_type="AWS_IAM" if auth == "AWS_IAM" else "NONE",
            cors=self._http_cors(entries.get("Cors")),
            invoke_mode=mode,
        )

    # -- Application Load Balancers ---------------------------------------------------------------

    def _alb_rules(self, warnings: list[str]) -> list[http.AlbRule]:
        """Listener rules and default actions that forward to a target group of Lambda functions."""
        groups: dict[str, tuple[str, bool]] = {}
        for logical_id, resource_type in self.types.items():
            if resource_type == TARGET_GROUP:
                target_group = self._lambda_target_group(str(logical_id))
                if target_group is not None:
                    groups[str(logical_id)] = target_group
        if not groups:
            return []
        rules: list[http.AlbRule] = []
        for logical_id, resource_type in self.types.items():
            if resource_type == LISTENER_RULE:
                props = self._properties(self.resources[logical_id])
                assert props.entries is not None
                group = self._forwarded_group(props.entries.get("Actions"), groups)
                if group is None:
                    continue
                priority = self._int(
                    self._required(props, "Priority", "a number 1-50000"), 1, 1, 50000, "Priority"
                )
                rules.append(self._listener_rule(str(logical_id), group, groups, props, priority, warnings))
            elif resource_type == LISTENER:
                props = self._properties(self.resources[logical_id])
                assert props.entries is not None
                group = self._forwarded_group(props.entries.get("DefaultActions"), groups)
                if group is not None:
                    function, multi = groups[group]
                    rules.append(http.AlbRule(group, function, None, multi_value=multi, name=str(logical_id)))
        return rules

    def _ref_target(self, node: Node) -> str | None:
        """The logical id a `!Ref` names, or None for any other value."""
        written = as_intrinsic(node.value)
        if written is not None and written.name == "Ref" and isinstance(written.value, str):
            return written.value
        return None

    def _lambda_target_group(self, logical_id: str) -> tuple[str, bool] | None:
        props = self._properties(self.resources[logical_id])
        assert props.entries is not None
        entries = props.entries
        kind = entries.get("TargetType")
        if kind is None or self._scalar(kind, "a target type") != "lambda":
            return None
        targets = entries.get("Targets")
        if targets is None or not targets.items:
            raise self.error(
                targets or props, "a lambda target group needs Targets: [{Id: !GetAtt Function.Arn}]"
            )
        target = self._mapping_of(targets.items[0], ("Id", "AvailabilityZone", "Port"))
        id_node = self._required(targets.items[0], "Id", "!GetAtt Function.Arn")
        function = arn_name(self._string(id_node, "!GetAtt Function.Arn"))
        if function not in self.function_names.values():
            raise self.error(target["Id"], f"{function!r} is not a function of this template")
        multi = False
        attributes = entries.get("TargetGroupAttributes")
        for item in attributes.items or [] if attributes is not None else []:
            pair = self._mapping_of(item, ("Key", "Value"))
            if (
                "Key" in pair
                and self._scalar(pair["Key"], "an attribute") == "lambda.multi_value_headers.enabled"
            ):
                multi = str(self._scalar(pair["Value"], "true or false")).lower() == "true"
        return function, multi

    def _forwarded_group(self, actions: Node | None, groups: dict[str, tuple[str, bool]]) -> str | None:
        for action in (actions.items or []) if actions is not None else []:
            if action.entries is None:
                continue
            arns = [action.entries["TargetGroupArn"]] if "TargetGroupArn" in action.entries else []
            forward = action.entries.get("ForwardConfig")
            if forward is not None and forward.entries is not None and "TargetGroups" in forward.entries:
                arns += [
                    item.entries["TargetGroupArn"]
                    for item in forward.entries["TargetGroups"].items or []
                    if item.entries is not None and "TargetGroupArn" in item.entries
                ]
            for node in arns:
                target = self._ref_target(node)
                if target in groups:
                    return target
        return None

    def _listener_rule(
        self,
        logical_id: str,
        group: str,
        groups: dict[str, tuple[str, bool]],
        props: Node,
        priority: int,
        warnings: list[str],
    ) -> http.AlbRule:
        assert props.entries is not None
        conditions = props.entries.get("Conditions")
        found: dict[str, tuple[str, ...]] = {"path-pattern": (), "host-header": (), "http-request-method": ()}
        configs = {
            "path-pattern": "PathPatternConfig",
            "host-header": "HostHeaderConfig",
            "http-request-method": "HttpRequestMethodConfig",
        }
        for condition in (conditions.items or []) if conditions is not None else []:
            if condition.entries is None or "Field" not in condition.entries:
                raise self.error(condition, "expected a condition with Field and Values")
            field_name = self._string(condition.entries["Field"], "a condition field")
            if field_name not in found:
                warnings.append(
                    str(
                        self.error(
                            condition.entries["Field"], f"{field_name} conditions are not checked by lambench"
                        )
                    )
                )
                continue
            values_node = condition.entries.get("Values")
            config = condition.entries.get(configs[field_name])
            if values_node is None and config is not None and config.entries is not None:
                values_node = config.entries.get("Values")
            found[field_name] += self._strings(values_node, "a value")
        function, multi = groups[group]
        return http.AlbRule(
            group,
            function,
            priority,
            paths=found["path-pattern"],
            hosts=found["host-header"],
            methods=tuple(m.upper() for m in found["http-request-method"]),
            multi_value=multi,
            name=logical_id,
        )
