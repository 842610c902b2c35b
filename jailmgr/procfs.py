"""Look at a running jail through /proc: its processes, namespaces and confinement."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

NS_TYPES = ("mnt", "pid", "uts", "ipc", "net", "cgroup", "user")


@dataclass
class Namespace:
    """One namespace of the jail's program, as lsns shows it."""

    type: str
    inode: int
    nprocs: int
    pid: int
    command: str
    shared_with_host: bool


@dataclass
class Observed:
    main_pid: int
    program_pid: int = 0
    pids: list[int] = field(default_factory=list)
    namespaces: list[Namespace] = field(default_factory=list)
    confinement: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Proc:
    """What the kernel says of a process (never its argv, which the process writes itself)."""

    pid: int
    ppid: int
    start: int  # clock ticks after boot: no process can be older than its parent's children before it


def processes() -> dict[int, Proc]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                # The name in parentheses may hold anything, ")" too: split after the last one.
                fields = f.read().rsplit(")", 1)[1].split()
            found[int(entry)] = Proc(int(entry), int(fields[1]), int(fields[19]))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _children(procs: dict[int, Proc]) -> dict[int, list[Proc]]:
    tree: dict[int, list[Proc]] = {}
    for proc in procs.values():
        tree.setdefault(proc.ppid, []).append(proc)
    for kids in tree.values():
        kids.sort(key=lambda p: (p.start, p.pid))
    return tree


def descendants(pid: int, procs: dict[int, Proc] | None = None) -> list[int]:
    """pid and every process below it, parents before children."""
    tree, out, todo = _children(procs if procs is not None else processes()), [], [pid]
    while todo:
        current = todo.pop(0)
        out.append(current)
        todo.extend(p.pid for p in tree.get(current, []))
    return out


def ns_inode(pid: int, ns: str) -> int:
    try:
        return os.stat(f"/proc/{pid}/ns/{ns}").st_ino
    except OSError:
        return 0


def command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return ""


def status_fields(pid: int, names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in names:
                    out[key] = value.strip()
    except OSError:
        pass
    return out


def program_pid(main_pid: int, launched: bool, init: bool = True, procs: dict[int, Proc] | None = None) -> int:
    """The jail's program, found by the process tree alone.

    Under the launcher the unit's main process is jailmgr-init's supervisor;
    its child is bubblewrap's monitor, whose child is jailmgr-init's init in
    the jail, whose oldest child is the program (`init`), or the program
    itself once the init exec'd it (`init: false`).  A process's name and
    argv are its own to write, so they are never asked: a program that calls
    itself bwrap is still found.
    """
    if not launched or main_pid <= 0:
        return main_pid
    tree = _children(procs if procs is not None else processes())
    steps = 3 if init else 2
    current = main_pid
    for _ in range(steps):
        kids = tree.get(current, [])
        if not kids:
            return 0
        current = kids[0].pid
    return current


class ProcTable:
    """One reading of /proc, shared by every jail a command looks at: `status` of 500 jails walks
    the process list once and stats each process's namespaces once, not once a jail."""

    def __init__(self) -> None:
        self.procs = processes()
        self._members: dict[str, dict[int, list[int]]] = {}

    def members(self, ns: str, inode: int) -> list[int]:
        """The processes in namespace `inode` of type `ns`."""
        table = self._members.get(ns)
        if table is None:
            table = {}
            for pid in self.procs:
                found = ns_inode(pid, ns)
                if found:
                    table.setdefault(found, []).append(pid)
            self._members[ns] = table
        return table.get(inode, [])


def observe(main_pid: int, launched: bool, init: bool = True, table: ProcTable | None = None) -> Observed:
    seen = Observed(main_pid)
    if main_pid <= 0:
        return seen
    table = table or ProcTable()
    procs = table.procs
    seen.pids = descendants(main_pid, procs)
    seen.program_pid = program_pid(main_pid, launched, init, procs)
    target = seen.program_pid or main_pid
    for ns in NS_TYPES:
        inode = ns_inode(target, ns)
        if not inode:
            continue
        members = table.members(ns, inode)
        first = min(members) if members else target
        seen.namespaces.append(Namespace(ns, inode, len(members), first, command(first)[:40],
                                         inode == ns_inode(1, ns)))
    fields = status_fields(target, ("CapBnd", "CapEff", "NoNewPrivs", "Seccomp", "NSpid"))
    seen.confinement = fields
    return seen


# Linux capability numbers, in order (capability.h): for decoding CapBnd.
CAP_NAMES = ("chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
             "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
             "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
             "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
             "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
             "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore")


def decode_caps(mask: str) -> list[str]:
    value = int(mask, 16)
    return [name for bit, name in enumerate(CAP_NAMES) if value >> bit & 1]
