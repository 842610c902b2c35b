"""Converge jails to their files, and destroy them: the steps, in order.

apply: validate and render everything first (bad input changes nothing) ->
take the lock -> per jail: mark a restart pending in its record, create host
dirs, build the tree, remove what is no longer wanted, write the unit -> one
daemon-reload -> enable and (re)start only the jails that changed -> record
what was built.  Each step is idempotent, so an apply killed anywhere is
finished by the next one.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, field

from . import journal, model, rootfs, state, systemd
from .contents import ids, jail_users, rootfs_limit
from .plan import JailPlan, owner_ids, plan_jail, read_unit, record, rootfs_changed, sha256, unit_path
from .problems import InvalidJails, JailError
from .render import Rendered, render_all
from .spec import load_or_raise
from .tree import Tree, TreeError, remove_root, write_file_atomic

Say = Callable[[str], None]


@dataclass
class Outcome:
    name: str
    plan: JailPlan
    restarted: bool = False
    left: list[str] = field(default_factory=list)


def prepare(paths: list[str]) -> list[Rendered]:
    rendered, problems = render_all(load_or_raise(paths))
    if problems:
        raise InvalidJails(problems)
    return rendered


def check_id_ranges(rendered: list[Rendered], warn: Say) -> None:
    """Two `user: true` jails must not share a host id block (it is picked from the name)."""
    owners: dict[int, str] = {}
    for name in state.managed():
        recorded = recorded_state(name, warn)
        if recorded and recorded.id_shift:
            owners[recorded.id_shift] = name
    for item in rendered:
        shift = item.loaded.jail.id_shift
        if shift and owners.get(shift, item.name) != item.name:
            raise JailError(f"{item.name}: its user namespace ids ({shift}-{shift + 65535}) are those of jail "
                            f"{owners[shift]}", hint="rename one of the two jails")
        if shift:
            owners[shift] = item.name


def _program_uid(item: Rendered) -> int:
    users, _ = ids(item.contents)
    return users[item.loaded.jail.user] + item.loaded.jail.id_shift


def _processes_of(uid: int) -> list[tuple[int, str]]:
    """Processes whose real, effective or saved uid is `uid`, with their cgroup."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8", errors="replace") as f:
                uids = next((line.split()[1:4] for line in f if line.startswith("Uid:")), [])
            with open(f"/proc/{entry}/cgroup", encoding="utf-8", errors="replace") as f:
                cgroup = f.read()
        except OSError:
            continue
        if str(uid) in uids:
            found.append((int(entry), cgroup))
    return found


def check_own_uids(rendered: list[Rendered], warn: Say) -> None:
    """A jail without PID and user namespaces sees the host's processes: its program's uid must be its own.

    kill() and ptrace need no capability between processes of one uid, so no
    other jail, and no process outside the jail, may run as that uid.
    """
    uids: dict[int, list[str]] = {}
    for name in state.managed():
        recorded = recorded_state(name, warn)
        if recorded and recorded.program_uid >= 0:
            uids.setdefault(recorded.program_uid, []).append(name)
    for item in rendered:
        owners = uids.setdefault(_program_uid(item), [])
        if item.name not in owners:
            owners.append(item.name)
    for item in rendered:
        ns = item.loaded.jail.namespaces
        if ns.pid or ns.user:
            continue
        uid = _program_uid(item)
        others = [n for n in uids[uid] if n != item.name]
        if others:
            raise JailError(f"{item.name}: it has no PID namespace, and its user {item.loaded.jail.user} (uid {uid}) "
                            f"is also the user of jail {others[0]}: each could signal and trace the other",
                            hint="give the jail a user of its own, or keep namespaces.pid: true")
        unit = f"/{item.loaded.jail.unit_name}\n"
        outside = [pid for pid, cgroup in _processes_of(uid) if unit not in cgroup]
        if outside:
            raise JailError(f"{item.name}: it has no PID namespace, and its user {item.loaded.jail.user} (uid {uid}) "
                            f"runs processes outside the jail (PID {', '.join(map(str, outside[:5]))}): the jail "
                            "could signal and trace them", hint="give the jail a user of its own, or keep "
                            "namespaces.pid: true")


