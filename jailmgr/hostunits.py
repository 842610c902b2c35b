"""`jailmgr check`: a unit of the host's own that runs the jailed program beside the jail.

Installing a daemon's Debian package (vsftpd) enables and starts its stock,
unjailed unit (vsftpd.service on :21); a jail of the same program then serves
beside it, and the operator may believe the unjailed one is gone.  This finds
the host's processes that run the jail file's program (its exec[0], the same
path on the host for a bound or copied binary) from a unit that is not a
jail's, in the host's own mount namespace (whose /proc/PID/exe names host
paths), with the TCP ports they listen on.  Only the host's processes are
looked at; a jail's are never read here.
"""

from __future__ import annotations

import os

from . import procfs
from .quickdata import dataclass

# A jail that runs an interpreter shares its program with many host units: no warning means anything there.
INTERPRETERS = {"sh", "dash", "bash", "busybox", "python3", "perl", "env", "tini"}


@dataclass(frozen=True)
class Twin:
    unit: str
    pid: int
    ports: tuple[int, ...]

    def warning(self, jail: str, program: str) -> str:
        where = f", listening on {', '.join(f':{p}' for p in self.ports)}" if self.ports else ""
        return (f"{jail}: the host's own {self.unit} (PID {self.pid}) runs {program} outside the jail{where}; "
                f"if the jail replaces it: systemctl mask --now {self.unit}")


def twins(program: str, procs: dict[int, tuple[str, str]]) -> list[tuple[str, int]]:
    """(unit, pid) of the host processes (pid -> (unit, exe)) that run `program` from a unit not a jail's.
    One per unit, its first process."""
    if not program.startswith("/") or os.path.basename(program) in INTERPRETERS:
        return []
    found: dict[str, int] = {}
    for pid, (unit, exe) in sorted(procs.items()):
        exe = exe.removesuffix(" (deleted)")  # (upgraded since it started: still that program)
        if exe == program and not unit.startswith("jail-"):
            found.setdefault(unit, pid)
    return sorted(found.items())


def host_processes() -> dict[int, tuple[str, str]]:
    """pid -> (unit, exe) of the processes in services that share the host's mount namespace (PID 1's)."""
    host_mnt = procfs.ns_inode(1, "mnt")
    out = {}
    for pid, unit in procfs.units_of_processes().items():
        if not host_mnt or procfs.ns_inode(pid, "mnt") != host_mnt:
            continue  # a jail, a container, or gone: its exe link names no host path
        try:
            out[pid] = (unit, os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
    return out


def _ports(pid: int) -> tuple[int, ...]:
    sockets = procfs.socket_inodes([pid])
    return tuple(sorted(port for port, inodes in procfs.listeners(pid).items() if inodes & sockets))


def warnings(jail: str, program: str, procs: dict[int, tuple[str, str]] | None = None) -> list[str]:
    if procs is None:
        procs = host_processes()
    return [Twin(unit, pid, _ports(pid)).warning(jail, program) for unit, pid in twins(program, procs)]
