"""The catalog of built-in event templates: metadata, parameters, lookup and rendering.

Each template is a JSON file `templates/<service>/<name>.json` shipped as package data; each
service folder also holds `_service.json` with the service's display title. The file format:

    {
      "description": "one line",
      "delivery": "sync" | "async" | "poll",
      "validated_by": {"model": "S3Model"} | {"data_class": "S3Event"}
                      | {"model_each": "..."} (a list of events),             (optional)
      "params": {"bucket": {"default": "amzn-s3-demo-bucket", "help": "..."}, ...},
      "let": {"derived": "${expression}", ...},
      "event": { ... the event, see `render` ... }
    }

A parameter's type comes from its default (string, integer, number, boolean, object, array);
it may also give `choices`, `min` and `max` (for arrays and objects: how many items). Every
template also takes the common parameters `region`, `account` and `time`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

from lambench.core.events.expressions import ExpressionError
from lambench.core.events.render import bind, render
from lambench.core.record import field, record


class EventError(ValueError):
    """A user mistake with events: unknown service, template or parameter, or a bad value."""


class Delivery(Enum):
    """How Lambda receives an event from this source."""

    SYNC = "sync"
    ASYNC = "async"
    POLL = "poll"

    @property
    def label(self) -> str:
        """What the delivery means, in words."""
        return _DELIVERY_LABELS[self]


_DELIVERY_LABELS = {
    Delivery.SYNC: "synchronous (the caller waits for the response)",
    Delivery.ASYNC: "asynchronous (queued by Lambda, retried on error)",
    Delivery.POLL: "event source mapping (Lambda polls the source and invokes synchronously)",
}

_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is a subclass of int
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (dict, "object"),
    (list, "array"),
)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _kind_of(value: Any) -> str:
    for python_type, kind in _KINDS:
        if isinstance(value, python_type):
            return kind
    raise TypeError(f"a parameter default must be JSON, not {type(value).__name__}")


@record(frozen=True)
class Param:
    """One parameter of a template: its default, help text and the values it accepts."""

    name: str
    default: Any
    help: str
    kind: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: A value other than the default that shows what the parameter is for (tests render it too).
    example: Any = None

    @classmethod
    def from_json(cls, name: str, spec: Mapping[str, Any]) -> Param:
        """A parameter from its entry in a template file."""
        default = spec["default"]
        return cls(
            name=name,
            default=default,
            help=spec.get("help", ""),
            kind=spec.get("type") or _kind_of(default),
            choices=tuple(spec.get("choices", ())),
            minimum=spec.get("min"),
            maximum=spec.get("max"),
            example=spec.get("example"),
        )

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type; strings (from a command line) are parsed."""
        typed = self._parse(value) if isinstance(value, str) and self.kind != "string" else value
        if (
            self.kind in ("integer", "number")
            and isinstance(typed, (int, float))
            and not isinstance(typed, bool)
        ):
            if self.kind == "integer" and isinstance(typed, float):
                if not typed.is_integer():
                    raise EventError(f"parameter {self.name} must be a whole number, not {value!r}")
                typed = int(typed)
            if self.minimum is not None and typed < self.minimum:
                raise EventError(
                    f"parameter {self.name} must be at least {_number(self.minimum)}, not {typed}"
                )
            if self.maximum is not None and typed > self.maximum:
                raise EventError(
                    f"parameter {self.name} must be at most {_number(self.maximum)}, not {typed}"
                )
        if self.kind in ("array", "object") and isinstance(typed, (list, dict)):
            # For lists and objects, min and max bound the number of items.
            noun = "items" if self.kind == "array" else "entries"
            if self.minimum is not None and len(typed) < self.minimum:
                raise EventError(f"parameter {self.name} needs at least {_number(self.minimum)} {noun}")
            if self.maximum is not None and len(typed) > self.maximum:
                raise EventError(f"parameter {self.name} takes at most {_number(self.maximum)} {noun}")
        expected = {kind: python_type for python_type, kind in _KINDS}[self.kind]
        if not isinstance(typed, expected) or (
            self.kind in ("integer", "number") and isinstance(typed, bool)
        ):
            raise EventError(f"parameter {self.name} takes {_article(self.kind)}, not {value!r}")
        if self.choices and typed not in self.choices:
            raise EventError(
                f"parameter {self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}"
            )
        return typed

    def _parse(self, text: str) -> Any:
        if self.kind == "boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise EventError(f"parameter {self.name} takes true or false, not {text!r}")
        if self.kind == "integer":
            try:
                return int(text)
            except ValueError:
                raise EventError(f"parameter {self.name} takes a whole number, not {text!r}") from None
        if self.kind == "number":
            try:
                number = float(text)
            except ValueError:
                raise EventError(f"parameter {self.name} takes a number, not {text!r}") from None
            if not math.isfinite(number):
                raise EventError(f"parameter {self.name} takes a finite number, not {text!r}")
            return number
        try:
            return json.loads(text)
        except ValueError as exc:
            raise EventError(f"parameter {self.name} takes {_article(self.kind)} as JSON: {exc}") from None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