def recorded_state(name: str, warn: Say) -> state.JailState | None:
    try:
        return state.load(name)
    except state.StateProblem as exc:
        warn(str(exc))
        return None


def plan_all(rendered: list[Rendered], warn: Say) -> list[JailPlan]:
    return [plan_jail(item, recorded_state(item.name, warn)) for item in rendered]


def _host_dirs(item: Rendered) -> None:
    shift = item.loaded.jail.id_shift
    for path, owner, group in item.contents.host_dirs:
        if os.path.isdir(path):
            continue  # an existing host directory is the operator's: never chowned
        os.makedirs(path, mode=0o755)
        uid = pwd.getpwnam(owner).pw_uid
        gid = grp.getgrnam(group).gr_gid if group else pwd.getpwnam(owner).pw_gid
        os.chown(path, uid + shift, gid + shift)


def _build_tree(item: Rendered, recorded: state.JailState | None, say: Say) -> list[str]:
    users, groups = ids(item.contents)
    left: list[str] = []
    with Tree(item.loaded.jail.root_dir) as tree:
        contents = item.contents
        if rootfs_changed(contents, recorded):
            try:
                count, skipped = rootfs.unpack(contents.rootfs or "", tree, rootfs_limit(item.loaded.jail))
            except rootfs.RootfsError as exc:
                raise JailError(f"{item.name}: {exc}") from exc
            say(f"{item.name}: unpacked {count} entries of {contents.rootfs}"
                + (f"; skipped {len(skipped)}: {'; '.join(skipped[:5])}" if skipped else ""))
        # Directories first (shallow to deep), so files land in their final parents.
        for path, entry in sorted(contents.entries.items(), key=lambda kv: (kv[1].kind != "dir", kv[0])):
            uid, gid = owner_ids(entry, users, groups, item.loaded.jail.id_shift)
            if entry.kind == "dir":
                tree.ensure_dir(path, entry.mode, uid, gid)
            else:
                tree.ensure_file(path, entry.data, entry.mode, uid, gid)
        if recorded and recorded.root == item.loaded.jail.root_dir:
            for path in sorted(set(recorded.entries) - set(contents.entries), reverse=True):
                left += tree.remove(path)
    return left


def _new_state(item: Rendered, pending: bool) -> state.JailState:
    jail = item.loaded.jail
    return state.JailState(
        name=jail.name, source=os.path.realpath(item.loaded.source), root=jail.root_dir, unit=jail.unit_name,
        unit_sha256=sha256(item.unit_text),
        entries={path: record(entry) for path, entry in item.contents.entries.items()},
        host_dirs=[path for path, _, _ in item.contents.host_dirs], pending_restart=pending,
        launcher=jail.uses_launcher, rootfs_sha256=item.contents.rootfs_sha256,
        launcher_init=jail.uses_launcher and jail.namespaces.pid and jail.namespaces.init,
        workdir=jail.workdir, users=jail_users(item.contents),
        extra_units=sorted(item.extra_units), environment=dict(jail.environment), id_shift=jail.id_shift,
        program_uid=_program_uid(item))


def converge(item: Rendered, plan: JailPlan, say: Say, detail: Say) -> tuple[bool, list[str]]:
    """Build one jail's tree and unit; returns whether the unit file changed, and what was left."""
    recorded = plan.recorded
    if not plan.changes:
        return False, []
    # The intent first: a restart pending, and nothing yet recorded as built
    # (an apply killed from here on is finished by the next one).
    if recorded is None:
        intent = _new_state(item, pending=True)
        intent.entries, intent.rootfs_sha256, intent.unit_sha256 = {}, "", ""
    else:
        intent = state.JailState(**{**recorded.__dict__, "pending_restart": True})
    state.save(intent)
    _host_dirs(item)
    try:
        left = _build_tree(item, recorded, say)
    except TreeError as exc:
        raise JailError(f"{item.name}: {exc}") from exc
    unit_changed = False
    for name, text in item.units.items():
        if read_unit(name) != text:
            write_file_atomic(unit_path(name), text.encode(), 0o644)
            unit_changed = True
    for name in sorted(set(recorded.extra_units if recorded else []) - set(item.extra_units)):
        _remove_unit(name)
        unit_changed = True
    for change in plan.changes:
        detail(f"{item.name}: {change.describe().strip()}")
    counts: dict[str, int] = {}
    for change in plan.changes:
        counts[change.op] = counts.get(change.op, 0) + 1
    summary = ", ".join(f"{n} {dict(zip('+~-', ('created', 'changed', 'removed'), strict=True))[op]}"
                        for op, n in sorted(counts.items()))
    say(f"{item.name}: {summary}" + (" (unit rewritten)" if unit_changed else ""))
    journal.record_action(item.name, "build", f"jail {item.name}: {summary}", CHANGES=str(len(plan.changes)))
    return unit_changed, left


