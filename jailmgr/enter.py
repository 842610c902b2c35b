"""`jailmgr exec`: a command in a running jail, confined by host code before anything of the jail runs.

Nothing from the jail's tree runs until the command itself: the privilege
drop is done here, in this process, in this order (each step needs what the
next one takes away):

1. in the host: the jail's PID (and time) namespace for children, then a
   fork; the child joins the unit's cgroup (the parent writes its PID, so
   `stop` and `destroy` kill it with the rest of the jail, and the jail's
   limits count it) and makes a new session (it never shares the operator's
   terminal: see relay.py);
2. the child joins the jail's other namespaces (mount last but user), takes
   the program's resource limits while it may still raise them, then joins
   the user namespace;
3. the program's bounding set, its groups and ids (with the permitted set
   kept across the switch), its effective, permitted, inheritable and
   ambient sets, and no_new_privs;
4. only then, as the program, the jail's working directory: resolved from
   the jail's root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
   so a symlink the jail planted stays inside it and /proc/*/root, cwd or
   fd/* are refused; then fchdir.  A workdir that can't be reached so is
   refused and nothing is run (a command started elsewhere than it expects,
   `rm -r *` say, is worse than none): the error names it;
5. the program's seccomp filters, read from the kernel, installed oldest
   first (PTRACE_SECCOMP_GET_FILTER's index 0 is the oldest): for equal
   actions the newest filter's data wins, so the order decides the errno;
6. every descriptor but 0, 1, 2 closed, then execve.

Until step 4 the child's root and cwd are those of the jail's mount
namespace (setns sets both to its root) or, before that, the host's: no
path of the jail is looked up while the process holds anything the program
lacks.  The jail's program must be in a mount namespace of its own.

The process stays non-dumpable until execve, so the jail can't open its
/proc/PID/mem or trace it while it still holds host privileges.

`entry_steps` is pure: facts about the program in, the ordered steps out
(golden-tested); `observe_program` gathers the facts; `run` does them (the child's in `_child`).
"""

from __future__ import annotations

import os
import resource
import select
import sys
from enum import StrEnum

from . import linux, procfs, relay
from .quickdata import dataclass

TYPE_CHECKING = False  # typing costs milliseconds at startup; it is only needed by checkers
if TYPE_CHECKING:
    from typing import Never, NoReturn

# Joined by the child, in this order: user comes after the others (it takes
# the host's capabilities away), mnt last of those (it changes the root).
_CHILD_NS = ("cgroup", "ipc", "uts", "net", "mnt")
# Namespaces that apply to children only: joined by the parent before fork.
_PARENT_NS = ("pid", "time")


@dataclass(frozen=True)
class Ids:
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


@dataclass(frozen=True)
class Caps:
    """Capability sets as 64-bit masks, as /proc/PID/status shows them."""

    bounding: int = 0
    permitted: int = 0
    effective: int = 0
    inheritable: int = 0
    ambient: int = 0


@dataclass(frozen=True)
class Facts:
    """What the kernel says of the jail's program, and what the record says of the jail."""

    pid: int
    namespaces: tuple[str, ...]  # the types where the program's namespace is not this process's
    cgroup_dirs: tuple[str, ...]  # the unit's cgroup in each hierarchy (host paths)
    ids: Ids  # the program's, inside its user namespace
    caps: Caps
    rlimits: tuple[tuple[int, int, int], ...]  # (resource, soft, hard)
    seccomp_filters: int  # how many filters the program has
    workdir: str
    environment: tuple[tuple[str, str], ...]
    argv: tuple[str, ...]
    user: Ids | None = None  # --user: run as this one instead of the program's user


class Op(StrEnum):
    """What a step does: the closed set, in the order entry_steps makes them."""

    DUMPABLE = "dumpable"
    SETNS = "setns"
    FORK = "fork"
    JOIN_CGROUP = "join-cgroup"
    SETSID = "setsid"
    SETRLIMIT = "setrlimit"
    DROP_BOUNDING = "drop-bounding"
    KEEPCAPS = "keepcaps"
    SETGROUPS = "setgroups"
    SETRESGID = "setresgid"
    SETRESUID = "setresuid"
    CAPSET = "capset"
    AMBIENT_CLEAR = "ambient-clear"
    AMBIENT_RAISE = "ambient-raise"
    NO_NEW_PRIVS = "no-new-privs"
    CHDIR = "chdir"
    SECCOMP = "seccomp"
    CLOSE_FDS = "close-fds"
    EXECVE = "execve"


