"""Look at a running jail through /proc: its processes, namespaces and confinement.

Bytes from the jail are data.  A jail writes its own process names and argv,
its journal lines, the names of the files it maps and mounts: any byte at
all, as much as it likes.  Everything jailmgr reads of that (here, and in
journal, audit, enter, apply) comes through the first functions below:

- `read_capped` takes at most `limit` bytes of a file (a jail can make
  /proc/PID/maps or cmdline huge) and says whether there was more;
- `text` decodes with U+FFFD for what is not UTF-8 (never strict, never
  surrogateescape: what reaches ``--json`` must be valid Unicode) and
  shortens what is too long to keep;
- `lines` splits what was read, without the line a capped read cut.

Parsers of what was read work on bytes, line by line, in linear time.  Shown
to people, the text still goes through termtext (Output does that).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import field

from .quickdata import dataclass

_CHUNK = 1 << 18
FIELD = 4096  # the most of one field (a journal identifier, a process name) that is kept


def read_capped(path: str, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the file at `path`, and whether it held more.  OSError as open/read raise it."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data[:limit], len(data) > limit


def lines(data: bytes, truncated: bool = False) -> list[bytes]:
    """The lines of `data`; of a capped read, not the last one, which the cap cut."""
    found = data.split(b"\n")
    if truncated or not found[-1]:
        found.pop()
    return found


def text(value: bytes | str | None, limit: int = FIELD) -> str:
    """`value` as text: bytes decoded with replacement, at most `limit` characters (and "..." if cut)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value[:limit * 4].decode("utf-8", "replace")
    elif not value.isascii():
        # A str from elsewhere may hold lone surrogates (surrogateescape): not valid JSON text.
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value if len(value) <= limit else value[:limit] + "..."


NS_TYPES = ("mnt", "pid", "uts", "ipc", "net", "cgroup", "user", "time")

# The most jailmgr reads of each /proc file it looks at.  Each is far above what the kernel writes
# for a well-behaved process; a jail controls the length of its argv, of its mapped and mounted
# file names, and how many mappings and mounts it makes.
LIMITS = {
    "stat": 4096,  # 52 numbers and a name of at most 64 bytes
    "status": 64 << 10,
    "cmdline": 4096,  # only the first 120 characters are shown
    "cgroup": 64 << 10,
    "maps": 64 << 20,  # 65530 mappings (vm.max_map_count) of paths up to 4 KiB would be 256 MiB
    "mountinfo": 16 << 20,
}


def read(pid: int | str, name: str) -> tuple[bytes, bool]:
    """/proc/PID/NAME, at most LIMITS[name] bytes, and whether there was more (OSError as os.open raises it)."""
    return read_capped(f"/proc/{pid}/{name}", LIMITS[name])


def stat_fields(pid: int | str) -> list[bytes]:
    """/proc/PID/stat after the name (field 3 on): the name in parentheses may hold anything, ")" too."""
    data, _ = read(pid, "stat")
    return data.rpartition(b")")[2].split()


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
            fields = stat_fields(entry)
            found[int(entry)] = Proc(int(entry), int(fields[1]), int(fields[19]))
        except (OSError, IndexError, ValueError):
            continue
    return found


def children_of(procs: dict[int, Proc]) -> dict[int, list[Proc]]:
    tree: dict[int, list[Proc]] = {}
    for proc in procs.values():
        tree.setdefault(proc.ppid, []).append(proc)
    for kids in tree.values():
        kids.sort(key=lambda p: (p.start, p.pid))
    return tree


def descendants(pid: int, procs: dict[int, Proc] | None = None, tree: dict[int, list[Proc]] | None = None) -> list[int]:
    """pid and every process below it, parents before children (`tree`: children_of(procs), made once)."""
    if tree is None:
        tree = children_of(procs if procs is not None else processes())
    out, todo = [], deque([pid])
    while todo:
        current = todo.popleft()
        out.append(current)
        todo.extend(p.pid for p in tree.get(current, []))
    return out


