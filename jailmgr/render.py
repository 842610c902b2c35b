"""Everything apply would produce for one jail: a function of the jail file, its inputs and the Host.

The Host (host.py) is read once per command and the jail's Mechanism
(mechanism.py) decided once here; nothing later looks at the machine again to
decide how the jail is built.  tests/test_snapshots.py renders every case file
for a systemd 252 and a 257 Host and compares whole units.
"""

from __future__ import annotations

from . import credentials, setid
from .host import Host
from .manifest import Contents, build_contents, ids, jail_users, template_dirs
from .mechanism import Mechanism, decide
from .paths import BWRAP, IP, LOCALES, LOCALTIME, SYSTEMD, ZONEINFO
from .problems import Problem
from .quickdata import dataclass
from .spec import Loaded
from .unit import has_proc, render_units
from .unitsyntax import UnitValueError

# What brings each path runtime: binds, for the message that says it is missing.
_PROVIDES = {ZONEINFO: "apt install tzdata", LOCALTIME: "set the host's zone (timedatectl set-timezone ZONE)",
             LOCALES: "apt install --reinstall libc-bin (its C.utf8)"}


@dataclass
class Rendered:
    loaded: Loaded
    contents: Contents
    mechanism: Mechanism
    units: dict[str, str]  # every unit file of the jail (Jail.units), the main one first: name -> text
    warnings: list[str]
    host_files: list[tuple[str, bytes]]  # files jailmgr keeps outside the tree for it (the set-id filter)
    fingerprints: dict[str, str]  # of every input, taken right after the rendering (fingerprint.py)
    users: dict[str, list[int]]  # the jail's passwd: name -> [uid, primary gid] (what `exec --user` may name)
    owners: tuple[dict[str, int], dict[str, int]]  # user and group ids by name, as the tree's files give them
    program_uid: int  # the host uid the program runs as

    @property
    def name(self) -> str:
        return self.loaded.jail.name

    @property
    def unit_text(self) -> str:
        return self.units[self.loaded.jail.unit_name]

    @property
    def extra_units(self) -> dict[str, str]:
        """The units beside the main one."""
        return {name: text for name, text in self.units.items() if name != self.loaded.jail.unit_name}

    @property
    def launched(self) -> bool:
        """Whether bubblewrap builds this jail."""
        return self.mechanism.launched


def not_in_force(loaded: Loaded, mechanism: Mechanism) -> list[str]:
    """What the jail asks for that this version can't give: said, never faked."""
    jail = loaded.jail
    if not mechanism.launched and not has_proc(jail):
        return [f"{jail.name}: without the launcher, systemd's hardening mounts a /proc (ProcSubset=pid) "
                "even though the jail file has no {type: proc} mount"]
    return []


def render(loaded: Loaded, host: Host) -> tuple[Rendered | None, list[Problem]]:
    jail = loaded.jail
    mechanism = decide(jail, host)
    contents, problems = build_contents(loaded, host)
    if mechanism.launched and not host.has(BWRAP):
        problems.append(loaded.problem("namespaces", f"pid, uts and cgroup namespaces need {BWRAP} "
                                       "(apt install bubblewrap), or set them to false"))
    if jail.namespaces.net == "private" and not host.has(IP):
        problems.append(loaded.problem("namespaces.net", f"net: private needs {IP} (apt install iproute2)"))
    for place in jail.runtime_binds:
        if place.path not in host.runtime_paths:
            problems.append(loaded.problem(place.key, f"{place.key} binds {place.path}, which is not on this host: "
                                           f"{_PROVIDES[place.path]}, or set {place.key.split('.')[1]}: false"))
    for key, message in credentials.readable_by_templates(jail, template_dirs(loaded, host)):
        problems.append(loaded.problem(key, message))
    if problems:
        return None, problems
    # Whether the tools exist decides what is refused; systemd's version decides some directives.
    # (a credential's file by its stat identity alone: its content is read by systemd, never here)
    inputs = contents.inputs | {BWRAP, IP, SYSTEMD} | credentials.sources(jail)
    host_files = [(setid.FILTER_PATH, setid.bpf())] if mechanism.nosetid else []
    try:
        units = render_units(jail, contents, mechanism, str(loaded.source))
    except UnitValueError as exc:
        return None, [loaded.problem("", f"cannot write the unit safely: {exc}")]
    from . import fingerprint  # (a step below the units in the layout; only rendering pays for it)

    users, groups = ids(contents)
    # Taken now, not when the record is written: a file changed while apply runs then differs from
    # its fingerprint, and the next apply renders the jail again.
    return Rendered(loaded, contents, mechanism, units, not_in_force(loaded, mechanism), host_files,
                    fingerprint.inputs(inputs), jail_users(contents), (users, groups),
                    users[jail.user] + jail.id_shift), []


def render_all(loaded: list[Loaded], host: Host | None = None) -> tuple[list[Rendered], list[Problem]]:
    """Every jail rendered against one Host (read now when none is given)."""
    if host is None:
        host = Host.read(shadow=any(item.jail.tree.shadow for item in loaded))
    out, problems = [], []
    for item in loaded:
        rendered, found = render(item, host)
        problems += found
        if rendered:
            out.append(rendered)
    return out, problems
