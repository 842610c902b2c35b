"""What apply would change for a jail: desired contents against the disk and the record.

The tree on disk is compared entry by entry (read-only, through safefs.Tree),
not just the record: a tree edited by hand, or left half-built by a killed
apply, shows as a change and the next apply repairs it.  The record supplies
what was built before and is no longer wanted (removals).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import field

from . import credentials, model, ops, paths, state, systemd
from .manifest import Contents, Entry, rootfs_limit
from .ops import Sign
from .problems import JailError
from .quickdata import dataclass
from .render import Rendered
from .safefs import Tree, TreeError

CREATE, CHANGE, REMOVE = Sign.CREATE, Sign.CHANGE, Sign.REMOVE
Say = Callable[[str], None]


@dataclass(frozen=True)
class Snapshot:
    """What the host holds for one jail now, read once (observe) so that planning is pure."""

    matching: frozenset[str] = frozenset()  # tree paths that are already as wanted
    tree_error: str = ""  # the tree could not be read safely (a mount point where a dir belongs...)
    present_host_dirs: frozenset[str] = frozenset()
    host_files_in_place: frozenset[str] = frozenset()
    units: tuple[tuple[str, str | None], ...] = ()  # unit file name -> its text on disk (None: absent)
    unit_states: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # the jail's units as systemd said them
    enabled: bool = False
    active: bool = False
    ran_and_ended: bool = False  # inactive after a successful run (a `restart: no` jail may do that)


def untrusted_record_paths(name: str, recorded: state.JailState) -> list[str]:
    """What a record names that jailmgr would not have made for this jail: never removed.

    A record is data: a damaged or hand-edited one must not aim destroy (or
    the removal of a moved root) at a unit or a directory of someone else.
    """
    wrong = []
    if recorded.name != name:
        wrong.append(f"the record is of jail {recorded.name!r}, not {name!r}")
    allowed_units = set(model.jail_units(name).values())
    for unit in [recorded.unit, *recorded.extra_units]:
        if unit not in allowed_units:
            wrong.append(f"unit {unit!r}: not a unit jailmgr makes for jail {name}")
    mains = {model.unit_name(name), model.jail_units(name)[model.UnitRole.SOCKET]}  # (accept: the socket)
    if recorded.unit not in mains and recorded.unit in allowed_units:
        wrong.append(f"unit {recorded.unit!r}: not the main unit of jail {name}")
    if recorded.root and not ops.root_is_ours(name, recorded.root, recorded.id_shift):
        wrong.append(f"{recorded.root}: not the default root of jail {name} and without jailmgr's mark "
                     f"({model.ROOT_MARKER} naming {name})")
    return wrong


@dataclass
class Doomed:
    """A jail about to be destroyed, its record checked: the units and the root it may remove."""

    name: str
    recorded: state.JailState | None
    units: list[str]

    @property
    def root(self) -> str:
        return self.recorded.root if self.recorded else model.default_root(self.name)


def doom(name: str, say: Say) -> Doomed:
    """Check that `name` can be destroyed; changes nothing."""
    if not model.is_jail_name(name):
        raise JailError(f"{name!r} is not a jail name")
    recorded = state.recorded_state(name, say)
    if recorded is not None:
        refused = untrusted_record_paths(name, recorded)
        if refused:
            raise JailError(f"{name}: its record {state.record_path(name)} names what jailmgr would not "
                            "have made; nothing was removed:\n  " + "\n  ".join(refused),
                            hint="check the record; remove what it names by hand if it is really the "
                            "jail's, then the record")
    unit = recorded.unit if recorded else model.unit_name(name)
    if recorded is None and name not in state.managed() and not os.path.exists(
            os.path.join(state.unit_dir(), unit)):
        raise JailError(f"no jail named {name!r} is managed here", hint="`jailmgr list` shows them")
    return Doomed(name, recorded, [unit, *(recorded.extra_units if recorded else [])])


@dataclass
class JailPlan:
    name: str
    recorded: state.JailState | None = None  # the record the plan was made against
    changes: list[ops.Op] = field(default_factory=list)  # tree and unit operations, in the order apply runs them
    warnings: list[str] = field(default_factory=list)
    service: list[ops.ServiceOp] = field(default_factory=list)  # enable/disable, then (re)start: after the reload
    after: list[ops.Op] = field(default_factory=list)  # once the service runs: the old root's removal
    destroy: bool = False  # --prune: the jail is no longer defined
    refused: str = ""  # --prune: why this jail can't be destroyed (its record names what jailmgr did not make)
    doomed: Doomed | None = None  # --prune: what destroying it removes

    @property
    def enable(self) -> bool | None:
        """Enable (True) or disable (False) the unit; None: as it is."""
        for op in self.service:
            if isinstance(op, ops.EnableUnit | ops.DisableUnit):
                return isinstance(op, ops.EnableUnit)
        return None

    @property
    def start(self) -> str:
        """Why the service is (re)started (ops.Start), "" when it is not."""
        return next((op.why.value for op in self.service if isinstance(op, ops.StartUnit)), "")

    @property
    def pending_restart(self) -> bool:
        return bool(self.recorded and self.recorded.pending_restart)

    @property
    def restart_needed(self) -> bool:
        return bool(self.changes) or self.pending_restart

    @property
    def units_changed(self) -> bool:
        return any(isinstance(op, ops.WriteUnit | ops.RemoveUnit) for op in self.changes)

    @property
    def needs_reload(self) -> bool:
        """systemd must reload its unit files before the start (ops.needs_reload): not for new units alone."""
        return any(ops.needs_reload(op) for op in [*self.changes, *self.service])

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




def observe(rendered: Rendered, recorded: state.JailState | None, unit_states: dict[str, dict[str, str]]) -> Snapshot:
    """Read what the plan compares against: the tree on disk (read-only, through safefs.Tree), the host
    dirs, the unit files, and the units' states as systemd gave them (one batched query for all jails)."""
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
    main = unit_states.get(jail.unit_name, {})
    linked = unit_states.get(jail.enable_unit, {})  # (the socket, when the jail has sockets)
    mine = {*rendered.units, *([recorded.unit, *recorded.extra_units] if recorded else [])}
    states = tuple((name, tuple(sorted(unit_states[name].items()))) for name in sorted(mine) if name in unit_states)
    return Snapshot(frozenset(matching), error, present, in_place, units, states,
                    linked.get("UnitFileState") == "enabled", systemd.running(main), systemd.ran_and_ended(main))


