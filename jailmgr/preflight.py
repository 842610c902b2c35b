"""What only the host shows about a set of jails, checked before anything is written.

`plan` and `apply` (in the one pass they share, apply.survey) and `validate --host` run the same
checks against the same Host, and every problem comes back at once, at the place in the jail file that
causes it, with a hint.  Two kinds, refused as widely as before they were checked here:

- across jails, and what the records hold (the whole run is refused, as for a bad file): two jails
  sharing a user-namespace id block, a program uid that another jail or a host process also runs as, a
  path root resolves for one jail that another can write, a mount source through a symlink on the host,
  two jails that wait on one port;
- one jail's host state (that jail alone is refused, before anything of it is written; the others go
  on, as they did when its start failed): a bind source that is not there, a `create:` owner or group the
  host lacks, a directory the launcher can't pass on its way to a path it resolves, a ready port
  something else listens on.

What can't be seen without root (another user's sockets, a directory this user may not search) is a
note, said as such, never a guess.
"""

from __future__ import annotations

import os
import stat
from dataclasses import field
from typing import Protocol

from . import credentials, crossjail, procfs, spec, state, timens
from .host import Db, Host, Node
from .mechanism import decide
from .model import USERNS_COUNT, Jail
from .problems import Problem
from .quickdata import dataclass
from .render import Rendered, render_all
from .safefs import host_symlink
from .spec import Loaded

# With either, bubblewrap passes any directory: the jail asked for it (the launcher adds neither).
_DAC_CAPS = ("CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH")


@dataclass
class Found:
    """What the preflight found: problems that refuse the run, problems that refuse one jail, and notes."""

    across: list[Problem] = field(default_factory=list)
    own: dict[str, list[Problem]] = field(default_factory=dict)  # jail name -> its host state's problems
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def problems(self) -> list[Problem]:
        return [*self.across, *(p for found in self.own.values() for p in found)]


class Ports(Protocol):
    """The host's TCP listeners, as the ready-port check needs them (HostPorts: /proc, through procfs)."""

    def listening(self, port: int) -> set[int]:
        """The inodes of the sockets listening on `port` in this network namespace."""

    def unit_sockets(self, unit: str) -> set[int] | None:
        """The inodes of the sockets a unit's processes hold; None when some can't be looked at (not root)."""

    def holders(self, inodes: set[int]) -> list[str]:
        """`PID N (argv)` of each process holding one of them, as far as this user can see."""


class HostPorts:
    """/proc, read once for every jail that asks: the listeners of this network namespace, and which
    service each process belongs to."""

    def __init__(self) -> None:
        self._listening: dict[int, set[int]] | None = None
        self._units: dict[int, str] | None = None

    def _unit_of(self) -> dict[int, str]:
        if self._units is None:
            self._units = procfs.units_of_processes()
        return self._units

    def listening(self, port: int) -> set[int]:
        if self._listening is None:
            self._listening = procfs.listeners(os.getpid())
        return self._listening.get(port, set())

    def unit_sockets(self, unit: str) -> set[int] | None:
        inodes, complete = procfs.held_sockets([pid for pid, u in self._unit_of().items() if u == unit])
        return inodes if complete else None

    def holders(self, inodes: set[int]) -> list[str]:
        units = self._unit_of()
        return [f"PID {pid} ({procfs.command(pid)[:60]})" + (f" of {units[pid]}" if pid in units else "")
                for pid in procfs.socket_holders(inodes)]


def check(loaded: list[Loaded], rendered: list[Rendered], host: Host, records: state.Records,
          leaving: frozenset[str] = frozenset(), ports: Ports | None = None) -> Found:
    """Every jail's host state, and the jails against each other and the records (`leaving`: jails --prune
    destroys in this run).  `rendered` are those of `loaded` whose rendering succeeded."""
    found = Found()
    found.across += check_id_ranges(loaded, records)
    found.across += check_own_uids(rendered, records)
    found.across += check_host_paths(loaded, records, leaving, found.notes, rendered)
    found.across += _shared_ports(loaded)
    found.across += _socket_paths(loaded, records)
    ports = ports or HostPorts()
    # The Mechanism rendering decided (for a jail whose rendering failed, decided here: the same answer).
    launched = {item.name: item.mechanism.launched for item in rendered}
    # (the host's lack, read once for every jail that asks for a time namespace)
    time_lacking = timens.host_problem() if any(item.jail.namespaces.time for item in loaded) else None
    for item in loaded:
        name = item.jail.name
        mine = [*_mount_sources(item, host, found.notes), *_mount_owners(item, host),
                *_launcher_reach(item, host, launched.get(name, decide(item.jail, host).launched), found.notes),
                *_ready_port(item, ports, found.notes), *_credentials(item, host, found.notes),
                *_socket_ports(item, ports)]
        if item.jail.namespaces.time and time_lacking:
            mine.append(item.problem("namespaces.time", time_lacking))
        if mine:
            found.own[name] = mine
    return found


