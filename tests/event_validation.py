"""Check a rendered event against aws-lambda-powertools' model of that event source.

A parser model (Pydantic) validates types and required fields. A data class is a lazy wrapper
over the dict, so it is checked by reading every public property, recursively: a property that
raises means the event lacks a field or has the wrong type.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

from aws_lambda_powertools.utilities import data_classes
from aws_lambda_powertools.utilities.data_classes.common import DictWrapper
from aws_lambda_powertools.utilities.parser import models

# Properties that decode or parse on demand (a body that is not JSON, a payload not base64) and
# so may raise for a valid event; the walk does not read them.
_DERIVED = frozenset(
    {
        "json_body",
        "decoded_body",
        "json_data",
        "decoded_data",
        "data_as_json",
        "data_as_text",
        "data_as_bytes",
        "json_value",
        "json_key",
        "decoded_value",
        "decoded_key",
        "decoded_headers",
        "decoded_secret",
        "raw_event",
        "parse_logs_data",
        "cloud_watch_logs_decoded_data",
        "resolve_event",
        "get_context",
        "decompress_logs_data",
        "user_parameters",
        "decoded_user_parameters",
        "input_bucket_name",
        "input_object_key",
        "fields",
        "decoded_nested_s3_event",
        "decoded_nested_sns_event",
    }
)


# Where a Powertools data class reads a field that the real event does not carry, the walk skips
# that property, with the evidence here.
_KNOWN_GAPS: dict[str, frozenset[str]] = {
    # ActiveMQEvent.connection_id reads "connectionId", which AWS's documented ActiveMQ event and
    # real captures do not have (only an early documentation draft showed it).
    "ActiveMQMessage": frozenset({"connection_id"}),
}


def validate(validated_by: Mapping[str, str], event: Any) -> str:
    """Validate `event`; returns how ("model" or "data_class") and raises AssertionError on a mismatch."""
    event = copy.deepcopy(event)  # some validators rewrite the dict they are given (Kafka headers)
    if "model_each" in validated_by:
        # Batched events (AppSync batch resolvers) are a list of single events.
        model = getattr(models, validated_by["model_each"])
        assert isinstance(event, list) and event, "a batch is a non-empty list"
        for item in event:
            model.model_validate(item)
        return "model"
    if "model" in validated_by:
        model = getattr(models, validated_by["model"])
        model.model_validate(event)
        return "model"
    data_class = _data_class(validated_by["data_class"])
    errors = list(_walk(data_class(event), data_class.__name__, set()))
    assert not errors, "; ".join(errors)
    return "data_class"


def _data_class(name: str) -> Any:
    if hasattr(data_classes, name):
        return getattr(data_classes, name)
    # Some data classes live only in their own module (Cognito, authorizers, MQ, IoT).
    import importlib
    import pkgutil

    for module_info in pkgutil.iter_modules(data_classes.__path__):
        module = importlib.import_module(f"{data_classes.__name__}.{module_info.name}")
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(f"no Powertools data class {name}")


def _walk(obj: Any, path: str, seen: set[int]) -> Iterator[str]:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    skipped = _DERIVED | _KNOWN_GAPS.get(type(obj).__name__, frozenset())
    for name, attr in inspect.getmembers(type(obj)):
        if name.startswith("_") or name in skipped or not isinstance(attr, (property, cached_property)):
            continue
        try:
            value = getattr(obj, name)
        except Exception as exc:
            yield f"{path}.{name}: {type(exc).__name__}: {exc}"
            continue
        yield from _walk_value(value, f"{path}.{name}", seen)


def _walk_value(value: Any, path: str, seen: set[int]) -> Iterator[str]:
    if isinstance(value, DictWrapper):
        yield from _walk(value, path, seen)
    elif isinstance(value, (list, tuple, map)) or inspect.isgenerator(value):
        for index, item in enumerate(value):
            yield from _walk_value(item, f"{path}[{index}]", seen)