def start_or_restart(item: Rendered, plan: JailPlan, say: Say) -> bool:
    jail = item.loaded.jail
    unit = jail.unit_name
    if jail.enable and not systemd.is_enabled(unit):
        systemd.enable(unit)
    elif not jail.enable and systemd.is_enabled(unit):
        systemd.disable(unit)
    if plan.restart_needed:
        say(f"{jail.name}: restarting {unit}" if systemd.is_active(unit) else f"{jail.name}: starting {unit}")
        systemd.restart(unit)
    elif not systemd.is_active(unit):
        props = systemd.show(unit, "ActiveState", "Result")
        if jail.restart == "no" and props.get("Result") == "success" and props.get("ActiveState") == "inactive":
            return False  # it ran and finished, as a `restart: no` jail may: nothing to repair
        say(f"{jail.name}: starting {unit} (it was not running)")
        systemd.start(unit)
    else:
        return False
    failure = systemd.settled_failure(unit)
    if failure:
        journal.record_action(jail.name, "start-failed", f"jail {jail.name}: {unit} exited at once: {failure}")
        raise JailError(f"it exited at once: {failure}")
    journal.record_action(jail.name, "start", f"jail {jail.name}: {unit} (re)started", UNIT=unit)
    return True


def apply(paths: list[str], say: Say, warn: Say, check: bool = False, prune: bool = False,
          detail: Say | None = None) -> list[Outcome]:
    rendered = prepare(paths)
    with state.locked():
        check_id_ranges(rendered, warn)
        check_own_uids(rendered, warn)
        plans = plan_all(rendered, warn)
        outcomes = [Outcome(item.name, plan) for item, plan in zip(rendered, plans, strict=True)]
        if check:
            return outcomes
        reload_needed = False
        for item, outcome in zip(rendered, outcomes, strict=True):
            changed_unit, outcome.left = converge(item, outcome.plan, say, detail or say)
            reload_needed |= changed_unit
        if reload_needed:
            systemd.daemon_reload()
        for item, outcome in zip(rendered, outcomes, strict=True):
            before = outcome.plan.recorded  # its root is the one the service ran from until now
            try:
                outcome.restarted = start_or_restart(item, outcome.plan, say)
            except JailError as exc:
                recent = journal.last_lines(item.loaded.jail.unit_name)
                shown = "".join(f"\n  {line}" for line in recent)
                raise JailError(f"{item.name}: {item.loaded.jail.unit_name} did not start: {exc}{shown}",
                                hint=f"`jailmgr logs {item.name}` shows its journal; the tree and unit "
                                "are in place, so fix the jail file and apply again") from exc
            if before and before.root and before.root != item.loaded.jail.root_dir:
                # The service now runs from the new root: the old tree goes,
                # safely, and only when it is one jailmgr made for this jail.
                if _root_is_ours(item.name, before.root, before.id_shift):
                    outcome.left += remove_root(before.root)
                    say(f"{item.name}: removed the old tree {before.root}")
                else:
                    outcome.left.append(f"{before.root}: the old root, without jailmgr's mark; left in place")
            state.save(_new_state(item, pending=False))
        if prune:
            defined = {item.name for item in rendered}
            for name in state.managed():
                if name not in defined:
                    say(f"{name}: no longer defined; destroying")
                    destroy_one(name, say)
        return outcomes


