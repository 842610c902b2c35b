"""dataclasses.dataclass, made without compiling most of its methods: a third of the import of a jailmgr
command was Python 3.11 compiling, for each class, the source dataclasses writes of __init__,
__repr__, __eq__, __hash__, __setattr__ and __delattr__ (0.5 ms a frozen class, 29 ms for the 57 an
apply imports).

The standard decorator still makes the class a dataclass (its fields, fields(), asdict(), replace(),
__match_args__), asked to generate nothing.  __init__, the one that runs for every object, is compiled
from source as dataclasses does; the others mean what dataclasses' mean (eq and order on the compared
fields of objects of the same class, frozen, the hash) but are closures over one attrgetter of the
fields, which need no compiling.  Only what jailmgr uses is supported: fields with a default or a
default_factory, compare=False, frozen, order; an InitVar, kw_only, __post_init__ or init=False field
is refused.  On Python 3.13 and later (which compiles a class's methods at once) it is the standard
decorator.
"""

from __future__ import annotations

import dataclasses
import operator
import sys
from collections.abc import Callable

# typing costs 1.8 ms to import, and only the type checker needs it here: mypy takes any name
# TYPE_CHECKING as true; at run time the decorators it would bring do nothing.
TYPE_CHECKING = False
if not TYPE_CHECKING:
    def _unchanged(fn: object) -> object:
        return fn

    overload = _unchanged

    def dataclass_transform(**_: object) -> object:
        return _unchanged
else:
    from typing import Any, TypeVar, dataclass_transform, overload

    T = TypeVar("T")


@overload
def dataclass(cls: type[T], /) -> type[T]: ...


@overload
def dataclass(*, frozen: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def dataclass(cls: type[T] | None = None, /, *, frozen: bool = False,
              order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """As @dataclasses.dataclass (with frozen= and order=), its class built faster on Python 3.11 and 3.12."""
    if sys.version_info >= (3, 13):
        std = dataclasses.dataclass(frozen=frozen, order=order)
        return std(cls) if cls is not None else std

    def wrap(c: type[T]) -> type[T]:
        return _build(c, frozen, order)

    return wrap(cls) if cls is not None else wrap


def _build(cls: type[T], frozen: bool, order: bool) -> type[T]:
    if cls.__doc__ is None:
        cls.__doc__ = cls.__name__  # (else dataclasses computes a signature for it: slow, and never read)
    dataclasses.dataclass(cls, init=False, repr=False, eq=False)
    fields = [f for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for f in fields:
        if f.kw_only is True or not f.init or f.name in ("self", "_MISSING", "_object"):
            raise TypeError(f"{cls.__name__}.{f.name}: quickdata supports plain fields only")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quickdata has no __post_init__")
    names: dict[str, Any] = {"_MISSING": dataclasses.MISSING, "_object": object}
    params, body = [], []
    seen_default = False
    for f in fields:
        if f.default is not dataclasses.MISSING:
            names[f"_dflt_{f.name}"] = f.default
            params.append(f"{f.name}=_dflt_{f.name}")
            value = f.name
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_fact_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            value = f"_fact_{f.name}() if {f.name} is _MISSING else {f.name}"
        else:
            if seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            params.append(f.name)
            value = f.name
        seen_default |= f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        body.append(f"_object.__setattr__(self, {f.name!r}, {value})" if frozen else f"self.{f.name} = {value}")
    own = set(cls.__dict__)  # (before the methods are set)
    src = [f"def __init__(self, {', '.join(params)}):", *(f"  {line}" for line in body or ["pass"])]
    code = "\n".join(["def _make(" + ", ".join(names) + "):", *(f" {line}" for line in src), " return __init__"])
    scope: dict[str, Any] = {}
    exec(compile(code, f"<quickdata {cls.__qualname__}>", "exec"), {}, scope)  # (text made here, from field names)
    methods: dict[str, Callable[..., Any]] = {"__init__": scope["_make"](**names)}
    # The others need no code of their own: the fields' values are read by one attrgetter (C).
    compared = _getter([f.name for f in fields if f.compare])
    shown = [f.name for f in fields if f.repr]
    if "__repr__" not in own:
        methods["__repr__"] = _repr(shown)
    if "__eq__" not in own:
        methods["__eq__"] = _compare(compared, operator.eq)
    if order:
        for op in (operator.lt, operator.le, operator.gt, operator.ge):
            methods[f"__{op.__name__}__"] = _compare(compared, op)
    if frozen:
        methods["__hash__"] = _hash(_getter([f.name for f in fields if (f.compare if f.hash is None else f.hash)]))
        methods["__setattr__"], methods["__delattr__"] = _frozen(cls, frozenset(f.name for f in fields))
    for name, fn in methods.items():
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, fn)
    if not frozen and "__eq__" not in own:
        cls.__hash__ = None  # type: ignore[assignment]  # (as dataclasses: eq without frozen is unhashable)
    return cls


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of an object, always as a tuple."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _repr(names: list[str]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"
    return __repr__


def _compare(values: Callable[[Any], tuple[Any, ...]], op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compare(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return op(values(self), values(other))
        return NotImplemented
    return compare


def _hash(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))
    return __hash__


def _frozen(cls: type[Any], fields: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in fields:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in fields:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)
    return __setattr__, __delattr__
