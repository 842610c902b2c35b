"""What only the host shows about a set of jails, checked before anything is written.

`plan` and `apply` run the same checks in the same pass (apply.survey), so
`plan` refuses what `apply` would: two jails sharing a user-namespace id
block, a program uid that another jail or a host process also runs as, a
path root resolves for one jail that another can write, a mount source
through a symlink on the host.
"""

from __future__ import annotations

import os

from . import procfs, spec, state
from .model import USERNS_COUNT
from .problems import JailError
from .render import Rendered
from .safefs import host_symlink


def _id_blocks(rendered: list[Rendered], records: state.Records) -> dict[str, int]:
    """Each `user: true` jail's host id block (name -> its first id); what this apply renders replaces its record."""
    blocks = {name: r.id_shift for name, r in records.items() if r.id_shift}
    for item in rendered:
        blocks.pop(item.name, None)
        if item.loaded.jail.id_shift:
            blocks[item.name] = item.loaded.jail.id_shift
    return blocks


def check_id_ranges(rendered: list[Rendered], records: state.Records) -> None:
    """Two `user: true` jails must not share a host id block (it is picked from the name)."""
    owners: dict[int, list[str]] = {}
    for name, shift in _id_blocks(rendered, records).items():
        owners.setdefault(shift, []).append(name)
    for item in rendered:
        shift = item.loaded.jail.id_shift
        others = [name for name in owners.get(shift, []) if name != item.name]
        if shift and others:
            raise JailError(f"{item.name}: its user namespace ids ({shift}-{shift + 65535}) are those of jail "
                            f"{others[0]}", hint="rename one of the two jails")


def _recorded_sets(recorded: state.JailState) -> spec.Sets:
    writable, resolved = recorded.host_sets()
    return spec.Sets(recorded.name, tuple(spec.Place(p, k) for p, k in writable.items()),
                     tuple(spec.Place(p, k) for p, k in resolved.items()))


def check_host_paths(rendered: list[Rendered], records: state.Records, leaving: frozenset[str] = frozenset()) -> None:
    """What only the host shows: no path root resolves for a jail passes through another jail's writable set
    (those in this apply, and the recorded ones), and no mount source passes through a symlink on the host.

    Run before the first change, like the other cross-jail checks: a refusal makes nothing.  (The workdir
    and the mount targets in the tree need no check here: they are declared tree dirs, which apply makes
    real directories, walking with O_NOFOLLOW, whatever a rootfs archive put there.)  `leaving`: jails
    --prune destroys in this apply.
    """
    if not rendered:
        return  # (a no-op apply: what the records hold was checked when they were written)
    sets = [spec.sets_of(item.loaded.jail) for item in rendered]
    names = {item.name for item in rendered} | leaving
    sets += [_recorded_sets(recorded) for name, recorded in records.items() if name not in names]
    for mine in sets[:len(rendered)]:
        found = spec.cross_conflicts(mine, sets)
        if found:
            raise JailError(found[0], hint="a jail may share another's writable dir itself, never a path below it")
    for item in rendered:
        for i, mount in enumerate(item.loaded.jail.mounts):
            link = host_symlink(mount.source) if mount.type == "bind" and mount.source else ""
            if link:
                raise JailError(f"{item.name}: mounts[{i}].source {mount.source}: {link} is a symlink on the host, "
                                "and root would follow it at each start (whoever can change it picks the source)",
                                hint=f"name the path it resolves to now: {os.path.realpath(mount.source or '')}")


def _processes_of(uid: int) -> list[tuple[int, str]]:
    """Processes whose real, effective or saved uid is `uid`, with their cgroup."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uids = procfs.status_fields(entry, ("Uid",)).get("Uid", "").split()[:3]
            cgroup = procfs.text(procfs.read(entry, "cgroup")[0], procfs.LIMITS["cgroup"])
        except OSError:
            continue
        if str(uid) in uids:
            found.append((int(entry), cgroup))
    return found


def _check_uids_outside_id_blocks(rendered: list[Rendered], records: state.Records) -> None:
    """No jail's program runs as a host uid of another jail's user-namespace block: root of that jail is
    such a uid on the host, and kill() asks only that the uids match (whatever the namespaces)."""
    blocks = _id_blocks(rendered, records)
    programs = {name: r.program_uid for name, r in records.items() if r.program_uid >= 0 and not r.id_shift}
    for item in rendered:  # what this apply renders replaces its record
        programs.pop(item.name, None)
        if not item.loaded.jail.id_shift:
            programs[item.name] = item.program_uid
    here = {item.name for item in rendered}
    for name, uid in programs.items():
        for owner, shift in blocks.items():
            if owner != name and shift <= uid < shift + USERNS_COUNT and (name in here or owner in here):
                raise JailError(f"{name if name in here else owner}: the program of jail {name} runs as uid {uid}, "
                                f"one of the host ids of jail {owner}'s user namespace ({shift}-"
                                f"{shift + USERNS_COUNT - 1}): each could signal the other",
                                hint="give that jail a user outside the block")


def check_own_uids(rendered: list[Rendered], records: state.Records) -> None:
    """A jail without PID and user namespaces sees the host's processes: its program's uid must be its own.

    kill() and ptrace need no capability between processes of one uid, so no
    other jail, and no process outside the jail, may run as that uid.
    """
    uids: dict[int, list[str]] = {}
    for name, recorded in records.items():
        if recorded.program_uid >= 0:
            uids.setdefault(recorded.program_uid, []).append(name)
    for item in rendered:
        owners = uids.setdefault(item.program_uid, [])
        if item.name not in owners:
            owners.append(item.name)
    _check_uids_outside_id_blocks(rendered, records)
    for item in rendered:
        ns = item.loaded.jail.namespaces
        if ns.pid or ns.user:
            continue
        uid = item.program_uid
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
