"""Which route a request takes, as API Gateway chooses: the most specific path, then the method.

Paths are compared segment by segment: a literal segment beats a `{parameter}`, which beats a
greedy `{name+}` (which must be last and takes one or more segments). An exact method beats `ANY`;
an HTTP API's `$default` route takes what nothing else matched.

Locally every API shares one port. A request whose first segment is an API's stage (`/Prod/...`,
as on AWS) goes to that API; any other request is matched against every API's routes at the root
(as `sam local start-api` serves them), and `routes_reader` refuses two APIs whose routes would
then collide.
"""

from __future__ import annotations

from urllib.parse import unquote

from lambench.core.http.model import DEFAULT_ROUTE, HTTP, Api, HttpFrontDoors, Route
from lambench.core.record import record

# Segment kinds, in order of precedence.
_LITERAL, _PARAMETER, _GREEDY = 0, 1, 2


def segments(path: str) -> list[str]:
    """`/items/{id}/` -> ['items', '{id}']; the root is no segments."""
    return [part for part in path.strip("/").split("/") if part] if path.strip("/") else []


def _kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAMETER
    return _LITERAL


def path_rank(path: str) -> tuple[int, ...]:
    """How specific a route path is: smaller sorts first (literal < parameter < greedy, by segment)."""
    return tuple(_kind(segment) for segment in segments(path))


def route_conflict(first: Route, second: Route) -> bool:
    """True when two routes are the same route: the same method and path shape."""
    if first.method != second.method:
        return False
    if first.path == DEFAULT_ROUTE or second.path == DEFAULT_ROUTE:
        return first.path == second.path

    def shape(path: str) -> list[str]:
        return [
            segment if _kind(segment) == _LITERAL else "{}" if _kind(segment) == _PARAMETER else "{+}"
            for segment in segments(path)
        ]

    return shape(first.path) == shape(second.path)


def match_path(pattern: str, path: str) -> dict[str, str] | None:
    """The path parameters when `path` (percent-encoded) fits `pattern`, else None.

    Parameter values are percent-decoded (unconfirmed for every character: AWS's documentation
    shows only plain values); a greedy parameter keeps its slashes.
    """
    wanted = segments(pattern)
    given = segments(path)
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        kind = _kind(segment)
        if kind == _GREEDY:
            rest = given[index:]
            if not rest:
                return None
            parameters[segment[1:-2]] = unquote("/".join(rest))
            return parameters
        if index >= len(given):
            return None
        if kind == _PARAMETER:
            parameters[segment[1:-1]] = unquote(given[index])
        elif segment != given[index]:
            return None
    return parameters if len(given) == len(wanted) else None


@record(frozen=True)
class RouteMatch:
    """The route a request takes, its API, its path parameters and the path without the stage."""

    route: Route
    api: Api
    path_parameters: dict[str, str]
    path: str
    staged: bool


@record(frozen=True)
class NoRoute:
    """No route took the request: `api` is the API its stage named, else the API that has a route
    on this path for another method (a CORS preflight is answered with that API's settings)."""

    api: Api | None
    path_exists: bool


class RouteTable:
    """The routes of every API, sorted by precedence; `match` is what the front door asks."""

    def __init__(self, doors: HttpFrontDoors) -> None:
        self.apis = doors.apis
        self._by_api: dict[str, list[Route]] = {}
        for route in doors.routes:
            self._by_api.setdefault(route.api_id, []).append(route)
        for routes in self._by_api.values():
            routes.sort(key=_precedence)
        self._all = sorted(doors.routes, key=_precedence)
        self._stages = {api.stage: api for api in doors.apis.values() if api.path_prefix}

    def match(self, method: str, path: str) -> RouteMatch | NoRoute:
        """The route for `method` and the percent-encoded `path`, or why there is none."""
        parts = segments(path)
        staged_api = self._stages.get(parts[0]) if parts else None
        if staged_api is not None:
            inner = "/" + "/".join(parts[1:])
            found = self._find(self._by_api.get(staged_api.api_id, []), method, inner, staged=True)
            if found is not None:
                return found
            owner = self._path_owner(self._by_api.get(staged_api.api_id, []), inner)
            return NoRoute(staged_api, owner is not None)
        found = self._find(self._all, method, path, staged=False)
        if found is not None:
            return found
        owner = self._path_owner(self._all, path)
        return NoRoute(self.apis[owner.api_id] if owner is not None else None, owner is not None)

    def _find(self, routes: list[Route], method: str, path: str, *, staged: bool) -> RouteMatch | None:
        fallback: Route | None = None
        for route in routes:
            if route.path == DEFAULT_ROUTE:
                fallback = fallback or route
                continue
            if route.method not in (method, "ANY"):
                continue
            parameters = match_path(route.path, path)
            if parameters is not None:
                return RouteMatch(route, self.apis[route.api_id], parameters, path, staged)
        if fallback is not None:
            return RouteMatch(fallback, self.apis[fallback.api_id], {}, path, staged)
        return None

    @staticmethod
    def _path_owner(routes: list[Route], path: str) -> Route | None:
        return next(
            (r for r in routes if r.path != DEFAULT_ROUTE and match_path(r.path, path) is not None), None
        )

    @property
    def http_only(self) -> bool:
        """True when every API is an HTTP API (a miss is then answered as HTTP APIs answer it)."""
        return bool(self.apis) and all(api.kind == HTTP for api in self.apis.values())


def _precedence(route: Route) -> tuple[object, ...]:
    # $default last; then by path specificity, longer literal prefixes first; exact methods first.
    if route.path == DEFAULT_ROUTE:
        return (1, (), 1)
    return (0, path_rank(route.path), route.method == "ANY")