def _remove_unit(name: str) -> bool:
    """Stop, disable and delete one unit file; True when a file was deleted."""
    systemd.stop(name)
    if systemd.is_enabled(name):
        systemd.disable(name)
    systemd.systemctl("reset-failed", name, check=False)
    path = os.path.join(state.unit_dir(), name)
    if os.path.exists(path):
        os.unlink(path)
        return True
    return False


def _root_is_ours(name: str, root: str, id_shift: int) -> bool:
    """The default root of the jail, or a directory carrying jailmgr's mark with this jail's name
    (owned by root, shifted into the jail's range when it has a user namespace)."""
    if root == model.default_root(name):
        return True
    try:
        with Tree(root, create=False) as tree:
            return tree.matches(model.ROOT_MARKER, "file", f"{name}\n".encode(), 0o444, id_shift, id_shift)
    except (TreeError, OSError):
        return False


def untrusted_record_paths(name: str, recorded: state.JailState) -> list[str]:
    """What a record names that jailmgr would not have made for this jail: never removed.

    A record is data: a damaged or hand-edited one must not aim destroy (or
    the removal of a moved root) at a unit or a directory of someone else.
    """
    wrong = []
    if recorded.name != name:
        wrong.append(f"the record is of jail {recorded.name!r}, not {name!r}")
    allowed_units = {model.unit_name(name), model.netns_unit_name(name)}
    for unit in [recorded.unit, *recorded.extra_units]:
        if unit not in allowed_units:
            wrong.append(f"unit {unit!r}: not a unit jailmgr makes for jail {name}")
    if recorded.unit != model.unit_name(name) and recorded.unit in allowed_units:
        wrong.append(f"unit {recorded.unit!r}: not the main unit of jail {name}")
    if recorded.root and not _root_is_ours(name, recorded.root, recorded.id_shift):
        wrong.append(f"{recorded.root}: not the default root of jail {name} and without jailmgr's mark "
                     f"({model.ROOT_MARKER} naming {name})")
    return wrong


def destroy_one(name: str, say: Say) -> list[str]:
    """Stop, disable and remove one jail's unit, tree and record; returns what was left in place.

    The service is stopped first, so its mounts are gone before the tree is
    removed; removal never follows a symlink and never enters a mount point
    (tree.remove_root), so data in bound host directories survives.
    """
    if not model.is_jail_name(name):
        raise JailError(f"{name!r} is not a jail name")
    recorded = recorded_state(name, say)
    if recorded is not None:
        refused = untrusted_record_paths(name, recorded)
        if refused:
            raise JailError(f"{name}: its record {state.record_path(name)} names what jailmgr would not "
                            "have made; nothing was removed:\n  " + "\n  ".join(refused),
                            hint="check the record; remove what it names by hand if it is really the "
                            "jail's, then the record")
    unit = recorded.unit if recorded else model.unit_name(name)
    path = os.path.join(state.unit_dir(), unit)
    if recorded is None and name not in state.managed() and not os.path.exists(path):
        raise JailError(f"no jail named {name!r} is managed here", hint="`jailmgr list` shows them")
    removed = [_remove_unit(u) for u in [unit, *(recorded.extra_units if recorded else [])]]
    if any(removed):
        systemd.daemon_reload()
    if recorded:
        left = remove_root(recorded.root)
    else:
        # No (readable) record: the default root is jailmgr's own and safe to
        # remove; a custom root can't be known and is named instead.
        default = model.default_root(name)
        left = remove_root(default)
        say(f"{name}: no record of this jail's tree; removed {default} if it was there "
            "(a custom root, if the jail had one, is left)")
    if recorded and not left and recorded.root == model.default_root(name):
        with contextlib.suppress(OSError):  # our own per-jail directory; kept if anything else is in it
            os.rmdir(os.path.dirname(recorded.root))
    for item in left:
        say(f"{name}: left in place: {item}")
    if not left:
        state.forget(name)
    say(f"{name}: destroyed" + (" (some paths were left, see above)" if left else ""))
    journal.record_action(name, "destroy", f"jail {name} destroyed" + (f"; {len(left)} paths left" if left else ""))
    return left


def destroy(names: list[str], say: Say) -> dict[str, list[str]]:
    with state.locked():
        return {name: destroy_one(name, say) for name in names}