def ns_inode(pid: int, ns: str) -> int:
    try:
        return os.stat(f"/proc/{pid}/ns/{ns}").st_ino
    except OSError:
        return 0


def _linked_ns(pid: int, ns: str) -> int:
    """ns_inode, read from the link's text ("net:[4026531840]", the kernel's, not the process's): a third
    cheaper than a stat, and `status` of a fleet asks it of every process for every type."""
    try:
        link = os.readlink(f"/proc/{pid}/ns/{ns}")
    except OSError:
        return 0
    number = link.rpartition("[")[2].rstrip("]")
    return int(number) if number.isdigit() else 0


_LISTEN = b"0A"  # TCP_LISTEN in /proc/net/tcp's st column
NET_TABLE = 64 << 20  # a host with very many sockets


def socket_inodes(pids: list[int]) -> set[int]:
    """The inodes of every socket these processes hold open (their fd links say socket:[N])."""
    return held_sockets(pids)[0]


def held_sockets(pids: list[int]) -> tuple[set[int], bool]:
    """socket_inodes, and whether every one of the processes' descriptors could be looked at (another user's
    can't, but by root): a socket not among them may still be theirs when it is False."""
    inodes, complete = set(), True
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue  # (it has exited)
        except OSError:
            complete = False
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link.endswith("]") and link[8:-1].isdigit():
                inodes.add(int(link[8:-1]))
    return inodes, complete


def socket_holders(inodes: set[int]) -> list[int]:
    """The processes that hold any of these sockets, as far as this user can see (every one, as root)."""
    return sorted(pid for pid in processes() if held_sockets([pid])[0] & inodes)


def units_of_processes() -> dict[int, str]:
    """Each process in a service's control group, with that service (from /proc/PID/cgroup): one reading
    of the process table for every unit asked about."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data, _ = read(entry, "cgroup")
        except OSError:
            continue
        for line in text(data, LIMITS["cgroup"]).splitlines():
            unit = next((part for part in line.split(":", 2)[-1].split("/") if part.endswith(".service")), "")
            if unit:
                found[int(entry)] = unit
                break
    return found


def listeners(pid: int) -> dict[int, set[int]]:
    """Every TCP port something listens on in pid's network namespace, with the sockets' inodes."""
    found: dict[int, set[int]] = {}
    for table in ("tcp", "tcp6"):
        try:
            data, cut = read_capped(f"/proc/{pid}/net/{table}", NET_TABLE)
        except OSError:
            continue
        for line in lines(data, cut)[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and fields[9].isdigit():
                try:
                    found.setdefault(int(fields[1].rpartition(b":")[2], 16), set()).add(int(fields[9]))
                except ValueError:
                    continue
    return found


def listening_inodes(pid: int, port: int) -> set[int]:
    """The sockets listening on TCP `port` in pid's network namespace."""
    return listeners(pid).get(port, set())


def command(pid: int) -> str:
    """The process's argv as one line (its own to write: any bytes, any length), the first 120 characters."""
    try:
        data, _ = read(pid, "cmdline")
    except OSError:
        return ""
    return text(data.replace(b"\0", b" ")).strip()[:120]


def parse_status(data: bytes, names: tuple[str, ...]) -> dict[str, str]:
    """The fields `names` of a /proc/PID/status text (its Name: is the process's own, any bytes but newline)."""
    wanted = {name.encode(): name for name in names}
    out = {}
    for line in lines(data):
        key, _, value = line.partition(b":")
        if key in wanted:
            out[wanted[key]] = text(value).strip()
    return out


def status_fields(pid: int | str, names: tuple[str, ...]) -> dict[str, str]:
    try:
        data, _ = read(pid, "status")
    except OSError:
        return {}
    return parse_status(data, names)