def validate_host(loaded: list[Loaded]) -> tuple[list[Problem], list[str]]:
    """`validate --host`: what plan and apply would find (rendering, then check), writing nothing and taking
    no lock; without root, what needs root (/etc/shadow, the records, files only root may read) is a note."""
    import dataclasses

    notes: list[str] = []
    root = os.geteuid() == 0
    shadow = any(item.jail.tree.shadow for item in loaded)
    host = Host.read(shadow=shadow and root)
    if shadow and not root:
        host = dataclasses.replace(host, shadow={})  # (each user's entry is then locked: checked, not read)
        notes.append("/etc/shadow (tree.shadow) can't be read without root")
    rendered, problems = render_all(loaded, host)
    if not root:
        denied = [p for p in problems if "Permission denied" in p.message]
        notes += [f"{p} (without root)" for p in denied]
        problems = [p for p in problems if p not in denied]
    try:
        records = state.read_records(notes.append)
    except PermissionError:
        records = {}
        notes.append(f"the records in {state.state_dir()} can't be read without root: the jails were checked "
                     "against each other, not against those applied before")
    found = check(loaded, rendered, host, records)
    return [*problems, *found.problems], [*notes, *found.notes]


# --- across jails ------------------------------------------------------------------------------------------

def _id_blocks(loaded: list[Loaded], records: state.Records) -> dict[str, int]:
    """Each `user: true` jail's host id block (name -> its first id); a jail of this run replaces its record."""
    blocks = {name: r.id_shift for name, r in records.items() if r.id_shift}
    for item in loaded:
        blocks.pop(item.jail.name, None)
        if item.jail.id_shift:
            blocks[item.jail.name] = item.jail.id_shift
    return blocks


def check_id_ranges(loaded: list[Loaded], records: state.Records) -> list[Problem]:
    """Two `user: true` jails must not share a host id block (it is picked from the name)."""
    owners: dict[int, list[str]] = {}
    for name, shift in _id_blocks(loaded, records).items():
        owners.setdefault(shift, []).append(name)
    found = []
    for item in loaded:
        shift = item.jail.id_shift
        others = [name for name in owners.get(shift, []) if name != item.jail.name]
        if shift and others:
            found.append(item.problem("namespaces.user", f"its user namespace's host ids ({shift}-{shift + 65535}) "
                                      f"are those of jail {others[0]}", "rename one of the two jails (the block is "
                                      "picked from the name)"))
    return found


def _recorded_sets(recorded: state.JailState) -> spec.Sets:
    writable, resolved = recorded.host_sets()
    return spec.Sets(recorded.name, tuple(spec.Place(p, k) for p, k in writable.items()),
                     tuple(spec.Place(p, k) for p, k in resolved.items()))


BOUND_KEY = "tree.packages"  # what a bound host file of the tree (a package's, a library) is reported under


def bound_places(item: Rendered) -> list[spec.Place]:
    """The host paths root binds into the jail from its tree (packages' files, libraries), at each start."""
    return [spec.Place(spec.norm(b.source), BOUND_KEY) for b in item.contents.binds]


def sets_of(loaded: Loaded, rendered: Rendered | None = None) -> spec.Sets:
    """A jail's host sets: its file's, and once rendered, the host files its tree binds."""
    sets = spec.sets_of(loaded.jail)
    if rendered is None:
        return sets
    return spec.Sets(sets.name, sets.writable, (*bound_places(rendered), *sets.resolved))


