"""Everything apply would produce for one jail, computed without touching the host."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import elf
from .manifest import Contents, build_contents
from .paths import BWRAP, IP, SYSTEMD
from .problems import Problem
from .spec import Loaded
from .unit import has_proc, netns_unit_name, render_netns_unit, render_unit
from .unitsyntax import UnitValueError


@dataclass
class Rendered:
    loaded: Loaded
    contents: Contents
    unit_text: str
    warnings: list[str]
    extra_units: dict[str, str] = field(default_factory=dict)  # unit file name -> text

    @property
    def units(self) -> dict[str, str]:
        """Every unit file of the jail, the main one first."""
        return {self.loaded.jail.unit_name: self.unit_text, **self.extra_units}

    @property
    def name(self) -> str:
        return self.loaded.jail.name

    @property
    def launched(self) -> bool:
        """Whether bubblewrap builds this jail."""
        return self.loaded.jail.uses_launcher()


def not_in_force(loaded: Loaded) -> list[str]:
    """What the jail asks for that this version can't give: said, never faked."""
    jail = loaded.jail
    if not jail.uses_launcher() and not has_proc(jail):
        return [f"{jail.name}: without the launcher, systemd's hardening mounts a /proc (ProcSubset=pid) "
                "even though the jail file has no {type: proc} mount"]
    return []


def render(loaded: Loaded, resolver: elf.Resolver | None = None) -> tuple[Rendered | None, list[Problem]]:
    contents, problems = build_contents(loaded, resolver)
    contents.inputs |= {BWRAP, IP}  # whether they exist decides what is refused
    launched = loaded.jail.uses_launcher()
    contents.inputs.add(SYSTEMD)  # its version decides some directives (setid, hardening)
    if launched:
        from . import setid

        if setid.needed(True, contents.systemd_version):
            contents.host_files.append((setid.FILTER_PATH, setid.bpf()))
    if launched and not os.path.exists(BWRAP):
        problems.append(loaded.problem("namespaces", f"pid, uts and cgroup namespaces need {BWRAP} "
                                       "(apt install bubblewrap), or set them to false"))
    if loaded.jail.namespaces.net == "private" and not os.path.exists(IP):
        problems.append(loaded.problem("namespaces.net", f"net: private needs {IP} (apt install iproute2)"))
    if problems:
        return None, problems
    # Taken now, not when the record is written: a file changed while apply runs then differs from
    # its fingerprint, and the next apply renders the jail again.
    from . import fingerprint

    contents.fingerprints = fingerprint.inputs(contents.inputs)
    try:
        text = render_unit(loaded.jail, contents, str(loaded.source))
        extra = {}
        if loaded.jail.namespaces.net == "private":
            extra[netns_unit_name(loaded.jail)] = render_netns_unit(loaded.jail, str(loaded.source))
    except UnitValueError as exc:
        return None, [loaded.problem("", f"cannot write the unit safely: {exc}")]
    return Rendered(loaded, contents, text, not_in_force(loaded), extra), []


def render_all(loaded: list[Loaded]) -> tuple[list[Rendered], list[Problem]]:
    resolver = elf.Resolver()
    out, problems = [], []
    for item in loaded:
        rendered, found = render(item, resolver)
        problems += found
        if rendered:
            out.append(rendered)
    return out, problems
