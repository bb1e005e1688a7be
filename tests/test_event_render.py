"""The template language: expressions, directives and the functions that derive values."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from lambench.core.events.catalog import EventError, EventTemplate, Param, load_template, parse_time
from lambench.core.events.expressions import FUNCTIONS, ExpressionError, evaluate
from lambench.core.events.render import render

MOMENT = datetime(2024, 2, 9, 8, 5, 3, 123456, tzinfo=timezone.utc)


def test_a_whole_string_expression_keeps_its_type() -> None:
    assert render(
        {"n": "${size}", "o": "${headers}", "b": "${flag}"}, {"size": 3, "headers": {"a": 1}, "flag": True}
    ) == {
        "n": 3,
        "o": {"a": 1},
        "b": True,
    }


def test_interpolation_formats_values_as_json_text() -> None:
    variables = {"n": 7, "flag": False, "nothing": None, "items": [1, "x"], "name": "ünï"}
    assert render("${name}:${n}:${flag}:${nothing}:${items}", variables) == 'ünï:7:false:null:[1,"x"]'


def test_dollar_dollar_brace_writes_a_literal() -> None:
    assert render("cost $${price} is ${price}", {"price": 5}) == "cost ${price} is 5"


def test_braces_and_quotes_inside_an_expression() -> None:
    assert render("${ {'a': '}'}['a'] }!", {}) == "}!"
    assert render('${merge({"k": 1}, {"j": 2})}', {}) == {"k": 1, "j": 2}


def test_keys_interpolate() -> None:
    assert render({"${name}-key": 1}, {"name": "x"}) == {"x-key": 1}


def test_each_over_a_count_binds_i_and_lets() -> None:
    node = {"$each": "3", "let": {"double": "${i * 2}"}, "item": {"n": "${i}", "d": "${double}"}}
    assert render({"Records": node}, {}) == {
        "Records": [{"n": 0, "d": 0}, {"n": 1, "d": 2}, {"n": 2, "d": 4}]
    }


def test_each_over_a_list_binds_the_element_and_splices_into_a_list() -> None:
    node = ["first", {"$each": "names", "as": "who", "item": "${i}:${who}"}, "last"]
    assert render(node, {"names": ["a", "b"]}) == ["first", "0:a", "1:b", "last"]


def test_if_without_else_drops_the_key_or_element() -> None:
    node = {"kept": 1, "gone": {"$if": "flag", "then": 2}, "list": [1, {"$if": "flag", "then": 2}, 3]}
    assert render(node, {"flag": False}) == {"kept": 1, "list": [1, 3]}
    assert render(node, {"flag": True}) == {"kept": 1, "gone": 2, "list": [1, 2, 3]}
    assert render({"$if": "flag", "then": "yes", "else": "no"}, {"flag": False}) == "no"


def test_entries_maps_an_object() -> None:
    node = {"$entries": "attrs", "key": "${upper(key)}", "value": {"Type": "String", "Value": "${value}"}}
    assert render(node, {"attrs": {"a": "1"}}) == {"A": {"Type": "String", "Value": "1"}}
    assert render(node, {"attrs": None}) == {}


def test_json_and_let_directives() -> None:
    node = {
        "$let": {"body": {"x": "${n}"}},
        "in": {"text": {"$json": "${body}"}, "md5": "${md5(json(body))}"},
    }
    result = render(node, {"n": 1})
    assert result["text"] == '{"x":1}'
    assert result["md5"] == hashlib.md5(b'{"x":1}').hexdigest()


@pytest.mark.parametrize(
    "source",
    [
        "().__class__",
        "open('/etc/passwd')",
        "__import__('os')",
        "[x for x in range(3)]",
        "(lambda: 1)()",
        "str.upper('a')",
        "uuid(fn=1)",
        "a.upper()",
        "x := 1",
    ],
)
def test_anything_outside_the_whitelist_is_refused(source: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(source, {"a": "abc"})


def test_errors_name_the_expression() -> None:
    with pytest.raises(ExpressionError, match="unknown name 'missing'"):
        evaluate("missing + 1", {})
    with pytest.raises(ExpressionError, match=r"in 'n \+ \"a\"': TypeError"):
        evaluate('n + "a"', {"n": 1})
    with pytest.raises(ExpressionError, match="unclosed"):
        render("${oops", {})


def test_boolean_operators_short_circuit_like_python() -> None:
    assert evaluate("a and b", {"a": 0, "b": 1}) == 0
    assert evaluate("a or b", {"a": "", "b": "x"}) == "x"
    assert evaluate("1 < n <= 3", {"n": 3}) is True
    assert evaluate("'b' not in s", {"s": "abc"}) is False


def test_slices_and_identity_comparisons() -> None:
    assert evaluate("a[1:3]", {"a": "abcd"}) == "bc"
    assert evaluate("a[:2] + a[-1:]", {"a": "abcd"}) == "abd"
    assert evaluate("x is None", {"x": None}) is True
    assert evaluate("x is not None", {"x": 0}) is True


def test_text_helpers() -> None:
    assert FUNCTIONS["replace"]("<a> and <a>", "<a>", "b") == "b and b"
    assert FUNCTIONS["hexnum"](255, 8) == "000000ff"
    assert FUNCTIONS["utf8"]("hé") == [104, 195, 169]
    assert FUNCTIONS["without"]({"A": 1, "b": 2, "c": 3}, ["a"], "B") == {"c": 3}
    assert FUNCTIONS["iso_ms_offset"](MOMENT) == "2024-02-09T08:05:03.123+0000"


def test_derived_value_helpers() -> None:
    trace = FUNCTIONS["xray_trace_id"](MOMENT)
    assert (
        trace.startswith("1-65c5dcaf-") and len(trace) == 35 and trace != FUNCTIONS["xray_trace_id"](MOMENT)
    )
    assert FUNCTIONS["cfn_properties"]({"n": 1, "b": True, "l": [2.5, "x"], "m": {"k": None}}) == {
        "n": "1",
        "b": "true",
        "l": ["2.5", "x"],
        "m": {"k": None},
    }
    assert FUNCTIONS["last"](["a", "b"]) == "b" and FUNCTIONS["last"]("a") == "a"
    # DynamoDB's documented sizing: name bytes plus value; numbers by significant digits.
    assert (
        FUNCTIONS["dynamodb_size"]({"a": "héllo", "n": 100, "b": True, "z": None})
        == 1 + 6 + 1 + 2 + 1 + 1 + 1 + 1
    )
    assert FUNCTIONS["dynamodb_size"]({"l": [1, "ab"], "m": {}}) == (1 + 3 + (1 + 2) + (1 + 2)) + (1 + 3)


def test_time_formats() -> None:
    assert FUNCTIONS["iso"](MOMENT) == "2024-02-09T08:05:03Z"
    assert FUNCTIONS["iso_ms"](MOMENT) == "2024-02-09T08:05:03.123Z"
    assert FUNCTIONS["clf"](MOMENT) == "09/Feb/2024:08:05:03 +0000"
    assert FUNCTIONS["http_date"](MOMENT) == "Fri, 09 Feb 2024 08:05:03 GMT"
    assert FUNCTIONS["rfc2822"](MOMENT) == "Fri, 9 Feb 2024 08:05:03 +0000"
    assert FUNCTIONS["epoch_ms"](MOMENT) == 1707465903123
    assert FUNCTIONS["epoch_s"](MOMENT) == 1707465903
    assert FUNCTIONS["epoch"](MOMENT) == 1707465903.123
    assert FUNCTIONS["iso_ms"](FUNCTIONS["add_ms"](MOMENT, -124)) == "2024-02-09T08:05:02.999Z"


def test_encodings_round_trip() -> None:
    payload = {"logEvents": [{"message": "ü"}]}
    decoded = json.loads(gzip.decompress(base64.b64decode(FUNCTIONS["b64gzip"](payload))))
    assert decoded == payload
    assert base64.b64decode(FUNCTIONS["b64"]("héllo")).decode() == "héllo"
    assert FUNCTIONS["size"]("héllo") == 6
    assert FUNCTIONS["head_bytes"]("éé", 3) == "é".encode() + b"\xc3"
    assert FUNCTIONS["s3_key"]("a dir/red flower+x=1.jpg") == "a+dir/red+flower%2Bx%3D1.jpg"


def test_sqs_message_attribute_md5_matches_moto() -> None:
    # moto's SQS computes MD5OfMessageAttributes on its own; the two must agree.
    from moto.sqs.models import Message

    attributes = {
        "tenant": {"DataType": "String", "StringValue": "acme"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01bytes"},
    }
    message = Message("id", "body")
    message.message_attributes = attributes
    ours = {
        "tenant": {"dataType": "String", "stringValue": "acme"},
        "count": {"dataType": "Number", "stringValue": "42"},
        "blob": {"dataType": "Binary", "binaryValue": base64.b64encode(b"\x00\x01bytes").decode()},
    }
    assert FUNCTIONS["sqs_attributes_md5"](ours) == message.attribute_md5
    assert FUNCTIONS["sqs_attributes_md5"]({}) is None


def test_http_helpers() -> None:
    assert FUNCTIONS["query_single"]("a=1&a=2&b=") == {"a": "2", "b": ""}
    assert FUNCTIONS["query_multi"]("a=1&a=2&b=x%20y") == {"a": ["1", "2"], "b": ["x y"]}
    assert FUNCTIONS["query_joined"]("a=1&a=2") == {"a": "1,2"}
    assert FUNCTIONS["query_single"]("") is None
    assert FUNCTIONS["multi"]({"A": "1", "B": ["2", "3"]}) == {"A": ["1"], "B": ["2", "3"]}
    assert FUNCTIONS["cookies"]({"Cookie": "a=1; b=2"}) == ["a=1", "b=2"]
    assert FUNCTIONS["header"]({"Content-Type": "text/plain"}, "content-type") == "text/plain"
    assert FUNCTIONS["cloudfront_headers"]({"Host": "example.com"}) == {
        "host": [{"key": "Host", "value": "example.com"}]
    }
    assert FUNCTIONS["kafka_headers"]({"k": "hi"}) == [{"k": [104, 105]}]


def test_dynamodb_attribute_values() -> None:
    item = {"id": "a", "n": 2, "f": 1.5, "ok": True, "none": None, "tags": ["x"], "m": {"k": 1}}
    assert FUNCTIONS["dynamodb_item"](item) == {
        "id": {"S": "a"},
        "n": {"N": "2"},
        "f": {"N": "1.5"},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "tags": {"L": [{"S": "x"}]},
        "m": {"M": {"k": {"N": "1"}}},
    }


def test_fresh_values_differ_and_have_the_asked_length() -> None:
    for name in ("hex", "digits", "alnum", "upper_alnum"):
        first, second = FUNCTIONS[name](24), FUNCTIONS[name](24)
        assert len(first) == 24 and first != second
    assert FUNCTIONS["digits"](30)[0] != "0"
    assert len(base64.b64decode(FUNCTIONS["random_b64"](48))) == 48


# --- parameters -------------------------------------------------------------------------------


def _param(default: Any, **extra: Any) -> Param:
    return Param.from_json("p", {"default": default, "help": "h", **extra})


def test_parameters_parse_command_line_text_by_type() -> None:
    assert _param(1).coerce("5") == 5
    assert _param(1.5).coerce("2.25") == 2.25
    assert _param(True).coerce("no") is False
    assert _param({}).coerce('{"a": [1]}') == {"a": [1]}
    assert _param([]).coerce("[1, 2]") == [1, 2]
    assert _param("text").coerce("5") == "5"


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (_param(1), "x", "takes a whole number, not 'x'"),
        (_param(1), 1.5, "must be a whole number"),
        (_param(1, min=1, max=10), "0", "must be at least 1, not 0"),
        (_param(1, min=1, max=10), "11", "must be at most 10, not 11"),
        (_param(1.0), "nan", "takes a finite number"),
        (_param(True), "maybe", "takes true or false"),
        (_param({}), "[1]", "takes an object, not"),
        (_param({}), "{bad", "takes an object as JSON"),
        (_param("GET", choices=["GET", "POST"]), "PUT", "must be one of GET, POST, not 'PUT'"),
        (_param(1), True, "takes an integer"),
        (_param(["a"], min=1), "[]", "needs at least 1 items"),
        (_param({}, max=1), '{"a": 1, "b": 2}', "takes at most 1 entries"),
    ],
)
def test_bad_parameter_values_are_one_line_errors(param: Param, value: Any, message: str) -> None:
    with pytest.raises(EventError, match=message.replace("(", r"\(").replace("[", r"\[")):
        param.coerce(value)


def test_time_parameter_accepts_iso_8601_and_now() -> None:
    assert parse_time("2024-02-29T23:59:59.5Z") == datetime(
        2024, 2, 29, 23, 59, 59, 500000, tzinfo=timezone.utc
    )
    assert parse_time("2024-02-29T10:00:00+02:00").hour == 8
    assert abs((parse_time("now") - datetime.now(timezone.utc)).total_seconds()) < 5
    with pytest.raises(EventError, match="takes 'now' or an ISO 8601 timestamp"):
        parse_time("yesterday")


def _template(**overrides: Any) -> EventTemplate:
    data: dict[str, Any] = {
        "description": "Test.",
        "delivery": "sync",
        "params": {
            "name": {"default": "x", "help": "a name"},
            "count": {"default": 1, "help": "n", "min": 1},
        },
        "let": {"upper_name": "${upper(name)}"},
        "event": {"n": "${upper_name}", "c": "${count}", "t": "${iso(now)}", "r": "${region}:${account}"},
    }
    data.update(overrides)
    return load_template("test", "sample", data)


def test_template_renders_params_lets_and_common_params() -> None:
    template = _template()
    assert template.render({"name": "ab", "count": "3", "region": "eu-west-1"}, now=MOMENT) == {
        "n": "AB",
        "c": 3,
        "t": "2024-02-09T08:05:03Z",
        "r": "eu-west-1:123456789012",
    }
    # An explicit time beats the pinned clock.
    assert template.render({"time": "2020-01-01T00:00:00Z"}, now=MOMENT)["t"] == "2020-01-01T00:00:00Z"


def test_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(
        EventError,
        match=r"test/sample has no parameter 'nme' \(did you mean 'name'\?\); "
        r"its parameters are: name, count, region, account, time",
    ):
        _template().render({"nme": "x"})


def test_values_a_template_cannot_use_are_a_user_error() -> None:
    template = _template(
        params={"names": {"default": ["a"], "help": "h"}}, let={}, event={"first": "${names[0]}"}
    )
    assert template.render() == {"first": "a"}
    with pytest.raises(
        EventError, match=r"test/sample cannot use the values given for names \(in 'names\[0\]'"
    ):
        template.render({"names": []})


def test_a_broken_template_names_itself() -> None:
    template = _template(event={"x": "${nope}"})
    with pytest.raises(ExpressionError, match="template test/sample: in 'nope'"):
        template.render()


def test_template_files_are_checked_when_loaded() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        _template(evnt={})
    with pytest.raises(ValueError, match="common to all templates"):
        _template(params={"region": {"default": "x", "help": "h"}})