def check_host_paths(loaded: list[Loaded], records: state.Records, leaving: frozenset[str] = frozenset(),
                     notes: list[str] | None = None, rendered: list[Rendered] | None = None) -> list[Problem]:
    """What only the host shows: no path root resolves for a jail passes through another jail's writable set
    (those in this run, and the recorded ones), and no mount source passes through a symlink on the host.

    (The workdir and the mount targets in the tree need no check here: they are declared tree dirs, which
    apply makes real directories, walking with O_NOFOLLOW, whatever a rootfs archive put there.)
    """
    if not loaded:
        return []  # (a no-op apply: what the records hold was checked when they were written)
    by_name = {item.name: item for item in rendered or []}
    sets = [sets_of(item, by_name.get(item.jail.name)) for item in loaded]
    names = {item.jail.name for item in loaded} | leaving
    sets += [_recorded_sets(recorded) for name, recorded in records.items() if name not in names]
    found = []
    index = crossjail.Index(sets)
    secrets = crossjail.SecretIndex(sets)
    for item, mine in zip(loaded, sets, strict=False):
        found += [item.problem(key, message, "a jail may share another's writable dir itself, never a path below it")
                  for key, message in index.conflicts(mine)]
        found += [item.problem(key, message, "a secret is bound into no jail: its own reads it at "
                               "$CREDENTIALS_DIRECTORY") for key, message in secrets.exposures(mine)]
        for i, mount in enumerate(item.jail.mounts):
            try:
                link = host_symlink(mount.source) if mount.type == "bind" and mount.source else ""
            except PermissionError:
                link = ""
                if notes is not None:
                    notes.append(f"{item.source}: mounts[{i}].source {mount.source}: whether the way there holds a "
                                 "symlink can't be seen without root")
            if link:
                found.append(item.problem(
                    f"mounts[{i}].source", f"{mount.source}: {link} is a symlink on the host, and root would follow "
                    "it at each start (whoever can change it picks the source)",
                    f"name the path it resolves to now: {os.path.realpath(mount.source or '')}"))
    return found


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


def _uids_outside_id_blocks(rendered: list[Rendered], records: state.Records) -> list[Problem]:
    """No jail's program runs as a host uid of another jail's user-namespace block: root of that jail is
    such a uid on the host, and kill() asks only that the uids match (whatever the namespaces)."""
    blocks = _id_blocks([item.loaded for item in rendered], records)
    programs = {name: r.program_uid for name, r in records.items() if r.program_uid >= 0 and not r.id_shift}
    for item in rendered:  # what this run renders replaces its record
        programs.pop(item.name, None)
        if not item.loaded.jail.id_shift:
            programs[item.name] = item.program_uid
    here = {item.name: item.loaded for item in rendered}
    found = []
    for name, uid in programs.items():
        for owner, shift in blocks.items():
            if owner == name or not shift <= uid < shift + USERNS_COUNT:
                continue
            ids = f"{shift}-{shift + USERNS_COUNT - 1}"
            if name in here:
                found.append(here[name].problem("user", f"the program runs as uid {uid}, one of the host ids of jail "
                                                f"{owner}'s user namespace ({ids}): each could signal the other",
                                                "give the jail a user outside that block"))
            elif owner in here:
                found.append(here[owner].problem("namespaces.user", f"its user namespace's host ids ({ids}) hold uid "
                                                 f"{uid}, the program's of jail {name}: each could signal the other",
                                                 f"give jail {name} a user outside the block, or rename this jail"))
    return found


def check_own_uids(rendered: list[Rendered], records: state.Records) -> list[Problem]:
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
    found = _uids_outside_id_blocks(rendered, records)
    hint = "give the jail a user of its own, or keep namespaces.pid: true"
    for item in rendered:
        ns = item.loaded.jail.namespaces
        if ns.pid or ns.user:
            continue
        uid, user = item.program_uid, item.loaded.jail.user
        others = [n for n in uids[uid] if n != item.name]
        if others:
            found.append(item.loaded.problem("user", f"it has no PID namespace, and its user {user} (uid {uid}) is "
                                             f"also the user of jail {others[0]}: each could signal and trace the "
                                             "other", hint))
            continue
        unit = f"/{item.loaded.jail.unit_name}\n"
        outside = [pid for pid, cgroup in _processes_of(uid) if unit not in cgroup]
        if outside:
            found.append(item.loaded.problem("user", f"it has no PID namespace, and its user {user} (uid {uid}) runs "
                                             f"processes outside the jail (PID {', '.join(map(str, outside[:5]))}): "
                                             "the jail could signal and trace them", hint))
    return found


