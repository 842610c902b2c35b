"""What apply would change for a jail: desired contents against the disk and the record.

The tree on disk is compared entry by entry (read-only, through safefs.Tree),
not just the record: a tree edited by hand, or left half-built by a killed
apply, shows as a change and the next apply repairs it.  The record supplies
what was built before and is no longer wanted (removals).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import ops, paths, state, systemd
from .manifest import Contents, Entry, rootfs_limit
from .ops import Sign
from .render import Rendered
from .safefs import Tree, TreeError

CREATE, CHANGE, REMOVE = Sign.CREATE, Sign.CHANGE, Sign.REMOVE


@dataclass(frozen=True)
class Snapshot:
    """What the host holds for one jail now, read once (observe) so that planning is pure."""

    matching: frozenset[str] = frozenset()  # tree paths that are already as wanted
    tree_error: str = ""  # the tree could not be read safely (a mount point where a dir belongs...)
    present_host_dirs: frozenset[str] = frozenset()
    host_files_in_place: frozenset[str] = frozenset()
    units: tuple[tuple[str, str | None], ...] = ()  # unit file name -> its text on disk (None: absent)
    enabled: bool = False
    active: bool = False
    ran_and_ended: bool = False  # inactive after a successful run (a `restart: no` jail may do that)


@dataclass
class JailPlan:
    name: str
    recorded: state.JailState | None = None  # the record the plan was made against
    changes: list[ops.Op] = field(default_factory=list)  # tree and unit operations, in the order apply runs them
    warnings: list[str] = field(default_factory=list)
    enable: bool | None = None  # enable (True) or disable (False) the unit; None: as it is
    start: str = ""  # "restart", "start", "start-stopped" (it was not running), or "" (nothing)
    after: list[ops.Op] = field(default_factory=list)  # once the service runs: the old root's removal
    destroy: bool = False  # --prune: the jail is no longer defined

    @property
    def pending_restart(self) -> bool:
        return bool(self.recorded and self.recorded.pending_restart)

    @property
    def restart_needed(self) -> bool:
        return bool(self.changes) or self.pending_restart

    @property
    def units_changed(self) -> bool:
        return any(isinstance(op, ops.WriteUnit | ops.RemoveUnit) for op in self.changes)

    def doc(self) -> dict[str, object]:
        return {"name": self.name, "warnings": self.warnings, "restart": self.restart_needed, "start": self.start,
                "destroy": self.destroy,
                "enable": self.enable, "changes": [op.doc() for op in [*self.changes, *self.after]]}


def rootfs_changed(contents: Contents, recorded: state.JailState | None) -> bool:
    """The jail has a rootfs tarball that was not unpacked, or not this one."""
    return bool(contents.rootfs) and (recorded is None or recorded.rootfs_sha256 != contents.rootfs_sha256)


def owner_ids(entry: Entry, users: dict[str, int], groups: dict[str, int],
              shift: int = 0) -> tuple[int, int]:
    """Host ids of an entry's owner; shifted into the jail's range when it has a user namespace."""
    return users[entry.owner] + shift, groups.get(entry.group, 0) + shift




def observe(rendered: Rendered, unit_state: dict[str, str]) -> Snapshot:
    """Read what the plan compares against: the tree on disk (read-only, through safefs.Tree), the host
    dirs, the unit files, and the unit's state as systemd gave it (one batched query for all jails)."""
    jail = rendered.loaded.jail
    contents = rendered.contents
    users, groups = rendered.owners
    matching: set[str] = set()
    error = ""
    try:
        tree: Tree | None = Tree(jail.root_dir, create=False)
    except TreeError:
        tree = None
    try:
        for path, entry in contents.entries.items():
            uid, gid = owner_ids(entry, users, groups, jail.id_shift)
            data = entry.data if entry.kind != "dir" else b""
            if tree is not None and tree.matches(path, entry.kind, data, entry.mode, uid, gid):
                matching.add(path)
    except TreeError as exc:
        error = str(exc)
    finally:
        if tree is not None:
            tree.close()
    present = frozenset(path for path, _, _ in contents.host_dirs if os.path.isdir(path))
    in_place = frozenset(path for path, data in rendered.host_files if _holds(path, data))
    units = tuple((name, paths.read_unit(name)) for name in rendered.units)
    return Snapshot(frozenset(matching), error, present, in_place, units, unit_state.get("UnitFileState") == "enabled",
                    systemd.running(unit_state), systemd.ran_and_ended(unit_state))


