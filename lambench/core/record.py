"""Record classes: what lambench's core uses where the standard library offers `dataclasses`.

A one-shot `lambench invoke` defines some forty record classes before it runs anything. On the
Pythons we support, `@dataclasses.dataclass` compiles each generated method separately and pulls
in `inspect` (with `ast`, `dis` and `tokenize`): about 0.8 ms a class, a fifth of the command's
wall time. `@record` gives the same methods (`__init__` calling `__post_init__` when there is one,
`__repr__`, `__eq__`, `__hash__` when frozen, frozen `__setattr__`/`__delattr__`, `__slots__`,
`__match_args__`) and compiles only `__init__`, with the standard library's semantics for what
lambench uses: defaults, `field(default_factory=..., init=..., repr=..., compare=...)`, `frozen`
and `slots`.

Records are not dataclasses to `dataclasses.fields()`; use this module's `fields`, `replace` and
`as_dict` on them. Type checkers read `@record` through `dataclass_transform` (PEP 681), so they
check constructor calls exactly as they would a dataclass's.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    # Type checkers know it for every Python we support; at run time it only marks the decorator.
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_options: Any) -> Callable[[_F], _F]:
        return lambda decorator: decorator


_T = TypeVar("_T")
_F = TypeVar("_F")

#: A field without a default (and a factory field's "argument not given").
_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


class FrozenRecordError(AttributeError):
    """Raised on assigning to (or deleting) a field of a frozen record."""


class Field:
    """One field of a record class: its name and how `__init__`, `__repr__` and `__eq__` treat it."""

    __slots__ = ("compare", "default", "default_factory", "init", "name", "repr")

    def __init__(
        self,
        *,
        default: Any = _MISSING,
        default_factory: Any = _MISSING,
        init: bool = True,
        repr: bool = True,
        compare: bool = True,
    ) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    @property
    def has_default(self) -> bool:
        """Whether `__init__` can fill the field without an argument."""
        return self.default is not _MISSING or self.default_factory is not _MISSING

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, init={self.init})"


@overload
def field(*, default: _T, init: bool = True, repr: bool = True, compare: bool = True) -> _T: ...
@overload
def field(
    *, default_factory: Callable[[], _T], init: bool = True, repr: bool = True, compare: bool = True
) -> _T: ...
@overload
def field(*, init: bool = True, repr: bool = True, compare: bool = True) -> Any: ...
def field(
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """Declare a record field with a factory default, or left out of `__init__`/`__repr__`/`__eq__`."""
    return Field(default=default, default_factory=default_factory, init=init, repr=repr, compare=compare)


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: type[_T] | None = None, /, *, frozen: bool = False, slots: bool = False) -> Any:
    """Make `cls` a record class from its annotated fields (`@record` or `@record(frozen=True)`)."""

    def wrap(target: type[_T]) -> type[_T]:
        return _build(target, frozen=frozen, slots=slots)

    return wrap if cls is None else wrap(cls)


def fields(record_or_class: Any) -> tuple[Field, ...]:
    """The fields of a record (or record class), in declaration order."""
    try:
        return record_or_class.__record_fields__  # type: ignore[no-any-return]
    except AttributeError:
        raise TypeError(f"{record_or_class!r} is not a record") from None


def is_record(value: Any) -> bool:
    """Whether `value` is a record instance (not a record class)."""
    return not isinstance(value, type) and hasattr(type(value), "__record_fields__")


def replace(value: _T, /, **changes: Any) -> _T:
    """A copy of the record `value` with `changes` applied to its fields."""
    known = fields(value)
    for spec in known:
        if not spec.init and spec.name in changes:
            raise ValueError(f"field {spec.name!r} is not set by __init__ and cannot be replaced")
    unknown = set(changes) - {spec.name for spec in known}
    if unknown:
        raise TypeError(f"{type(value).__qualname__} has no field {sorted(unknown)[0]!r}")
    arguments = {spec.name: getattr(value, spec.name) for spec in known if spec.init}
    arguments.update(changes)
    return type(value)(**arguments)


def as_dict(value: Any) -> Any:
    """`value` with every record in it turned into a dict of its fields, recursively.

    Lists, tuples and dicts are rebuilt with their items converted; anything else is returned as
    it is (records hold plain values: the copy the standard library's `asdict` makes is not needed).
    """
    if is_record(value):
        return {spec.name: as_dict(getattr(value, spec.name)) for spec in fields(value)}
    if isinstance(value, list):
        return [as_dict(item) for item in value]
    if isinstance(value, tuple):
        return tuple(as_dict(item) for item in value)
    if isinstance(value, dict):
        return {as_dict(key): as_dict(item) for key, item in value.items()}
    return value


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r}")


def _slots_getstate(self: Any) -> list[Any]:
    return [getattr(self, name) for name in type(self).__slots__]


def _slots_setstate(self: Any, state: list[Any]) -> None:
    # Frozen records refuse setattr; unpickling and copy.copy fill the slots directly.
    for name, value in zip(type(self).__slots__, state, strict=True):
        object.__setattr__(self, name, value)


def _collect(cls: type) -> list[Field]:
    """The fields `cls` declares, with class-level defaults and `field()` specs resolved."""
    specs = []
    seen_default = False
    # The class's own annotations, read directly: `inspect.get_annotations` would import `inspect`.
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, Field):
            spec = value
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
        else:
            spec = Field(default=value)
        if isinstance(spec.default, (list, dict, set, bytearray)):
            raise ValueError(f"mutable default for field {name!r} is not allowed: use default_factory")
        spec.name = name
        if spec.init:
            if spec.has_default:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        specs.append(spec)
    return specs


def _init_source(specs: list[Field], frozen: bool, post_init: bool) -> str:
    """`__init__`'s source: the one method compiled per class (its signature is the class's own)."""
    parameters = ["self"]
    body = []
    for spec in specs:
        name = spec.name
        if spec.init:
            if spec.default is not _MISSING:
                parameters.append(f"{name}=_default_{name}")
            elif spec.default_factory is not _MISSING:
                parameters.append(f"{name}=_MISSING")
            else:
                parameters.append(name)
            if spec.default_factory is not _MISSING:
                value = f"_factory_{name}() if {name} is _MISSING else {name}"
            else:
                value = name
        elif spec.default_factory is not _MISSING:
            value = f"_factory_{name}()"
        elif spec.default is not _MISSING:
            value = f"_default_{name}"
        else:
            continue
        body.append(f"_setattr(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if post_init:
        body.append("self.__post_init__()")
    return "\n".join(
        [f"def __init__({', '.join(parameters)}):", *(f"    {line}" for line in body or ["pass"])]
    )


# `__repr__`, `__eq__` and `__hash__` are shared by every record class: compiling them per class
# would triple the cost of defining one, and they run off the warm path.
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__class__.__record_repr__)
    return f"{self.__class__.__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__class__.__record_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__class__.__record_key__(self))


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of compared fields (a tuple even for one field, as the standard library compares)."""
    if len(names) == 1:
        (name,) = names
        return lambda value: (getattr(value, name),)
    return attrgetter(*names) if names else lambda value: ()


