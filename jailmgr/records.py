"""The records state.py writes, read with nothing but os: what the no-op apply decides with.

state.JailState stays the one definition of a record, but its module (a
dataclass, json) costs more to import than the no-op's whole work.  So the
no-op path (noop.py) reads the same files into `Record`: the fields it
decides with, under the same names, with JailState's defaults
(tests/test_noop_fast.py holds the two together), and the rules on them
that JailState uses too (writable_dirs, touchable, enable_unit).  The JSON is
parsed by the C scanner json.loads itself uses, without the json package
(which imports re).  The global lock is here as plain functions.
"""

from __future__ import annotations

import fcntl
import os
import sys

from .basepaths import is_jail_name, lock_path, state_dir

REQUIRED = ("name", "source", "root", "unit")  # JailState's fields without a default
# The other fields the no-op path reads, with JailState's defaults for a record that lacks them.
DEFAULTS: dict[str, object] = {
    "unit_sha256": "", "entries": {}, "pending_restart": False, "extra_units": [], "extra_units_sha256": {},
    "source_sha256": "", "inputs": {}, "built": {}, "enable": True, "restart": "on-failure"}


def enable_unit(unit: str, extra_units: list[str]) -> str:
    """The unit `enable` links: the jail's socket when it has one (sockets.target), else its main unit."""
    return next((u for u in [unit, *extra_units] if u.endswith(".socket")), unit)


def writable_dirs(entries: dict[str, dict[str, str | bool]]) -> set[str]:
    """The tree's writable dirs, as recorded (records written before the flag: their origin's label)."""
    return {p for p, e in entries.items()
            if e.get("kind") == "dir" and e.get("writable", "(writable)" in str(e.get("origin", "")))}


def touchable(entries: dict[str, dict[str, str | bool]], writable: set[str]) -> dict[str, str]:
    """The declared files the jail can write (below a writable dir): path -> their sha256 as declared."""
    return {p: str(e.get("sha256", "")) for p, e in entries.items()
            if e.get("kind") == "file" and any(p.startswith(w + "/") for w in writable)}


class Record:
    """One jail's record as the no-op path reads it: the fields of state.JailState it decides with."""

    name: str
    source: str
    root: str
    unit: str
    unit_sha256: str
    entries: dict[str, dict[str, str | bool]]
    pending_restart: bool
    extra_units: list[str]
    extra_units_sha256: dict[str, str]
    source_sha256: str
    inputs: dict[str, str]
    built: dict[str, str]
    enable: bool
    restart: str

    def __init__(self, raw: object) -> None:
        """Raises ValueError where state.load would call the record damaged (and for nothing else)."""
        if not isinstance(raw, dict) or any(k not in raw for k in REQUIRED):
            raise ValueError("not a record")
        if not isinstance(raw.get("entries", {}), dict) or not isinstance(raw.get("host_dirs", []), list):
            raise ValueError("entries/host_dirs have the wrong type")
        for key in REQUIRED:
            setattr(self, key, raw[key])
        for key, default in DEFAULTS.items():
            setattr(self, key, raw[key] if key in raw else
                    default.copy() if isinstance(default, (dict, list)) else default)  # (a fresh {} or [])

    @property
    def enable_unit(self) -> str:
        return enable_unit(self.unit, self.extra_units)

    def writable_dirs(self) -> set[str]:
        return writable_dirs(self.entries)

    def touchable(self, writable: set[str]) -> dict[str, str]:
        return touchable(self.entries, writable)


try:
    from _json import make_scanner as _c_scanner
except ImportError:  # (a Python without the C accelerator: the json package then)
    _c_scanner = None  # type: ignore[assignment,misc]


class _Decoder:
    """What the C scanner reads of a json.JSONDecoder: json.loads's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json.loads reads them


_WHITESPACE = " \t\n\r"  # what json.loads skips around the document


def loads(text: str) -> object:
    """json.loads(text); ValueError (or StopIteration, for no value) for what it would refuse."""
    if _c_scanner is None:
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    scan = _c_scanner(_Decoder())  # type: ignore[arg-type]  # (it reads the attributes only)
    value, end = scan(text, start)
    if text[end:].strip(_WHITESPACE):
        raise ValueError("extra data after the record")
    return value


def record_file(name: str) -> str:
    return os.path.join(state_dir(), f"{name}.json")


def managed() -> list[str]:
    """Names of the jails that have a state record."""
    try:
        names = os.listdir(state_dir())
    except FileNotFoundError:
        return []
    return sorted(n[:-5] for n in names if n.endswith(".json") and is_jail_name(n[:-5]))


def read_all() -> dict[str, Record] | None:
    """Every record, by jail name; None when any is damaged or unreadable (the full path says so)."""
    found = {}
    for name in managed():
        try:
            with open(record_file(name), "rb") as f:
                text = f.read().decode("utf-8")
        except FileNotFoundError:
            continue  # (gone since the listing: no record, as state.load has it)
        except (OSError, ValueError):
            return None
        try:
            found[name] = Record(loads(text))
        except (ValueError, StopIteration, RecursionError):
            return None
    return found


def lock() -> int:
    """Take the global lock (the descriptor holds it until closed); say so while waiting for it."""
    path = lock_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another jailmgr"
            print(f"jailmgr: waiting for the lock {path} (held by PID {holder})", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd
