"""The expression language inside event templates: a small, safe subset of Python.

Templates compute derived values (`md5(body)`, `epoch_ms(now)`, `b64gzip(json(payload))`) with
expressions written between `${` and `}`. They are parsed with `ast` and evaluated by walking a
whitelist of node types, so a template can call only the functions in `FUNCTIONS` and can never
reach attributes, imports or builtins.
"""

from __future__ import annotations

import ast
import base64
import json as _json
import operator
import os
import random
import string
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from lambench.core.digests import md5, md5_hex, sha256_hex

# gzip and urllib.parse are imported where they are used: `lambench events`
# and the TUI's picker load this module, and those imports would double its start-up.


class ExpressionError(ValueError):
    """An expression that does not parse or does not evaluate (a fault in the template)."""


# --- the functions a template may call --------------------------------------------------------


def _uuid4() -> str:
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _hex(length: int) -> str:
    return os.urandom((length + 1) // 2).hex()[:length]


# Ids in sample events need to be unique, not unguessable: the `random` module draws them many
# times faster than `secrets`, and it is reseeded in a forked child.
_ALNUM = string.ascii_letters + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits


def _digits(length: int) -> str:
    # A leading zero would make sequence numbers lose a digit once they go through int().
    return random.choice("123456789") + "".join(random.choices(string.digits, k=length - 1))


def _alnum(length: int) -> str:
    return "".join(random.choices(_ALNUM, k=length))


def _upper_alnum(length: int) -> str:
    return "".join(random.choices(_UPPER_ALNUM, k=length))


def _random_b64(nbytes: int) -> str:
    return base64.b64encode(os.urandom(nbytes)).decode()


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return _compact_json(value).encode()


def _compact_json(value: Any) -> str:
    return _json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _b64(value: Any) -> str:
    return base64.b64encode(_as_bytes(value)).decode()


def _b64gzip(value: Any) -> str:
    import gzip

    # mtime=0 keeps the compressed bytes a pure function of the input.
    return base64.b64encode(gzip.compress(_as_bytes(value), mtime=0)).decode()


def _md5(value: Any) -> str:
    return md5_hex(_as_bytes(value))


def _sha256(value: Any) -> str:
    return sha256_hex(_as_bytes(value))


def _size(value: Any) -> int:
    return len(_as_bytes(value))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(moment: datetime) -> str:
    moment = _utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _epoch_s(moment: datetime) -> int:
    return int(moment.timestamp())


def _epoch(moment: datetime) -> float:
    # Kinesis's approximateArrivalTimestamp: seconds with millisecond precision.
    return round(moment.timestamp(), 3)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _clf(moment: datetime) -> str:
    # API Gateway's requestTime, Common Log Format with English month names whatever the locale.
    moment = _utc(moment)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def _http_date(moment: datetime) -> str:
    # RFC 7231 IMF-fixdate, locale independent: "Sun, 06 Nov 1994 08:49:37 GMT".
    moment = _utc(moment)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment:%H:%M:%S} GMT"
    )


def _rfc2822(moment: datetime) -> str:
    # Mail Date header as SES shows it: "Wed, 7 Oct 2015 12:34:56 +0000".
    moment = _utc(moment)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day} {_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment:%H:%M:%S} +0000"
    )


def _iso_ms_offset(moment: datetime) -> str:
    # CloudWatch alarms and CodeCommit write milliseconds with a numeric offset: ...00.123+0000.
    return _iso_ms(moment)[:-1] + "+0000"


def _strftime(moment: datetime, fmt: str) -> str:
    return _utc(moment).strftime(fmt)


def _add_ms(moment: datetime, milliseconds: float) -> datetime:
    return moment + timedelta(milliseconds=milliseconds)


def _query_single(query: str) -> dict[str, str] | None:
    from urllib.parse import parse_qsl

    # API Gateway v1 and ALB: the last value of a repeated name wins; no query gives null.
    pairs = parse_qsl(query, keep_blank_values=True)
    return dict(pairs) if pairs else None


def _query_multi(query: str) -> dict[str, list[str]] | None:
    from urllib.parse import parse_qsl

    result: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        result.setdefault(key, []).append(value)
    return result or None


def _query_joined(query: str) -> dict[str, str] | None:
    # HTTP API (v2) and function URLs join repeated values with commas.
    multi = _query_multi(query)
    return {key: ",".join(values) for key, values in multi.items()} if multi else None


def _multi(mapping: Mapping[str, Any] | None) -> dict[str, list[Any]] | None:
    if mapping is None:
        return None
    return {key: value if isinstance(value, list) else [value] for key, value in mapping.items()}