def _build(cls: type[_T], *, frozen: bool, slots: bool) -> type[_T]:
    specs = _collect(cls)
    target: Any = cls  # gains its methods below, which no static type can say
    if slots:
        body = {key: value for key, value in cls.__dict__.items() if key not in ("__dict__", "__weakref__")}
        for spec in specs:
            body.pop(spec.name, None)
        body["__slots__"] = tuple(spec.name for spec in specs)
        metaclass: Any = type(cls)
        target = metaclass(cls.__name__, cls.__bases__, body)
        target.__qualname__ = cls.__qualname__
        if frozen:
            target.__getstate__ = _slots_getstate
            target.__setstate__ = _slots_setstate
    namespace: dict[str, Any] = {
        "__name__": target.__module__,
        "_MISSING": _MISSING,
        "_setattr": object.__setattr__,
    }
    for spec in specs:
        namespace[f"_default_{spec.name}"] = spec.default
        namespace[f"_factory_{spec.name}"] = spec.default_factory
    own = target.__dict__
    if "__init__" not in own:
        exec(
            compile(
                _init_source(specs, frozen, hasattr(target, "__post_init__")),
                f"<record {target.__qualname__}>",
                "exec",
            ),
            namespace,
        )
        namespace["__init__"].__qualname__ = f"{target.__qualname__}.__init__"
        target.__init__ = namespace["__init__"]
    if "__repr__" not in own:
        target.__repr__ = _repr
    if "__eq__" not in own:
        target.__eq__ = _eq
    # The standard library's rule: frozen records hash by their compared fields, mutable ones are
    # unhashable, and a __hash__ written in the class body wins.
    if own.get("__hash__", _MISSING) in (_MISSING, None):
        target.__hash__ = _hash if frozen else None
    if frozen:
        target.__setattr__ = _frozen_setattr
        target.__delattr__ = _frozen_delattr
    setattr(target, "__match_args__", tuple(spec.name for spec in specs if spec.init))  # noqa: B010 - mypy refuses the plain assignment
    target.__record_fields__ = tuple(specs)
    target.__record_repr__ = tuple(spec.name for spec in specs if spec.repr)
    target.__record_key__ = staticmethod(_key(tuple(spec.name for spec in specs if spec.compare)))
    return target  # type: ignore[no-any-return]
