"""quickdata.dataclass means what dataclasses.dataclass means: each behaviour side by side with the standard one."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import field

import pytest

import jailmgr
from jailmgr.quickdata import dataclass


def twins(frozen: bool = False, order: bool = False) -> tuple[type, type]:
    made = []
    for decorate in (dataclass(frozen=frozen, order=order), dataclasses.dataclass(frozen=frozen, order=order)):
        class Point:
            x: int
            y: int = 2
            tags: list[str] = field(default_factory=list)
            note: str = field(default="", compare=False)

        made.append(decorate(Point))
    return made[0], made[1]


@pytest.mark.parametrize("frozen", [False, True])
def test_init_repr_eq_hash_and_helpers_as_the_standard_one(frozen: bool) -> None:
    quick, std = twins(frozen)
    a, b = quick(1), std(1)
    assert repr(a) == repr(b) == "twins.<locals>.Point(x=1, y=2, tags=[], note='')"
    assert a.tags is not quick(1).tags  # (a fresh list each time)
    assert a == quick(1, 2, [], "other") and a != quick(1, 3) and (a == b) is False  # (other class: NotImplemented)
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert [f.name for f in dataclasses.fields(quick)] == [f.name for f in dataclasses.fields(std)]
    assert quick.__match_args__ == std.__match_args__ == ("x", "y", "tags", "note")
    assert dataclasses.replace(a, y=5) == quick(1, 5)
    with pytest.raises(TypeError):
        quick()  # (x has no default)
    if frozen:
        t = quick(1, 2, ("a",))  # type: ignore[arg-type]
        assert hash(t) == hash(quick(1, 2, ("a",), "ignored"))  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.x = 3
        with pytest.raises(dataclasses.FrozenInstanceError):
            del a.x
    else:
        assert quick.__hash__ is None and std.__hash__ is None
        a.x = 3
        assert a.x == 3


def test_order_and_frozen_subclasses_as_the_standard_one() -> None:
    quick, _ = twins(frozen=True, order=True)
    assert sorted([quick(2), quick(1, 3), quick(1, 2)]) == [quick(1, 2), quick(1, 3), quick(2)]

    @dataclass(frozen=True)
    class Child(quick):  # type: ignore[valid-type,misc]
        z: int = 0

    c = Child(1, z=4)
    assert repr(c) == f"{Child.__qualname__}(x=1, y=2, tags=[], note='', z=4)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.z = 1


def test_what_it_does_not_support_is_refused() -> None:
    with pytest.raises(TypeError):
        @dataclass
        class Late:
            a: int = 1
            b: int

    with pytest.raises(TypeError):
        @dataclass
        class Post:
            a: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError):
        @dataclass
        class Hidden:
            a: int = field(default=0, init=False)


def test_every_jailmgr_dataclass_takes_its_fields_in_order_with_their_defaults() -> None:
    seen = 0
    for info in pkgutil.iter_modules(jailmgr.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"jailmgr.{info.name}")
        for cls in vars(module).values():
            if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__):
                continue
            seen += 1
            params = list(inspect.signature(cls.__init__).parameters.values())[1:]
            fields = dataclasses.fields(cls)
            assert [p.name for p in params] == [f.name for f in fields], cls
            for p, f in zip(params, fields, strict=True):
                if f.default is not dataclasses.MISSING:
                    assert p.default is f.default, (cls, f.name)
                elif f.default_factory is dataclasses.MISSING:
                    assert p.default is inspect.Parameter.empty, (cls, f.name)
    assert seen >= 60
