"""What jailmgr built, per jail (/var/lib/jailmgr/state/NAME.json), and the global lock."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, field

from . import records
from .paths import is_jail_name, lock_path, state_dir, unit_dir  # noqa: F401  (state.unit_dir() and friends stay)
from .quickdata import dataclass
from .records import managed  # (state.managed stays)
from .safefs import write_file_atomic

STATE_VERSION = 1


@dataclass
class JailState:
    """The record of one jail: enough to plan, to detect drift and to destroy."""

    name: str
    source: str
    root: str
    unit: str
    unit_sha256: str = ""
    # path -> kind, mode, owner, group, sha256, origin, writable
    entries: dict[str, dict[str, str | bool]] = field(default_factory=dict)
    host_dirs: list[str] = field(default_factory=list)
    # Set before the first change of an apply and cleared once the service was
    # (re)started: an apply killed in between leaves it set, so the next apply
    # restarts the service even when the tree and unit already match.
    pending_restart: bool = False
    launcher: bool = False
    launcher_init: bool = True  # under the launcher, jailmgr-init is the program's parent (not init: false)
    rootfs_sha256: str = ""
    extra_units: list[str] = field(default_factory=list)  # unit files beyond the main one (paths.jail_units)
    extra_units_sha256: dict[str, str] = field(default_factory=dict)  # theirs, as apply wrote them
    environment: dict[str, str] = field(default_factory=dict)  # as declared: what `exec` gives a command
    workdir: str = "/"  # as declared: where `exec` starts a command
    users: dict[str, list[int]] = field(default_factory=dict)  # the jail's passwd: name -> [uid, gid]
    id_shift: int = 0  # the host id root of a `user: true` jail maps to
    program_uid: int = -1  # the host uid the program runs as (-1: not recorded)
    source_sha256: str = ""  # of the jail file's bytes, as last applied
    inputs: dict[str, str] = field(default_factory=dict)  # host path -> fingerprint (fingerprint.py)
    built: dict[str, str] = field(default_factory=dict)  # tree path -> fingerprint of the entry as built
    # The jail-writable set and the paths root resolves for it (spec.host_writable, spec.host_resolved):
    # host path -> the jail file key; what apply checks other jails against (preflight.check_host_paths).
    host_writable: dict[str, str] = field(default_factory=dict)
    host_resolved: dict[str, str] = field(default_factory=dict)
    enable: bool = True  # as the jail file asked
    restart: str = "on-failure"  # as the jail file asked
    version: int = STATE_VERSION

    @property
    def enable_unit(self) -> str:
        """The unit `enable` links: the jail's socket when it has one (sockets.target), else its main unit."""
        return records.enable_unit(self.unit, self.extra_units)

    def writable_dirs(self) -> set[str]:
        """The tree's writable dirs, as recorded (records written before the flag: their origin's label)."""
        return records.writable_dirs(self.entries)


    def touchable(self, writable: set[str]) -> dict[str, str]:
        """The declared files the jail can write (below a writable dir): path -> their sha256 as declared."""
        return records.touchable(self.entries, writable)

    def host_sets(self) -> tuple[dict[str, str], dict[str, str]]:
        """(writable, resolved) host paths; for a record older than those fields, what its entries show."""
        if self.host_writable or self.host_resolved:
            return self.host_writable, self.host_resolved
        writable = {self.root + p: "tree.dirs (writable)" for p in self.writable_dirs()}
        if self.rootfs_sha256:
            writable[self.root] = "tree.rootfs"
        return writable, {self.root: "root"} if self.root else {}


class StateProblem(Exception):
    pass


def _path(name: str) -> str:
    if not is_jail_name(name):  # never a path of its own: "../x" must not name a file elsewhere
        raise StateProblem(f"{name!r} is not a jail name")
    return os.path.join(state_dir(), f"{name}.json")


def record_path(name: str) -> str:
    return _path(name)


def load(name: str) -> JailState | None:
    """The recorded state, None when there is none; a damaged file raises StateProblem."""
    try:
        with open(_path(name), encoding="utf-8") as f:
            raw = json.load(f)
        known = {k: raw[k] for k in JailState.__dataclass_fields__ if k in raw}
        state = JailState(**known)
        if not isinstance(state.entries, dict) or not isinstance(state.host_dirs, list):
            raise TypeError("entries/host_dirs have the wrong type")
        return state
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise StateProblem(f"{_path(name)} is damaged ({exc}); apply rebuilds it from the jail file") from exc


def save(state: JailState) -> None:
    os.makedirs(state_dir(), mode=0o700, exist_ok=True)
    data = json.dumps(asdict(state), indent=1, sort_keys=True).encode() + b"\n"
    write_file_atomic(_path(state.name), data, 0o600)


def forget(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path(name))


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialize jailmgr processes on the lock file; say so while waiting (records.lock)."""
    fd = records.lock()
    try:
        yield
    finally:
        os.close(fd)


Records = dict[str, JailState]  # every readable record, by jail name: read once per command


def recorded_state(name: str, warn: Callable[[str], None]) -> JailState | None:
    """The record of a jail; a damaged one is warned about and read as none."""
    try:
        return load(name)
    except StateProblem as exc:
        warn(str(exc))
        return None


def read_records(warn: Callable[[str], None]) -> Records:
    found = {}
    for name in managed():
        recorded = recorded_state(name, warn)
        if recorded is not None:
            found[name] = recorded
    return found