@dataclass(frozen=True)
class Step:
    """One step and its arguments: numbers (a flag, ids, groups, capabilities, a limit, a count) or
    texts (a namespace, a path, argv); a step has one kind or none."""

    op: Op
    ints: tuple[int, ...] = ()
    texts: tuple[str, ...] = ()

    def describe(self) -> str:
        return " ".join([self.op.value, *map(str, self.ints), *self.texts])


def _caps_for(facts: Facts) -> Caps:
    """The program's sets; a command run as another, non-root, user gets none but the bounding set."""
    if facts.user is None or facts.user.uid in (0, facts.ids.uid):
        return facts.caps
    return Caps(bounding=facts.caps.bounding)


def entry_steps(facts: Facts, last_cap: int) -> list[Step]:
    """Every step from the host to execve, in order (see the module docstring)."""
    steps = [Step(Op.DUMPABLE, (0,))]
    steps += [Step(Op.SETNS, texts=(ns,)) for ns in _PARENT_NS if ns in facts.namespaces]
    steps.append(Step(Op.FORK))
    steps += [Step(Op.JOIN_CGROUP, texts=(path,)) for path in facts.cgroup_dirs]
    steps.append(Step(Op.SETSID))
    steps += [Step(Op.SETNS, texts=(ns,)) for ns in _CHILD_NS if ns in facts.namespaces]
    steps += [Step(Op.SETRLIMIT, limit) for limit in facts.rlimits]
    if "user" in facts.namespaces:
        steps.append(Step(Op.SETNS, texts=("user",)))
    caps = _caps_for(facts)
    steps += [Step(Op.DROP_BOUNDING, (cap,)) for cap in range(last_cap + 1) if not caps.bounding >> cap & 1]
    ids = facts.user or facts.ids
    steps += [Step(Op.KEEPCAPS, (1,)), Step(Op.SETGROUPS, ids.groups),
              Step(Op.SETRESGID, (ids.gid,)), Step(Op.SETRESUID, (ids.uid,)),
              Step(Op.CAPSET, (caps.effective, caps.permitted, caps.inheritable)), Step(Op.KEEPCAPS, (0,)),
              Step(Op.AMBIENT_CLEAR)]
    steps += [Step(Op.AMBIENT_RAISE, (cap,)) for cap in range(last_cap + 1) if caps.ambient >> cap & 1]
    steps += [Step(Op.NO_NEW_PRIVS), Step(Op.CHDIR, texts=(facts.workdir,))]
    if facts.seccomp_filters:
        steps.append(Step(Op.SECCOMP, (facts.seccomp_filters,)))
    steps += [Step(Op.CLOSE_FDS), Step(Op.EXECVE, texts=facts.argv)]
    return steps


# --- gathering the facts (reads /proc and the kernel; changes nothing) ---

_CAP_FIELDS = ("CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb")  # in the order of Caps' fields


class EntryError(Exception):
    """The command can't be confined as the program is: nothing was run."""


def _id_map(pid: int, kind: str) -> list[tuple[int, int, int]]:
    with open(f"/proc/{pid}/{kind}_map", encoding="ascii") as f:
        return [(int(a), int(b), int(c)) for a, b, c in (line.split() for line in f)]


def _inside(host_id: int, mapping: list[tuple[int, int, int]]) -> int:
    """A host id as the program's user namespace sees it."""
    for inside, outside, count in mapping:
        if outside <= host_id < outside + count:
            return inside + host_id - outside
    raise EntryError(f"id {host_id} is not mapped into the jail's user namespace")


def differing_namespaces(pid: int) -> tuple[str, ...]:
    mine = os.getpid()
    return tuple(ns for ns in linux.NS_FLAGS if procfs.ns_inode(pid, ns) not in (0, procfs.ns_inode(mine, ns)))


def cgroup_dirs(pid: int, control_group: str) -> tuple[str, ...]:
    """The program's cgroup in every hierarchy where it is the unit's (systemd's ControlGroup=)."""
    mounts = []
    data, cut = procfs.read("self", "mountinfo")
    for row in procfs.lines(data, cut):
        left, _, right = procfs.text(row, len(row)).partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) > 4 and tail and tail[0] in ("cgroup", "cgroup2"):
            mounts.append((fields[3], fields[4], tail[0], set(tail[-1].split(","))))
    dirs = []
    data, cut = procfs.read(pid, "cgroup")
    for raw in procfs.lines(data, cut):
        line = procfs.text(raw, len(raw))
        if line.count(":") < 2:
            continue
        hid, controllers, path = line.split(":", 2)
        if path != control_group and not path.startswith(control_group + "/"):
            continue
        wanted = set(filter(None, controllers.split(",")))
        for root, point, fstype, options in mounts:
            v2 = hid == "0" and not wanted
            if (fstype == "cgroup2") != v2 or not wanted <= options or not path.startswith(root):
                continue
            where = point + path[len(root.rstrip("/")):]
            if os.path.isdir(where) and where not in dirs:
                dirs.append(where)
                break
    if not dirs:
        raise EntryError(f"the program (PID {pid}) is not in the unit's cgroup {control_group}")
    return tuple(dirs)