def _shared_ports(loaded: list[Loaded]) -> list[Problem]:
    """Two jails on the host's network can't both listen on one ready port."""
    first: dict[int, str] = {}
    found = []
    for item in loaded:
        port = _host_port(item.jail)
        if port is None:
            continue
        if port in first:
            found.append(item.problem("ready.port", f"port {port} is also the ready port of jail {first[port]}, and "
                                      "both listen on the host's network", "give one of them another port (or "
                                      "namespaces.net: private)"))
        else:
            first[port] = item.jail.name
    return found


# --- one jail's host state ---------------------------------------------------------------------------------

def _host_port(jail: Jail) -> int | None:
    """The ready port, when the jail listens on the host's network (a private netns has ports of its own)."""
    if jail.ready is None or jail.ready.port is None or jail.namespaces.net != "host":
        return None
    return jail.ready.port


def _mount_sources(item: Loaded, host: Host, notes: list[str]) -> list[Problem]:
    """Every bind source is there, or `create:` has apply make it (the start failed on it, after the tree, the
    unit and the record were written)."""
    found = []
    for i, mount in enumerate(item.jail.mounts):
        if mount.type != "bind" or not mount.source or mount.create:
            continue
        try:
            node = host.disk.lstat(mount.source)
        except PermissionError:
            notes.append(f"{item.source}: mounts[{i}].source {mount.source}: whether it is there can't be seen "
                         "without root")
            continue
        if node is None:
            found.append(item.problem(f"mounts[{i}].source", f"{mount.source} does not exist on this host",
                                      f"make it (mkdir -p {mount.source}, or install what brings it), or set "
                                      "`create: true` on this mount (with owner:) for apply to make it"))
    return found


def _credentials(item: Loaded, host: Host, notes: list[str]) -> list[Problem]:
    """Each credential's host file is there, a file, and root's alone (credentials.host_problems)."""
    problems, unseen = credentials.host_problems(item.jail, host.disk)
    notes += [f"{item.source}: {note}" for note in unseen]
    return [item.problem(key, message, hint) for key, message, hint in problems]


def _near(name: str, known: list[str], what: str, make: str) -> str:
    from .fields import close

    hit = close(name, known)
    return (f"did you mean {hit[0]!r}? (a {what} of this host)" if hit else
            f"create it first ({make} {name}), or name a {what} this host has")


def _mount_owners(item: Loaded, host: Host) -> list[Problem]:
    """The owner and group of a source `create:` makes are the host's (apply failed on them, mid-way)."""
    found = []
    for i, mount in enumerate(item.jail.mounts):
        if mount.type != "bind" or not mount.create:
            continue
        if mount.owner not in host.passwd:
            found.append(item.problem(f"mounts[{i}].owner", f"user {mount.owner!r} does not exist on this host",
                                      _near(mount.owner, sorted(host.passwd), "user", "adduser --system")))
        if mount.group is not None and mount.group not in host.group:
            found.append(item.problem(f"mounts[{i}].group", f"group {mount.group!r} does not exist on this host",
                                      _near(mount.group, sorted(host.group), "group", "addgroup --system")))
    return found


def _searchable(node: Node, uid: int, gid: int) -> bool:
    """Whether a process of these ids without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH may search the directory:
    the owner's bits for its owner, the group's for its group, the others' for everyone else (not the
    most generous of them: Linux takes the first class that matches)."""
    if node.uid == uid:
        return bool(node.mode & stat.S_IXUSR)
    if node.gid == gid:
        return bool(node.mode & stat.S_IXGRP)
    return bool(node.mode & stat.S_IXOTH)


def _host_block(path: str, host: Host, uid: int, gid: int) -> tuple[str, Node] | None:
    """The first directory above `path` on the host these ids can't search (None: every one they pass, or
    one missing, which apply makes root's and 0755).  PermissionError: this process can't look."""
    walked = ""
    for part in [p for p in path.split("/") if p][:-1]:
        walked += "/" + part
        node = host.disk.lstat(walked)
        if node is None or not node.is_dir:
            return None  # (missing, or a symlink: said where sources are checked)
        if not _searchable(node, uid, gid):
            return walked, node
    return None