def _holds(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def plan_jail(rendered: Rendered, recorded: state.JailState | None, seen: Snapshot | None = None) -> JailPlan:
    """Pure: the operations that bring the host from `seen` to the jail file, in the order apply runs them."""
    if seen is None:
        seen = observe(rendered, recorded, {})
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
    states = dict(seen.unit_states)
    for name, text in rendered.units.items():
        if on_disk.get(name) != text:
            sign = CREATE if on_disk.get(name) is None else CHANGE
            plan.changes.append(ops.WriteUnit(sign, "unit", paths.unit_path(name), text=text,
                                              before=on_disk.get(name), loaded=_loaded(states, name)))
    if recorded:
        # (the recorded main unit too: a jail that became accept: true has a socket and a template instead)
        for name in sorted({recorded.unit, *recorded.extra_units} - set(rendered.units)):
            props = tuple((k, v) for k, v in states.get(name, ()) if k in ops.REMOVE_PROPS)
            plan.changes.append(ops.RemoveUnit(REMOVE, "unit", paths.unit_path(name), "no longer wanted", name=name,
                                               seen=props))
    if recorded:
        # A secret's host file was rewritten or replaced (its stat identity, never its content): the running
        # program holds the old one until it restarts.
        for name in credentials.changed(jail, recorded.inputs, rendered.fingerprints):
            plan.changes.append(ops.Note(CHANGE, "credential", name, "its host file changed: the program reads "
                                         "the new one at the restart"))
    if jail.enable != seen.enabled:
        if jail.enable:
            plan.service.append(ops.EnableUnit(CHANGE, "service", jail.enable_unit, "enable",
                                               loaded=_loaded(states, jail.enable_unit)))
        else:
            plan.service.append(ops.DisableUnit(CHANGE, "service", jail.enable_unit, "disable"))
    # A jail that gained sockets: its service stays, but it is the socket that is enabled now; the service's
    # own link would start it at boot beside the socket.  (A unit no longer rendered is disabled by its removal.)
    old_link = recorded.enable_unit if recorded else jail.enable_unit
    if (old_link != jail.enable_unit and old_link in rendered.units
            and dict(states.get(old_link, ())).get("UnitFileState") == "enabled"):
        plan.service.append(ops.DisableUnit(CHANGE, "service", old_link, "disable (its socket is enabled)"))
    why = None
    if plan.restart_needed:
        why = ops.Start.RESTART if seen.active else ops.Start.START
    elif not seen.active and not (jail.restart == "no" and seen.ran_and_ended):
        why = ops.Start.START_STOPPED
    if why is not None:
        plan.service.append(ops.StartUnit(CHANGE, "service", jail.unit_name, why.value, why=why,
                                          known=_loaded(states, jail.unit_name)))
    return plan


def _loaded(states: dict[str, tuple[tuple[str, str], ...]], unit: str) -> bool:
    """systemd has the unit loaded, as far as the plan's snapshot says (a unit it did not ask about counts as
    loaded: a reload is never skipped on a guess)."""
    return dict(states.get(unit, ())).get("LoadState", "loaded") != "not-found"


def plan_removal(name: str, say: Say) -> JailPlan:
    """--prune: a managed jail no longer defined under the paths given is destroyed (its record checked now,
    so that `plan` shows a refusal as apply would meet it)."""
    try:
        doomed = doom(name, say)
    except JailError as exc:
        return JailPlan(name, None, destroy=True, refused=str(exc))
    plan = JailPlan(name, doomed.recorded, destroy=True, doomed=doomed)
    plan.changes.append(ops.Note(REMOVE, "jail", name, "no longer defined: unit, tree and record removed"))
    return plan