def _rlimits(pid: int) -> tuple[tuple[int, int, int], ...]:
    """The program's resource limits, from /proc/PID/limits (its rows are in RLIMIT_* order).

    prlimit(2) on another uid's process would need CAP_SYS_RESOURCE, which
    a container's root may lack; the file is readable by all.
    """
    def value(text: str) -> int:
        return resource.RLIM_INFINITY if text == "unlimited" else int(text)

    with open(f"/proc/{pid}/limits", encoding="ascii") as f:
        rows = f.read().splitlines()[1:]
    count = 1 + max(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_"))
    limits = []
    for kind, row in enumerate(rows[:count]):
        soft, hard = row[26:].split()[:2]
        limits.append((kind, value(soft), value(hard)))
    return tuple(limits)


def observe_program(pid: int, control_group: str, workdir: str, environment: dict[str, str],
                    argv: list[str], user: Ids | None) -> Facts:
    status = procfs.status_fields(pid, ("Uid", "Gid", "Groups", "Seccomp_filters", *_CAP_FIELDS))
    if "Uid" not in status:
        raise EntryError(f"the program (PID {pid}) exited")
    namespaces = differing_namespaces(pid)
    uids = [int(x) for x in status["Uid"].split()]
    gids = [int(x) for x in status["Gid"].split()]
    groups = [int(x) for x in status.get("Groups", "").split()]
    if "user" in namespaces:
        umap, gmap = _id_map(pid, "uid"), _id_map(pid, "gid")
        uids = [_inside(u, umap) for u in uids]
        gids = [_inside(g, gmap) for g in gids]
        groups = [_inside(g, gmap) for g in groups]
    if uids[0] != uids[1] or gids[0] != gids[1]:
        raise EntryError(f"the program (PID {pid}) runs with different real and effective ids")
    seccomp = int(status.get("Seccomp_filters", "-1"))
    if seccomp < 0:
        raise EntryError("this kernel does not say how many seccomp filters the program has")
    caps = Caps(*(int(status[k], 16) for k in _CAP_FIELDS))
    return Facts(pid, namespaces, cgroup_dirs(pid, control_group), Ids(uids[1], gids[1], tuple(groups)), caps,
                 _rlimits(pid), seccomp, workdir, tuple(sorted(environment.items())), tuple(argv), user)


# --- doing it ---

def _exited(pidfd: int) -> bool:
    return bool(select.select([pidfd], [], [], 0)[0])


def _enter_workdir(path: str) -> None:
    """cd to path as the jail sees it, by the jail's rules: never out of its root, never by a magic link."""
    try:
        fd = linux.open_in_root(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise EntryError(f"the working directory can't be reached inside the jail as its program: {exc.strerror} "
                         "(symlinks out of the jail's root and magic links are not followed)") from exc
    try:
        os.fchdir(fd)
    finally:
        os.close(fd)


def _no_such_step(op: Never) -> NoReturn:
    """Where the child's match ends: an Op with no case of its own makes mypy fail here."""
    raise EntryError(f"unknown step {op}")


def _child(steps: list[Step], ns_fds: dict[str, int], filters: list[bytes], io: relay.Io, env: dict[str, str],
           keep: int) -> None:
    """In the forked child: every step from the new session to execve.  Imports nothing from here on."""
    for step in steps:
        ints, texts = step.ints, step.texts
        match step.op:
            case Op.SETSID:
                os.setsid()
                io.attach_child()
            case Op.SETNS:
                linux.setns(ns_fds[texts[0]], linux.NS_FLAGS[texts[0]])
            case Op.SETRLIMIT:
                kind, soft, hard = ints
                resource.setrlimit(kind, (soft, hard))
            case Op.CHDIR:
                _enter_workdir(texts[0])
            case Op.DROP_BOUNDING:
                linux.prctl(linux.PR_CAPBSET_DROP, ints[0])
            case Op.KEEPCAPS:
                linux.prctl(linux.PR_SET_KEEPCAPS, ints[0])
            case Op.SETGROUPS:
                os.setgroups(list(ints))
            case Op.SETRESGID:
                os.setresgid(*(ints[0],) * 3)
            case Op.SETRESUID:
                os.setresuid(*(ints[0],) * 3)
            case Op.CAPSET:
                effective, permitted, inheritable = ints
                linux.capset(effective, permitted, inheritable)
            case Op.AMBIENT_CLEAR:
                linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
            case Op.AMBIENT_RAISE:
                linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_RAISE, ints[0])
            case Op.NO_NEW_PRIVS:
                linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
            case Op.SECCOMP:
                for program in filters:
                    linux.install_seccomp(program)
            case Op.CLOSE_FDS:
                os.closerange(3, keep)
                os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
            case Op.EXECVE:
                os.execvpe(texts[0], list(texts), env)
            case Op.DUMPABLE | Op.FORK | Op.JOIN_CGROUP:  # pragma: no cover - run() does these in the parent
                raise EntryError(f"step {step.op} is not the child's")
            case _:  # pragma: no cover - mypy holds every Op to a case above
                _no_such_step(step.op)


def run(facts: Facts) -> int:
    """Run the command as `entry_steps` says; its exit status (128+N for a signal)."""
    if "mnt" not in facts.namespaces:
        raise EntryError(f"the program (PID {facts.pid}) shares jailmgr's mount namespace: it has no root "
                         "of its own that a command could be confined to")
    pidfd = os.pidfd_open(facts.pid)
    ns_fds = {ns: os.open(f"/proc/{facts.pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in facts.namespaces}
    try:
        filters = linux.seccomp_filters(facts.pid, facts.seccomp_filters) if facts.seccomp_filters else []
    except TimeoutError as exc:  # the jail can refuse to stop: it is refused, not waited for
        raise EntryError(f"cannot exec in the jail: the program (PID {facts.pid}): {exc.strerror}; "
                         "nothing was run (a later try may find it stoppable)") from exc
    except OSError as exc:
        raise EntryError(f"cannot read the seccomp filters of the program (PID {facts.pid}): {exc.strerror}; "
                         "jailmgr must not run under a seccomp filter of its own") from exc
    procs = [os.open(f"{d}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in facts.cgroup_dirs]
    if _exited(pidfd):  # the /proc entries opened above were its own only if it is still there
        raise EntryError(f"the program (PID {facts.pid}) exited")
    steps = entry_steps(facts, linux.cap_last_cap())
    fork_at = next(i for i, s in enumerate(steps) if s.op is Op.FORK)
    for step in steps[:fork_at]:
        if step.op is Op.DUMPABLE:
            linux.prctl(linux.PR_SET_DUMPABLE, step.ints[0])
        else:  # setns of pid or time: they apply to the child about to be made
            linux.setns(ns_fds[step.texts[0]], linux.NS_FLAGS[step.texts[0]])
    io = relay.Io.create()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           **dict(facts.environment)}
    child_steps = [s for s in steps[fork_at + 1:] if s.op is not Op.JOIN_CGROUP]
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        # Nothing may be imported from the jail's filesystem once its mount namespace is joined.
        sys.path.clear()
        sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") in ("BuiltinImporter",
                                                                                       "FrozenImporter")]
        current = "start"
        try:
            os.close(go_w)
            os.close(err_r)
            if os.read(go_r, 1) != b"g":
                os._exit(126)
            for step in child_steps:
                current = step.describe()
                _child([step], ns_fds, filters, io, env, err_w)
        except BaseException as exc:
            os.write(err_w, f"{current}: {exc}".encode(errors="replace")[:4000])
        os._exit(127)
    os.close(go_r)
    os.close(err_w)
    try:
        for fd in procs:  # into the unit's cgroup before the child does anything in the jail
            os.write(fd, str(pid).encode())
        os.write(go_w, b"g")
    except OSError as exc:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise EntryError(f"cannot move the command into the jail's cgroup: {exc.strerror}") from exc
    finally:
        os.close(go_w)
    command = os.pidfd_open(pid)  # our unwaited child: the PID can't be reused under it
    try:
        status = io.relay(pid, command)
    finally:
        os.close(command)
    failed = os.read(err_r, 4096)
    if failed:
        raise EntryError(f"nothing was run: {failed.decode(errors='replace')}")
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