def _holds(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def plan_jail(rendered: Rendered, recorded: state.JailState | None, seen: Snapshot | None = None) -> JailPlan:
    """Pure: the operations that bring the host from `seen` to the jail file, in the order apply runs them."""
    if seen is None:
        seen = observe(rendered, {})
    jail = rendered.loaded.jail
    contents = rendered.contents
    plan = JailPlan(jail.name, recorded)
    users, groups = rendered.owners
    for path, owner, group in contents.host_dirs:
        if path not in seen.present_host_dirs:
            plan.changes.append(ops.MakeHostDir(CREATE, "host-dir", path, f"owner {owner}", owner=owner, group=group,
                                                shift=jail.id_shift))
    for path, data in rendered.host_files:
        if path not in seen.host_files_in_place:
            plan.changes.append(ops.WriteHostFile(CREATE, "host-file", path, "kept by jailmgr", data=data))
    if rootfs_changed(contents, recorded):
        plan.changes.append(ops.UnpackRootfs(CREATE if recorded is None else CHANGE, "rootfs", contents.rootfs or "",
                                             "unpacked into the tree", limit=rootfs_limit(jail)))
    if seen.tree_error:
        plan.warnings.append(seen.tree_error)
        plan.changes.append(ops.Note(CHANGE, "tree", jail.root_dir, seen.tree_error))
    # Directories first (shallow to deep), so files land in their final parents.
    for path, entry in sorted(contents.entries.items(), key=lambda kv: (kv[1].kind != "dir", kv[0])):
        if path in seen.matching:
            continue
        uid, gid = owner_ids(entry, users, groups, jail.id_shift)
        old = recorded.entries.get(path) if recorded else None
        plan.changes.append(ops.EnsureEntry(CHANGE if old is not None else CREATE, entry.kind, path, entry.origin,
                                            mode=entry.mode, uid=uid, gid=gid,
                                            data=entry.data if entry.kind != "dir" else b""))
    if recorded and recorded.root and recorded.root != jail.root_dir:
        plan.after.append(ops.RemoveOldRoot(REMOVE, "tree", recorded.root, f"the jail's root moved to {jail.root_dir}",
                                            jail=jail.name, id_shift=recorded.id_shift))
    elif recorded:
        for path in sorted(set(recorded.entries) - set(contents.entries), reverse=True):
            plan.changes.append(ops.RemoveEntry(REMOVE, str(recorded.entries[path].get("kind", "file")), path,
                                                "no longer wanted"))
    on_disk = dict(seen.units)
    for name, text in rendered.units.items():
        if on_disk.get(name) != text:
            sign = CREATE if on_disk.get(name) is None else CHANGE
            plan.changes.append(ops.WriteUnit(sign, "unit", paths.unit_path(name), text=text,
                                              before=on_disk.get(name)))
    if recorded:
        for name in sorted(set(recorded.extra_units) - set(rendered.extra_units)):
            plan.changes.append(ops.RemoveUnit(REMOVE, "unit", paths.unit_path(name), "no longer wanted", name=name))
    if jail.enable != seen.enabled:
        plan.enable = jail.enable
    if plan.restart_needed:
        plan.start = "restart" if seen.active else "start"
    elif not seen.active and not (jail.restart == "no" and seen.ran_and_ended):
        plan.start = "start-stopped"
    return plan


def plan_removal(name: str, recorded: state.JailState | None) -> JailPlan:
    """--prune: a managed jail no longer defined under the paths given is destroyed."""
    plan = JailPlan(name, recorded, destroy=True)
    plan.changes.append(ops.Note(REMOVE, "jail", name, "no longer defined: unit, tree and record removed"))
    return plan
