"""What apply would change for a jail: desired contents against the disk and the record.

The tree on disk is compared entry by entry (read-only, through tree.Tree),
not just the record: a tree edited by hand, or left half-built by a killed
apply, shows as a change and the next apply repairs it.  The record supplies
what was built before and is no longer wanted (removals).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from . import state
from .contents import Contents, Entry, ids
from .render import Rendered
from .tree import Tree, TreeError


@dataclass(frozen=True)
class Change:
    op: str  # + create, ~ change, - remove
    what: str  # file, dir, mountpoint, unit, host-dir, service
    path: str
    detail: str = ""

    def describe(self) -> str:
        return f"  {self.op} {self.what:10} {self.path}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class JailPlan:
    name: str
    recorded: state.JailState | None = None  # the record the plan was made against
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def pending_restart(self) -> bool:
        return bool(self.recorded and self.recorded.pending_restart)

    @property
    def restart_needed(self) -> bool:
        return bool(self.changes) or self.pending_restart


def rootfs_changed(contents: Contents, recorded: state.JailState | None) -> bool:
    """The jail has a rootfs tarball that was not unpacked, or not this one."""
    return bool(contents.rootfs) and (recorded is None or recorded.rootfs_sha256 != contents.rootfs_sha256)


def owner_ids(entry: Entry, users: dict[str, int], groups: dict[str, int],
              shift: int = 0) -> tuple[int, int]:
    """Host ids of an entry's owner; shifted into the jail's range when it has a user namespace."""
    return users[entry.owner] + shift, groups.get(entry.group, 0) + shift


def record(entry: Entry) -> dict[str, str]:
    return {"kind": entry.kind, "mode": f"{entry.mode:04o}", "owner": entry.owner, "group": entry.group,
            "sha256": entry.digest, "origin": entry.origin}


def unit_path(name: str) -> str:
    return os.path.join(state.unit_dir(), name)


def read_unit(name: str) -> str | None:
    try:
        with open(unit_path(name), encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan_jail(rendered: Rendered, recorded: state.JailState | None) -> JailPlan:
    jail = rendered.loaded.jail
    contents = rendered.contents
    plan = JailPlan(jail.name, recorded)
    users, groups = ids(contents)
    for path, owner, _group in contents.host_dirs:
        if not os.path.isdir(path):
            plan.changes.append(Change("+", "host-dir", path, f"owner {owner}"))
    if rootfs_changed(contents, recorded):
        plan.changes.append(Change("+" if recorded is None else "~", "rootfs", contents.rootfs or "",
                                   "unpacked into the tree"))
    try:
        tree: Tree | None = Tree(jail.root_dir, create=False)
    except TreeError:
        tree = None
    try:
        for path, entry in sorted(contents.entries.items()):
            uid, gid = owner_ids(entry, users, groups, jail.id_shift)
            data = entry.data if entry.kind != "dir" else b""
            if tree is not None and tree.matches(path, entry.kind, data, entry.mode, uid, gid):
                continue
            old = recorded.entries.get(path) if recorded else None
            op = "~" if old is not None else "+"
            plan.changes.append(Change(op, entry.kind, path, entry.origin))
    except TreeError as exc:
        plan.warnings.append(str(exc))
        plan.changes.append(Change("~", "tree", jail.root_dir, str(exc)))
    finally:
        if tree is not None:
            tree.close()
    if recorded and recorded.root and recorded.root != jail.root_dir:
        plan.changes.append(Change("-", "tree", recorded.root, f"the jail's root moved to {jail.root_dir}"))
    elif recorded:
        for path in sorted(set(recorded.entries) - set(contents.entries), reverse=True):
            plan.changes.append(Change("-", recorded.entries[path].get("kind", "file"), path, "no longer wanted"))
    for name, text in rendered.units.items():
        on_disk = read_unit(name)
        if on_disk != text:
            plan.changes.append(Change("+" if on_disk is None else "~", "unit", unit_path(name)))
    if recorded:
        for name in sorted(set(recorded.extra_units) - set(rendered.extra_units)):
            plan.changes.append(Change("-", "unit", unit_path(name), "no longer wanted"))
    return plan
