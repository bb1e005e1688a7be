"""`lambench.core.record`: record classes behave as the standard library's dataclasses do."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from lambench.core.record import FrozenRecordError, as_dict, field, fields, is_record, record, replace


@record(frozen=True)
class Point:
    """A frozen record with plain and factory defaults."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = field(default="", compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class PointDataclass:
    """The same declaration as a dataclass, the reference `Point` is checked against."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)
    note: str = dataclasses.field(default="", compare=False, repr=False)


@record
class Counter:
    """A mutable record with a mutable factory default and a field left out of __init__."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    total: int = field(init=False, default=0)


@record(frozen=True, slots=True)
class Slotted:
    """A frozen record with slots."""

    a: int
    b: list[int] = field(default_factory=list)


@record(frozen=True)
class Checked:
    """A record that validates itself after __init__."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


@record(frozen=True)
class Measure:
    """One compared float field."""

    value: float


@dataclasses.dataclass(frozen=True)
class MeasureDataclass:
    """Measure as a dataclass."""

    value: float


@record
class Outer:
    """A record holding records, for as_dict."""

    points: list[Point]
    by_name: dict[str, Point]
    pair: tuple[Point, int]


def test_init_defaults_and_factories_match_the_dataclass() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags, Point(1).note) == (1, 0, (), "")
    assert Point(1, 2, ("a",), "n").tags == ("a",)
    assert Point(x=3, note="n").note == PointDataclass(x=3, note="n").note
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=2)  # type: ignore[call-arg]


def test_repr_is_the_dataclass_repr() -> None:
    assert repr(Point(1, 2, ("a",), "hidden")) == repr(PointDataclass(1, 2, ("a",), "hidden")).replace(
        "PointDataclass", "Point"
    )
    assert repr(Counter("c")) == "Counter(name='c', counts={}, total=0)"


def test_equality_and_hash_follow_the_compared_fields() -> None:
    assert Point(1, 2) == Point(1, 2, note="other")  # note is compare=False
    assert Point(1, 2) != Point(1, 3)
    assert hash(Point(1, 2)) == hash(Point(1, 2, note="other"))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert Point(1) != PointDataclass(1)  # type: ignore[comparison-overlap]
    # Fields compare as tuples do, identity first: the same NaN object is equal to itself.
    nan = float("nan")
    assert (Measure(nan) == Measure(nan)) is (MeasureDataclass(nan) == MeasureDataclass(nan)) is True
    assert (Measure(nan) == Measure(float("nan"))) is False


def test_a_mutable_record_is_unhashable_and_assignable() -> None:
    counter = Counter("c")
    counter.total += 2
    counter.counts["a"] = 1
    expected = Counter("c", {"a": 1})
    expected.total = 2
    assert counter == expected
    assert counter != Counter("c", {"a": 1})
    assert Counter("c").counts is not Counter("c").counts  # a fresh dict each time
    with pytest.raises(TypeError):
        hash(counter)


def test_frozen_records_refuse_assignment_and_deletion() -> None:
    point = Point(1)
    with pytest.raises(FrozenRecordError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):  # FrozenRecordError is an AttributeError, as dataclasses'
        del point.x
    assert point.x == 1


def test_slots_records_have_no_instance_dict_and_copy_and_pickle() -> None:
    value = Slotted(1, [2])
    assert not hasattr(value, "__dict__")
    assert Slotted.__slots__ == ("a", "b")
    with pytest.raises(FrozenRecordError):
        value.a = 3  # type: ignore[misc]
    assert copy.copy(value) == value
    assert copy.deepcopy(value).b is not value.b
    assert pickle.loads(pickle.dumps(value)) == value
    assert pickle.loads(pickle.dumps(Point(1, 2, ("t",)))) == Point(1, 2, ("t",))


def test_post_init_runs_after_the_fields_are_set() -> None:
    assert Checked(1, 2).high == 2
    with pytest.raises(ValueError, match="low above high"):
        Checked(3, 2)


def test_declaration_errors_match_the_dataclass_rules() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Misordered:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="mutable default"):

        @record
        class SharedList:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=int)  # type: ignore[call-overload]


def test_fields_replace_and_as_dict() -> None:
    assert [spec.name for spec in fields(Point)] == ["x", "y", "tags", "note"]
    assert [spec.name for spec in fields(Point(1))] == [f.name for f in dataclasses.fields(PointDataclass)]
    moved = replace(Point(1, 2, note="n"), y=5)
    assert moved == Point(1, 5) and moved.note == "n"
    with pytest.raises(TypeError, match="no field 'z'"):
        replace(Point(1), z=1)
    with pytest.raises(ValueError, match="not set by __init__"):
        replace(Counter("c"), total=3)
    with pytest.raises(TypeError, match="not a record"):
        fields(PointDataclass)
    outer = Outer([Point(1)], {"p": Point(2, tags=("t",))}, (Point(3), 4))
    expected = {
        "points": [{"x": 1, "y": 0, "tags": (), "note": ""}],
        "by_name": {"p": {"x": 2, "y": 0, "tags": ("t",), "note": ""}},
        "pair": ({"x": 3, "y": 0, "tags": (), "note": ""}, 4),
    }
    assert as_dict(outer) == expected
    assert as_dict(Point(1)) == dataclasses.asdict(PointDataclass(1))
    assert is_record(Point(1)) and not is_record(Point) and not is_record(PointDataclass(1))


def test_match_args_allow_positional_patterns() -> None:
    match Point(1, 2):
        case Point(1, y):
            assert y == 2
        case _:
            pytest.fail("the positional pattern did not match")