def program_pid(main_pid: int, launched: bool, init: bool = True, procs: dict[int, Proc] | None = None,
                tree: dict[int, list[Proc]] | None = None) -> int:
    """The jail's program, found by the process tree alone.

    Under the launcher the unit's main process is jailmgr-init's supervisor;
    its child is bubblewrap's monitor, whose child is jailmgr-init's init in
    the jail, whose oldest child is the program (`init`), or the program
    itself once the init exec'd it (`init: false`).  A process's name and
    argv are its own to write, so they are never asked: a program that calls
    itself bwrap is still found.  (`tree`: children_of(procs), made once for many jails.)
    """
    if not launched or main_pid <= 0:
        return main_pid
    if tree is None:
        tree = children_of(procs if procs is not None else processes())
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
        self.children = children_of(self.procs)
        self._members: dict[str, dict[int, list[int]]] = {}
        self._of: dict[str, dict[int, int]] = {}
        self._host: dict[str, int] = {}
        self._commands: dict[int, str] = {}
        self._first: dict[tuple[str, int], int] = {}

    def host_ns(self, ns: str) -> int:
        """The inode of PID 1's namespace of type `ns` (the host's), read once."""
        if ns not in self._host:
            self._host[ns] = ns_inode(1, ns)
        return self._host[ns]

    def command(self, pid: int) -> str:
        """command(pid), read once a process (most jails' host namespaces are all shown by PID 1)."""
        if pid not in self._commands:
            self._commands[pid] = command(pid)
        return self._commands[pid]

    def _index(self, ns: str) -> dict[int, list[int]]:
        """Namespace inode -> its processes, for type `ns`, read once (and each process's, for ns_of)."""
        table = self._members.get(ns)
        if table is None:
            table, of = {}, {}
            for pid in self.procs:
                found = _linked_ns(pid, ns)
                if found:
                    table.setdefault(found, []).append(pid)
                    of[pid] = found
            self._members[ns], self._of[ns] = table, of
        return table

    def members(self, ns: str, inode: int) -> list[int]:
        """The processes in namespace `inode` of type `ns`."""
        return self._index(ns).get(inode, [])

    def ns_of(self, pid: int, ns: str) -> int:
        """ns_inode(pid, ns) as the table read it (read now for a process the table has not seen)."""
        self._index(ns)
        return self._of[ns].get(pid) or ns_inode(pid, ns)

    def first(self, ns: str, inode: int) -> int:
        """The lowest PID in namespace `inode` of type `ns` (0 if none), found once: the host's
        namespaces hold every process."""
        key = (ns, inode)
        if key not in self._first:
            self._first[key] = min(self.members(ns, inode), default=0)
        return self._first[key]


def observe(main_pid: int, launched: bool, init: bool = True, table: ProcTable | None = None) -> Observed:
    seen = Observed(main_pid)
    if main_pid <= 0:
        return seen
    table = table or ProcTable()
    seen.pids = descendants(main_pid, tree=table.children)
    seen.program_pid = program_pid(main_pid, launched, init, tree=table.children)
    target = seen.program_pid or main_pid
    for ns in NS_TYPES:
        inode = table.ns_of(target, ns)
        if not inode:
            continue
        members = table.members(ns, inode)
        first = table.first(ns, inode) or target
        seen.namespaces.append(Namespace(ns, inode, len(members), first, table.command(first)[:40],
                                         inode == table.host_ns(ns)))
    fields = status_fields(target, ("CapBnd", "CapEff", "NoNewPrivs", "Seccomp", "NSpid"))
    seen.confinement = fields
    return seen


def decode_caps(mask: str) -> list[str]:
    """The capability names (as status shows them: net_bind_service) of a CapBnd mask."""
    from .model import CAPABILITY_BITS  # (Linux's numbers, in order; the model is not needed by `status`)

    value = int(mask, 16)
    return [name.removeprefix("CAP_").lower() for bit, name in enumerate(CAPABILITY_BITS) if value >> bit & 1]