#: Parameters every template takes, so ARNs, regions and timestamps line up with the user's account.
COMMON_PARAMS: tuple[Param, ...] = (
    Param("region", "us-east-1", "AWS Region in ARNs and region fields", "string"),
    Param("account", "123456789012", "AWS account id in ARNs and account fields", "string"),
    Param(
        "time",
        "now",
        "the event's time: 'now' or an ISO 8601 timestamp such as 2024-05-01T12:00:00Z",
        "string",
    ),
)
_COMMON_NAMES = {param.name for param in COMMON_PARAMS}


def parse_time(text: str) -> datetime:
    """The `time` parameter as an aware UTC datetime."""
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise EventError(f"parameter time takes 'now' or an ISO 8601 timestamp, not {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@record(frozen=True)
class EventTemplate:
    """One built-in event template."""

    service: str
    name: str
    description: str
    delivery: Delivery
    params: tuple[Param, ...]
    validated_by: Mapping[str, str] = field(default_factory=dict)
    lets: Mapping[str, Any] = field(default_factory=dict, repr=False)
    event: Any = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """`service/name`, the way the CLI names a template."""
        return f"{self.service}/{self.name}"

    @property
    def all_params(self) -> tuple[Param, ...]:
        """The template's own parameters followed by the common ones."""
        return self.params + COMMON_PARAMS

    def param(self, name: str) -> Param:
        """One parameter by name; an unknown name is an error listing the valid ones."""
        for param in self.all_params:
            if param.name == name:
                return param
        valid = ", ".join(param.name for param in self.all_params)
        hint = _did_you_mean(name, [param.name for param in self.all_params])
        raise EventError(f"{self.key} has no parameter {name!r}{hint}; its parameters are: {valid}")

    def resolve(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter's value: defaults overridden by `values`, each checked and typed."""
        values = dict(values or {})
        for name in values:
            self.param(name)  # raises for an unknown name before anything renders
        return {
            param.name: param.coerce(values[param.name]) if param.name in values else param.default
            for param in self.all_params
        }

    def render(self, values: Mapping[str, Any] | None = None, *, now: datetime | None = None) -> Any:
        """The event, with `values` for parameters; `now` pins the clock (tests, replays)."""
        variables = self.resolve(values)
        pinned = now is not None and "time" not in (values or {})
        variables["now"] = now if pinned else parse_time(variables["time"])
        try:
            return render(self.event, bind(self.lets, variables))
        except ExpressionError as exc:
            own = [name for name in (values or {}) if name not in _COMMON_NAMES]
            if own:
                # The defaults render (the tests prove it), so the values given do not fit.
                raise EventError(
                    f"{self.key} cannot use the values given for {', '.join(own)} ({exc}); "
                    f"'lambench events show {self.service} {self.name}' describes each parameter"
                ) from None
            # A template fault, not a user mistake; name the file so it can be fixed.
            raise ExpressionError(f"template {self.key}: {exc}") from None

    def render_json(self, values: Mapping[str, Any] | None = None, *, indent: int | None = 2) -> str:
        """The rendered event as JSON text."""
        return json.dumps(self.render(values), indent=indent, ensure_ascii=False)


@record(frozen=True)
class Service:
    """An AWS service that invokes Lambda, and its templates."""

    key: str
    title: str
    templates: tuple[EventTemplate, ...]


class Catalog:
    """Built-in templates grouped by service, with lookups that explain what is valid."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._services = {service.key: service for service in sorted(services, key=lambda s: s.key)}

    @classmethod
    def builtin(cls) -> Catalog:
        """The templates shipped with lambench (loaded once per process)."""
        return _builtin_catalog()

    @property
    def services(self) -> list[Service]:
        """Every service, sorted by key."""
        return list(self._services.values())

    def templates(self, service: str | None = None) -> list[EventTemplate]:
        """Every template, or one service's."""
        if service is not None:
            return list(self.service(service).templates)
        return [template for entry in self._services.values() for template in entry.templates]

    def service(self, key: str) -> Service:
        """One service; an unknown key is an error listing the valid ones."""
        try:
            return self._services[key]
        except KeyError:
            hint = _did_you_mean(key, list(self._services))
            raise EventError(
                f"unknown service {key!r}{hint}; services are: {', '.join(self._services)}"
            ) from None

    def get(self, service: str, name: str | None = None) -> EventTemplate:
        """One template by service and name, or by `service/name` alone."""
        if name is None:
            if "/" not in service:
                raise EventError(f"name a template as SERVICE/NAME, e.g. s3/object-created, not {service!r}")
            service, name = service.split("/", 1)
        entry = self.service(service)
        for template in entry.templates:
            if template.name == name:
                return template
        names = [template.name for template in entry.templates]
        hint = _did_you_mean(name, names)
        raise EventError(f"unknown template {service}/{name}{hint}; {service} has: {', '.join(names)}")


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_template(service: str, name: str, data: Mapping[str, Any]) -> EventTemplate:
    """A template from its parsed file; a malformed file raises ValueError naming the problem."""
    unknown = set(data) - {"description", "delivery", "validated_by", "params", "let", "event"}
    if unknown:
        raise ValueError(f"template {service}/{name}: unknown keys {sorted(unknown)}")
    params = tuple(Param.from_json(key, spec) for key, spec in data.get("params", {}).items())
    clashes = {param.name for param in params} & _COMMON_NAMES
    if clashes:
        raise ValueError(
            f"template {service}/{name}: parameters {sorted(clashes)} are common to all templates"
        )
    return EventTemplate(
        service=service,
        name=name,
        description=data["description"],
        delivery=Delivery(data["delivery"]),
        params=params,
        validated_by=dict(data.get("validated_by", {})),
        lets=dict(data.get("let", {})),
        event=data["event"],
    )


def load_catalog(root: Path) -> Catalog:
    """Every template under `root` (one folder per service)."""
    services = []
    for folder in sorted(root.iterdir(), key=lambda entry: entry.name):
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        meta = json.loads(folder.joinpath("_service.json").read_text(encoding="utf-8"))
        templates = []
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            if entry.name.endswith(".json") and not entry.name.startswith("_"):
                data = json.loads(entry.read_text(encoding="utf-8"))
                templates.append(load_template(folder.name, entry.name[: -len(".json")], data))
        if templates:
            services.append(Service(key=folder.name, title=meta["title"], templates=tuple(templates)))
    return Catalog(services)


#: Where the built-in templates live (package data beside this module).
TEMPLATES_DIR = Path(__file__).with_name("templates")


def builtin_template(service: str, name: str | None = None) -> EventTemplate:
    """One built-in template (`service, name` or `service/name`), as `Catalog.builtin().get` finds it.

    Only the template's own file is read when it exists: `lambench events generate` and
    `invoke --event-template` need one template, and loading all of them is most of their run.
    Anything else (a typo, a bad name) goes to the catalog, for its errors and suggestions.
    """
    if name is None and "/" in service:
        service, name = service.split("/", 1)
    if name is not None and _is_plain_name(service) and _is_plain_name(name):
        path = TEMPLATES_DIR / service / f"{name}.json"
        if path.is_file():
            return load_template(service, name, json.loads(path.read_text(encoding="utf-8")))
    return Catalog.builtin().get(service, name)


def _is_plain_name(part: str) -> bool:
    # Never a path: no separators, no `..`, and not the `_service.json`-style metadata files.
    return bool(part) and not part.startswith(("_", ".")) and "/" not in part and "\\" not in part


@lru_cache(maxsize=1)
def _builtin_catalog() -> Catalog:
    # A plain path rather than importlib.resources: lambench is never run from a zip, and
    # importing importlib.resources costs more than loading every template.
    return load_catalog(TEMPLATES_DIR)
