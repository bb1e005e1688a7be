"""The runtime's start-up-friendly JSON path produces exactly what the `json` package produces."""

from __future__ import annotations

import decimal
import importlib
import json
import re
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from lambench.core.runtime.envvars import PYTHON_RUNTIME_DIR

VALUES: list[object] = [
    {"a": [1, 2.5, -0.0, 1e300, 10**40, True, False, None], "ü": 'snow ☃ \u2028 \x00 "q" \\'},
    "just a string",
    [],
    {},
    3,
    float("nan"),
    [float("inf"), float("-inf")],
    {1: "int key", 2.5: "float key", None: "none key", False: "bool key"},
    [[[[{"deep": [1]}]]]],
]


@pytest.fixture(scope="module")
def runtime() -> Iterator[ModuleType]:
    sys.path.insert(0, str(PYTHON_RUNTIME_DIR))
    try:
        yield importlib.import_module("lambench_python_runtime")
    finally:
        sys.path.remove(str(PYTHON_RUNTIME_DIR))


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_dumps_matches_json(runtime: ModuleType, ensure_ascii: bool) -> None:
    marshaller = runtime._Marshaller(ensure_ascii=ensure_ascii)
    for value in VALUES:
        assert marshaller.dumps(value) == json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=True)


def test_decimal_is_a_raw_number_and_errors_match(runtime: ModuleType) -> None:
    marshaller = runtime._Marshaller(ensure_ascii=True)
    assert marshaller.dumps({"price": decimal.Decimal("1.10"), "n": [decimal.Decimal("NaN")]}) == (
        '{"price": 1.10, "n": [NaN]}'
    )
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"^Circular reference detected$"):
        marshaller.dumps(loop)
    # The failed call leaves no markers behind: the same object graph without the loop encodes.
    shared = [1]
    assert marshaller.dumps([shared, shared]) == "[[1], [1]]"
    with pytest.raises(TypeError, match=r"^Object of type set is not JSON serializable$"):
        marshaller.dumps({"s": {1}})
    with pytest.raises(TypeError) as caught:
        json.dumps({(1, 2): 0})
    with pytest.raises(TypeError, match=f"^{re.escape(str(caught.value))}$"):
        marshaller.dumps({(1, 2): 0})


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": [1, 2.5, -1e-7, 123456789012345678901234567890, true, false, null]}',
        b'  \n\t"padded"\r\n ',
        b"[NaN, Infinity, -Infinity]",
        '{"ü": "\\u00fc\\ud83d\\ude00"}'.encode(),
        b'\xef\xbb\xbf{"bom": 1}',
        b"0",
    ],
)
def test_loads_matches_json(runtime: ModuleType, text: bytes) -> None:
    expected = json.loads(text)
    assert repr(runtime._json_loads(text)) == repr(expected)


@pytest.mark.parametrize("text", [b"", b"{", b'{"a": 1} extra', b"[1,]", b"'single'"])
def test_loads_errors_are_json_errors(runtime: ModuleType, text: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as actual:
        runtime._json_loads(text)
    assert str(actual.value) == str(expected.value)