def _tree_block(jail: Jail, path: str, host: Host, uid: int, gid: int,
                mounted: bool) -> tuple[str, Node, bool] | None:
    """The first directory of the tree above `path` (a jail path) these ids can't search, as apply makes
    them from tree.dirs (the others root's, 0755), and whether it is the tree's (else a bind's host source).
    With `mounted`, as the jail's view has them: below a bind target, the host's source (a tmpfs's are
    bubblewrap's own, 0755)."""
    shift = jail.id_shift
    dirs = {d.path: d for d in jail.tree.dirs}
    binds = {m.target: m.source for m in jail.mounts if m.type == "bind" and m.target and m.source}
    tmpfs = [m.target for m in jail.mounts if m.type == "tmpfs" and m.target]
    walked = ""
    for part in [p for p in path.split("/") if p][:-1]:
        walked += "/" + part
        if mounted:
            under = max((t for t in binds if walked == t or walked.startswith(t + "/")), key=len, default=None)
            if under is not None:
                source = binds[under] + walked[len(under):]
                node = host.disk.lstat(source)
                if node is not None and node.is_dir and not _searchable(node, uid, gid):
                    return source, node, False
                continue
            if any(walked == t or walked.startswith(t + "/") for t in tmpfs):
                continue
        entry = dirs.get(walked)
        if entry is None:
            continue  # (made by apply: root's, 0755)
        owner, group = host.passwd.get(entry.owner), host.group.get(entry.group)
        if owner is None or group is None:
            continue  # (said where the users are)
        node = Node(stat.S_IFDIR | entry.mode, int(owner[2]) + shift, int(group[2]) + shift)
        if not _searchable(node, uid, gid):
            return walked, node, True
    return None


def _launcher_reach(item: Loaded, host: Host, launched: bool, notes: list[str]) -> list[Problem]:
    """bubblewrap runs as root without CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH (the unit's bounding set), so
    every directory on its way to what it binds (the tree, the bind sources, the writable dirs' host paths,
    the binaries) and to each mount target in the jail must let it search: as their owner when root owns
    them, else as others (under `user: true`, root of the jail's namespace is the host uid of the block's
    first id, and owns none of the host's).  PostgreSQL's data in a 0700 directory of postgres failed at the
    start with "bwrap: Can't find source path ...: Permission denied"."""
    jail = item.jail
    if not launched or any(c in jail.security.capabilities for c in _DAC_CAPS):
        return []
    uid = gid = jail.id_shift
    who = f"the jail's root, host uid {uid}," if uid else "root"
    root = jail.root_dir
    wanted = [("root", root, ""), *((f"tree.binaries[{i}]", b, "") for i, b in enumerate(jail.tree.binaries))]
    wanted += [(f"mounts[{i}].source", m.source, "") for i, m in enumerate(jail.mounts)
               if m.type == "bind" and m.source]
    if jail.tree.rootfs is None:  # (an archive's tree: its modes are the archive's)
        # A writable dir is bound from the tree on the host; a mount target is looked up in the jail's view.
        wanted += [(f"tree.dirs[{i}].path", d.path, "tree") for i, d in enumerate(jail.tree.dirs) if d.writable]
        wanted += [(f"mounts[{i}].target", m.target or "/proc", "jail") for i, m in enumerate(jail.mounts)]
    found = []
    for key, path, where in wanted:
        try:
            if where:
                block = _tree_block(jail, path, host, uid, gid, mounted=where == "jail")
            else:
                on_host = _host_block(path, host, uid, gid)
                block = (*on_host, False) if on_host else None
        except PermissionError:
            notes.append(f"{item.source}: {key} {path}: whether the launcher can reach it can't be seen without root")
            continue
        if block is None:
            continue
        directory, node, in_tree = block
        owner = _name(host.passwd, node.uid - (uid if in_tree else 0))
        group = _name(host.group, node.gid - (gid if in_tree else 0))
        shown = f"{root}{path} (the tree's {path})" if where == "tree" else path
        as_group = node.gid == gid  # (Linux takes the group's bits then, though the others' may allow it)
        bit = 0o010 if as_group else 0o001
        if in_tree:
            index = next(i for i, d in enumerate(jail.tree.dirs) if d.path == directory)
            hint = (f"give tree.dirs[{index}] ({directory}) a mode {'its group' if as_group else 'others'} may "
                    f"search ({node.mode & 0o7777 | bit:04o}), or keep what the launcher passes out of it")
            directory = f"the tree's {directory}"
        else:
            hint = (f"chmod {'g' if as_group else 'o'}+x {directory} (they may then pass through it, not list it), "
                    f"or {'bind a directory outside it' if key.startswith('mounts') else 'move it out'}")
        found.append(item.problem(key, f"bubblewrap can't reach {shown}: {directory} is {node.mode & 0o7777:04o} "
                                  f"{owner}:{group}, and the launcher ({who} without CAP_DAC_OVERRIDE) may pass it "
                                  f"only as {f'its group ({group})' if as_group else 'others'}, who may not search it",
                                  hint))
    return found


