"""The launcher: bubblewrap's argv, for namespaces systemd 252 has no directive for.

systemd 252 can't give a service its own PID namespace or set a hostname in
its UTS namespace.  PrivatePIDs= came in 257, but a service under it is not
systemd's child, and its stop SIGKILLed redis right after the SIGTERM (see
Jail.uses_launcher): every PID namespace is the launcher's.  A hostname
needs 258 (ProtectHostname=private:NAME).  A jail that asks for pid, uts or
cgroup namespaces therefore runs under bubblewrap (Debian's `bubblewrap`),
started by the unit instead of RootDirectory=:

    jailmgr-init supervise ... -- bwrap <namespaces> <the tree and its mounts> --cap-drop ALL --cap-add ...
          -- /run/host/jailmgr-init init <user, groups, exact bounding set, workdir> -- PROGRAM ARGS

- jailmgr-init (launcher/jailmgr-init.c, static) is the host code on both
  sides: outside, the unit's main process ("supervise": the stop signal
  reaches the program and not bubblewrap, reload reaches the program, the
  program's sd_notify is relayed without MAINPID=, the unit ends as the
  program ended); inside, bound read-only from the host, it is PID 1 of the
  new namespace ("init"): it drops the privileges, enters the workdir as the
  program, and runs the program as its child (or execs it: `init: false`).
  Being static, it runs nothing of the jail's tree while it is root: no
  ld.so.preload, ld.so.cache or library of the jail.
- bwrap builds the view: the tree read-only at /, the declared binds, a /dev
  holding only the declared nodes (and what `runtime:` asks for: journald's
  syslog socket at /dev/log, a tmpfs of the jail's own at /dev/shm), a fresh
  /proc for the PID namespace with /proc/sys bound read-only over it (a
  fresh proc is writable otherwise).
- bwrap run as root keeps its capability bounding set unless it has
  CAP_SETPCAP, and it can't switch to a non-root user without a user
  namespace: the init does both, before anything of the jail runs.
- bwrap is given no --chdir: it would resolve the workdir as root, through
  whatever the jail left there at its last run.
"""

from __future__ import annotations

from . import credentials, setid, timens
from .manifest import Contents, ids
from .mechanism import Mechanism
from .model import CAPABILITY_BITS, SIGNAL_NUMBERS, Jail
from .paths import BWRAP, INIT_IN_JAIL, JAILMGR_INIT, JOURNAL_DEV_LOG, NOTIFY_IN_JAIL, notify_socket

# What jailmgr-init's drop itself needs (PR_CAPBSET_DROP, setgroups, setresgid, setresuid): inside the jail
# under the launcher, and as `exec --time` on systemd's directives (timens.py).
DROP_CAPS = ("CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID")
# What the launcher needs beyond the jail's own set, in the unit's bounding set.
LAUNCHER_CAPS = ("CAP_SYS_ADMIN", "CAP_SYS_CHROOT", *DROP_CAPS)
# ...and in its syscall filter (mount, pivot_root, chroot are in @mount).
LAUNCHER_SYSCALLS = ("@mount", "sethostname")


def cap_mask(names: tuple[str, ...] | list[str]) -> int:
    """The capabilities as the kernel's bit mask."""
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITY_BITS.index(name)
    return mask


def _under_run(jail: Jail) -> list[str]:
    """The topmost tree dirs and files below /run, read-only part only: writable dirs are bound on their
    own, with what lies below them (bwrap resolves a bind's source as root: a source below a writable
    dir could be a symlink the jail planted at its last run)."""
    writable = [e.path for e in jail.tree.dirs if e.writable]
    paths = sorted(p for p in {e.path for e in jail.tree.dirs if not e.writable} | {f.path for f in jail.tree.files}
                   if not any(p == w or p.startswith(w + "/") for w in writable))
    top: list[str] = []
    for p in paths:
        if p.startswith("/run/") and not any(p.startswith(t + "/") for t in top):
            top.append(p)
    return top


def launcher_caps(jail: Jail, mechanism: Mechanism) -> tuple[str, ...]:
    """LAUNCHER_CAPS, and CAP_KILL when the supervisor itself must signal a program that is PID 1
    (`init: false`) of another uid for reload_signal: otherwise the init, running as the program,
    does it.  bwrap and the init drop them all before the program runs."""
    caps: tuple[str, ...] = (*LAUNCHER_CAPS, *(c for c in init_caps(jail) if c not in LAUNCHER_CAPS))
    if mechanism.program_is_pid1 and jail.reload_signal is not None:
        caps = (*caps, "CAP_KILL")
    if timens.wanted(jail):  # the supervisor writes the time namespace's offsets (timens.py)
        caps = (*caps, *(c for c in timens.TIMENS_CAPS if c not in caps))
    return caps


def owned_tmpfs(jail: Jail) -> bool:
    """Whether the init chowns fresh tmpfs dirs (accept: true with writable dirs)."""
    return jail.accept and any(entry.writable for entry in jail.tree.dirs)


def init_caps(jail: Jail) -> tuple[str, ...]:
    """What the init holds before its drop beyond the program's own set: the drop's, and CAP_CHOWN when it
    first hands files to the program's uid (the credentials' copies, an accept instance's tmpfs dirs)."""
    return (*DROP_CAPS, *(("CAP_CHOWN",) if jail.credentials or owned_tmpfs(jail) else ()))