def _lower_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in mapping.items()}


def _merge(*mappings: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mapping in mappings:
        if mapping:
            merged.update(mapping)
    return merged


def _without(mapping: Mapping[str, Any], *keys: str | list[str]) -> dict[str, Any]:
    # Names may come one by one or as a list; matching ignores case, as header names do.
    names = [name for key in keys for name in (key if isinstance(key, list) else [key])]
    lowered = {name.lower() for name in names}
    return {key: value for key, value in mapping.items() if key.lower() not in lowered}


def _get(mapping: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    return default if mapping is None else mapping.get(key, default)


def _header(headers: Mapping[str, Any] | None, name: str, default: Any = None) -> Any:
    # HTTP header names are case-insensitive; templates look them up without caring.
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return default


def _cookies(headers: Mapping[str, Any] | None) -> list[str] | None:
    cookie = _header(headers, "cookie")
    if not cookie:
        return None
    return [part.strip() for part in str(cookie).split(";") if part.strip()]


def _cloudfront_headers(headers: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    # Lambda@Edge: lower-case keys, each a list of {"key": original name, "value": value}.
    result: dict[str, list[dict[str, str]]] = {}
    for key, value in headers.items():
        values = value if isinstance(value, list) else [value]
        result.setdefault(key.lower(), []).extend({"key": key, "value": str(item)} for item in values)
    return result


def _dynamodb_value(value: Any) -> dict[str, Any]:
    """A plain JSON value in DynamoDB's attribute-value form ({"S": ...}, {"N": ...}, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [_dynamodb_value(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {key: _dynamodb_value(item) for key, item in value.items()}}
    raise ExpressionError(f"cannot express {type(value).__name__} as a DynamoDB attribute value")


def _dynamodb_item(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {key: _dynamodb_value(value) for key, value in item.items()}


def _sqs_attributes_md5(attributes: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """SQS's MD5OfMessageAttributes: an MD5 over each attribute's length-prefixed name, type and value."""
    if not attributes:
        return None
    digest = md5()
    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = str(attribute.get("dataType") or attribute.get("DataType") or "String")

        def field(data: bytes) -> None:
            digest.update(len(data).to_bytes(4, "big") + data)

        field(name.encode())
        field(data_type.encode())
        if data_type.startswith("Binary"):
            digest.update(b"\x02")
            raw = attribute.get("binaryValue") or attribute.get("BinaryValue") or ""
            field(base64.b64decode(raw))
        else:
            digest.update(b"\x01")
            field(str(attribute.get("stringValue") or attribute.get("StringValue") or "").encode())
    return str(digest.hexdigest())


def _dynamodb_size(item: Mapping[str, Any] | None) -> int:
    """An item's size as DynamoDB counts it (attribute names plus values), for SizeBytes."""
    return sum(len(name.encode()) + _attribute_size(value) for name, value in (item or {}).items())


def _attribute_size(value: Any) -> int:
    # DynamoDB's documented sizing: strings by UTF-8 length, numbers about one byte per two
    # significant digits plus one, booleans and null one byte, lists and maps three bytes of
    # overhead plus one per element on top of their contents.
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        digits = str(abs(value)).replace(".", "").lstrip("0").rstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list):
        return 3 + sum(1 + _attribute_size(item) for item in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(str(key).encode()) + _attribute_size(item) for key, item in value.items())
    return len(_compact_json(value).encode())


def _kafka_headers(headers: Mapping[str, Any]) -> list[dict[str, list[int]]]:
    # Kafka record headers reach Lambda as byte arrays: [{"name": [104, 105]}].
    return [{key: list(str(value).encode())} for key, value in headers.items()]


def _utf8(text: str) -> list[int]:
    return list(str(text).encode())


def _xray_trace_id(moment: datetime) -> str:
    # X-Ray trace ids: version 1, the epoch second in 8 hex digits, then 96 random bits.
    return f"1-{int(moment.timestamp()) & 0xFFFFFFFF:08x}-{os.urandom(12).hex()}"


def _cfn_properties(value: Any) -> Any:
    """Resource properties as CloudFormation passes them: every scalar becomes a string."""
    if isinstance(value, dict):
        return {key: _cfn_properties(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cfn_properties(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _last(value: Any) -> Any:
    # A header or query value that may be a string or a list of them: the last one wins.
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _head_bytes(value: Any, limit: int) -> bytes:
    # Services cap bodies in bytes (Lambda@Edge: 40 KB viewer, 1 MB origin), not characters.
    return _as_bytes(value)[: int(limit)]


def _s3_key(key: str) -> str:
    from urllib.parse import quote_plus

    # S3 notifications form-encode keys ("a b" -> "a+b") but leave the slashes.
    return quote_plus(key, safe="/")


def _quote(text: str, safe: str = "/") -> str:
    from urllib.parse import quote

    return quote(text, safe=safe)


def _loads(text: str) -> Any:
    try:
        return _json.loads(text)
    except ValueError:
        return text


def _int(value: Any) -> int:
    return int(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # fresh values
    "uuid": _uuid4,
    "hex": _hex,
    "digits": _digits,
    "alnum": _alnum,
    "upper_alnum": _upper_alnum,
    "random_b64": _random_b64,
    "xray_trace_id": _xray_trace_id,
    # encodings and digests
    "b64": _b64,
    "b64gzip": _b64gzip,
    "md5": _md5,
    "sha256": _sha256,
    "sqs_attributes_md5": _sqs_attributes_md5,
    "size": _size,
    "head_bytes": _head_bytes,
    "json": _compact_json,
    "loads": _loads,
    "s3_key": _s3_key,
    "quote": _quote,
    # time
    "iso": _iso,
    "iso_ms": _iso_ms,
    "iso_ms_offset": _iso_ms_offset,
    "epoch_ms": _epoch_ms,
    "epoch_s": _epoch_s,
    "epoch": _epoch,
    "clf": _clf,
    "http_date": _http_date,
    "rfc2822": _rfc2822,
    "strftime": _strftime,
    "add_ms": _add_ms,
    # HTTP shapes
    "query_single": _query_single,
    "query_multi": _query_multi,
    "query_joined": _query_joined,
    "multi": _multi,
    "lower_keys": _lower_keys,
    "header": _header,
    "cookies": _cookies,
    "cloudfront_headers": _cloudfront_headers,
    "kafka_headers": _kafka_headers,
    # data
    "dynamodb_item": _dynamodb_item,
    "dynamodb_size": _dynamodb_size,
    "cfn_properties": _cfn_properties,
    "last": _last,
    "utf8": _utf8,
    "merge": _merge,
    "without": _without,
    "get": _get,
    "keys": lambda mapping: list(mapping),
    "len": len,
    "str": str,
    "int": _int,
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "split": lambda text, sep: str(text).split(sep),
    "replace": lambda text, old, new: str(text).replace(old, new),
    "hexnum": lambda number, width: format(int(number), f"0{int(width)}x"),
    "join": lambda items, sep: sep.join(str(item) for item in items),
}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda left, right: left in right,
    ast.NotIn: lambda left, right: left not in right,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> ast.expr:
    """Parse one expression, rejecting anything outside the whitelist before it ever runs."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"bad expression {source!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(f"bad expression {source!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords
        ):
            raise ExpressionError(f"bad expression {source!r}: only calls to known functions are allowed")
    return tree.body


_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.BinOp,
    ast.UnaryOp,
    ast.USub,
    ast.Not,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Compare,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
    ast.Call,
    *_BINARY,
    *_COMPARE,
)


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate one expression against the template's variables."""
    node = compile_expression(source)
    try:
        return _eval(node, variables)
    except ExpressionError:
        raise
    except NameError as exc:
        raise ExpressionError(f"in {source!r}: {exc}") from None
    except Exception as exc:
        raise ExpressionError(f"in {source!r}: {type(exc).__name__}: {exc}") from None


def _eval(node: ast.expr, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in variables:
            return variables[node.id]
        raise NameError(f"unknown name {node.id!r}")
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(item, variables) for item in node.elts]
    if isinstance(node, ast.Dict):
        return {
            _eval(key, variables): _eval(value, variables)
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        }
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, variables), _eval(node.right, variables))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, variables)
        return -operand if isinstance(node.op, ast.USub) else not operand
    if isinstance(node, ast.BoolOp):
        result: Any = None
        for value_node in node.values:
            result = _eval(value_node, variables)
            # Short-circuit the way Python does: `and` stops at a falsy value, `or` at a truthy one.
            if isinstance(node.op, ast.And) != bool(result):
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left, variables)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, variables)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, variables) else node.orelse
        return _eval(branch, variables)
    if isinstance(node, ast.Subscript):
        container = _eval(node.value, variables)
        if isinstance(node.slice, ast.Slice):
            bounds = (node.slice.lower, node.slice.upper, node.slice.step)
            return container[slice(*(None if part is None else _eval(part, variables) for part in bounds))]
        return container[_eval(node.slice, variables)]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)  # compile_expression guarantees it
        return FUNCTIONS[node.func.id](*(_eval(arg, variables) for arg in node.args))
    raise ExpressionError(f"{type(node).__name__} is not allowed")