def _name(db: Db, number: int) -> str:
    """A user's or group's name on the host, or its number."""
    return next((name for name, entry in db.items() if entry[2] == str(number)), str(number))


def _socket_ports(item: Loaded, ports: Ports) -> list[Problem]:
    """A stream socket's port that something on the host listens on already: the socket unit would fail to
    start.  Not when the jail's socket unit already lists that address (systemd holds it for the jail)."""
    from . import sockets
    from .paths import read_unit

    jail = item.jail
    if not jail.sockets:
        return []
    current = read_unit(jail.enable_unit) or ""
    found = []
    for i, listen, kind in sockets.listens(jail):
        if listen.unix or kind != sockets.SocketType.STREAM:
            continue  # (UDP has no listeners to read; a unix path is made by systemd, replaced if stale)
        if f"\nListenStream={listen.address}\n" in current or not ports.listening(listen.port):
            continue
        holders = ports.holders(ports.listening(listen.port))
        by = ", ".join(holders) if holders else "a process this user can't see"
        found.append(item.problem(f"sockets[{i}].listen", f"port {listen.port} is taken on the host: {by} listens "
                                  "on it", f"stop it, or give the jail another port; `ss -ltnp 'sport = "
                                  f":{listen.port}'` names the listener"))
    return found


def _socket_paths(loaded: list[Loaded], records: state.Records) -> list[Problem]:
    """A unix socket systemd would make in another jail's tree (its own is refused by validate)."""
    from . import sockets

    roots = {name: recorded.root for name, recorded in records.items() if recorded.root}
    roots.update({item.jail.name: item.jail.root_dir for item in loaded})
    found = []
    for item in loaded:
        for i, listen, _ in sockets.listens(item.jail):
            if not listen.unix:
                continue
            for name, root in roots.items():
                if name != item.jail.name and spec.at_or_below(spec.norm(listen.unix), spec.norm(root)):
                    found.append(item.problem(f"sockets[{i}].listen", f"{listen.unix} lies in the tree of jail {name} "
                                              f"({root}): systemd would make the socket there as root",
                                              "put it outside every jail's tree, e.g. /run/jailmgr-NAME.sock"))
    return found


def _ready_port(item: Loaded, ports: Ports, notes: list[str]) -> list[Problem]:
    """Nothing but this jail's own running program listens on its ready port (the start failed on it: the
    program exited with "address in use", or apply waited start_timeout for it)."""
    port = _host_port(item.jail)
    if port is None:
        return []
    listening = ports.listening(port)
    if not listening:
        return []
    own = ports.unit_sockets(item.jail.unit_name)
    if own is None:
        notes.append(f"{item.source}: ready.port {port} is in use, and whether by {item.jail.unit_name} itself can't "
                     "be seen without root")
        return []
    others = listening - own
    if not others:
        return []  # (the jail's own program: a re-apply of the running jail)
    holders = ports.holders(others)
    by = ", ".join(holders) if holders else "a process this user can't see"
    return [item.problem("ready.port", f"port {port} is taken: {by} listens on it, not this jail",
                         f"stop it, or give the jail (and its program) another port; `ss -ltnp 'sport = :{port}'` "
                         "names the listener")]