def supervisor_argv(jail: Jail, mechanism: Mechanism) -> list[str]:
    """The unit's main process, in front of everything else of ExecStart=."""
    argv = [JAILMGR_INIT, "supervise", "--stop-signal", str(SIGNAL_NUMBERS[jail.stop_signal])]
    if jail.ready is not None and jail.ready.notify:
        argv += ["--notify", notify_socket(jail.name)]
    if mechanism.program_is_pid1:
        argv.append("--pid1")
    if timens.wanted(jail):
        argv.append("--time")
    if listen_fds(jail):
        # systemd's descriptors 3.. go on to the program; the supervisor keeps exactly these
        # (an OpenFile= of its own comes after them).
        argv += ["--listen-fds", str(listen_fds(jail))]
    return [*argv, *credentials.supervisor_args(jail), "--"]


def listen_fds(jail: Jail) -> int:
    """How many socket descriptors systemd hands the unit as LISTEN_FDS: one per socket; none with accept
    (the connection is stdin and stdout alone: systemd sets no LISTEN_FDS then, seen on 252 and 257)."""
    return 0 if jail.accept else len(jail.sockets)


def drop_args(jail: Jail, uid: int, gid: int, groups: list[int]) -> list[str]:
    """jailmgr-init's drop to the program, as `init` (under the launcher) and `exec` (timens.py) take it."""
    return ["--uid", str(uid), "--gid", str(gid), "--groups", ",".join(map(str, groups)),
            "--caps", f"{cap_mask(timens.program_caps(jail)):x}", "--workdir", jail.workdir]


def init_argv(jail: Jail, mechanism: Mechanism, uid: int, gid: int, groups: list[int],
              owned: tuple[tuple[int, int, str], ...] = ()) -> list[str]:
    """The drop inside the jail, then the program (see launcher/jailmgr-init.c).  `owned`: fresh tmpfs
    dirs (accept: true) the init gives to their declared owner before anything of the jail runs."""
    argv = [INIT_IN_JAIL, "init", *drop_args(jail, uid, gid, groups)]
    for owner, group, where in owned:
        argv += ["--own", f"{owner}:{group}:{where}"]
    if mechanism.program_is_pid1:
        argv.append("--pid1")
    return [*argv, *credentials.init_args(jail), "--", *jail.exec]


def bwrap_argv(jail: Jail, contents: Contents, mechanism: Mechanism, uid: int, gid: int,
               groups: list[int]) -> list[str]:
    ns = jail.namespaces
    argv = [BWRAP, "--die-with-parent", "--new-session"]
    if ns.pid:
        argv.append("--unshare-pid")
    if ns.uts:
        argv += ["--unshare-uts", "--hostname", jail.uts_name]
    if ns.ipc:
        argv.append("--unshare-ipc")
    if ns.cgroup:
        argv.append("--unshare-cgroup")
    argv += ["--ro-bind", jail.root_dir, "/"]
    for bind in contents.binds:
        argv += ["--ro-bind", bind.source, bind.target]
    argv += ["--tmpfs", "/dev"]
    for device in jail.tree.devices:
        argv += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]
    if jail.syslog:
        # runtime.syslog: journald's syslog socket (a socket needs no write access to its mount to be sent to)
        argv += ["--ro-bind", JOURNAL_DEV_LOG, "/dev/log"]
    if jail.runtime.shm is not None:
        # runtime.shm: the jail's own (bwrap's tmpfs mounts are nosuid and nodev)
        argv += ["--size", str(jail.runtime.shm), "--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += ["--tmpfs", "/run"]
    for target in _under_run(jail):
        # the tree's own entries under /run would be hidden by the tmpfs
        argv += ["--ro-bind", jail.root_dir + target, target]
    owned = []
    users, group_ids = ids(contents)
    for entry in jail.tree.dirs:
        if entry.writable and jail.accept:
            # An instance per connection: an empty tmpfs of its own, nothing of the host's dir (sockets.py).
            argv += ["--perms", f"{entry.mode:04o}", "--tmpfs", entry.path]
            owned.append((users[entry.owner], group_ids.get(entry.group, 0), entry.path))  # (ids as in the jail)
        elif entry.writable:
            argv += ["--bind", jail.root_dir + entry.path, entry.path]
    for mount in jail.mounts:
        if mount.type == "proc":
            # A fresh proc for the new PID namespace; its /proc/sys would be
            # writable by root in the jail, so it is bound read-only over itself.
            argv += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
        elif mount.type == "tmpfs":
            if mount.size is not None and mount.size != "infinity":
                argv += ["--size", str(mount.size)]
            argv += ["--perms", "1777", "--tmpfs", mount.target or ""]
        else:
            argv += ["--bind" if mount.mode == "rw" else "--ro-bind", mount.source or "", mount.target or ""]
    # The host's own code, read-only and bound last (no mount of the jail's covers it): the jail
    # can neither change nor replace it.
    # (/run/host made 0755 on purpose: the unit's UMask=0077 would leave it to root alone.)
    argv += ["--perms", "0755", "--dir", "/run/host", "--ro-bind", JAILMGR_INIT, INIT_IN_JAIL]
    if jail.ready is not None and jail.ready.notify:
        # A socket's inode needs no write access to a read-only mount to be sent to.
        argv += ["--ro-bind", notify_socket(jail.name), NOTIFY_IN_JAIL]
    argv += credentials.bwrap_args(jail)  # after every mount of the jail's: none covers it
    argv += ["--cap-drop", "ALL"]
    for cap in sorted({*timens.program_caps(jail), *init_caps(jail)}):
        argv += ["--cap-add", cap]
    if ns.pid:
        argv.append("--as-pid-1")  # jailmgr-init is PID 1 (bubblewrap's own init forwards no signal)
    if mechanism.nosetid:  # a filter loaded right before the init runs (setid.py)
        # (OpenFile='s descriptor comes after the sockets' ones)
        argv += ["--seccomp", str(setid.FD + listen_fds(jail))]
    return [*argv, "--", *init_argv(jail, mechanism, uid, gid, groups, tuple(owned))]
