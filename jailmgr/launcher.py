"""The launcher: bubblewrap's argv, for namespaces systemd 252 has no directive for.

systemd 252 can't give a service its own PID namespace or set a hostname in
its UTS namespace.  PrivatePIDs= came in 257, and makes the program PID 1:
the jail model uses it there for `init: false` (Jail.uses_launcher); a
program that can't be PID 1 (it neither reaps nor handles SIGTERM) keeps
bubblewrap's init.  A hostname needs 258 (ProtectHostname=private:NAME).  A jail that asks for pid, uts
or cgroup namespaces therefore runs under bubblewrap (Debian's `bubblewrap`),
started by the unit instead of RootDirectory=:

    bwrap <namespaces> <the tree and its mounts> --cap-drop ALL --cap-add ...
          -- /usr/bin/setpriv <user, exact bounding set> -- PROGRAM ARGS

- bwrap builds the view: the tree read-only at /, the declared binds, a /dev
  holding only the declared nodes, a fresh /proc for the PID namespace with
  /proc/sys bound read-only over it (a fresh proc is writable otherwise).
- bwrap's own init is PID 1 and reaps; the program is its child (vsftpd as
  PID 1 segfaults when it reaps a session it did not start).
- bwrap run as root keeps its capability bounding set unless it has
  CAP_SETPCAP, and it can't switch to a non-root user without a user
  namespace, so setpriv (util-linux, bound into the tree) sets the user and
  shrinks the bounding set to exactly the declared capabilities.
"""

from __future__ import annotations

from .manifest import Contents
from .model import Jail
from .paths import BWRAP, SETPRIV

# What the launcher needs beyond the jail's own set, in the unit's bounding set.
LAUNCHER_CAPS = ("CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SYS_CHROOT", "CAP_SETUID", "CAP_SETGID")
# ...and in its syscall filter (mount, pivot_root, chroot are in @mount).
LAUNCHER_SYSCALLS = ("@mount", "sethostname")


def _caps(names: tuple[str, ...] | list[str]) -> str:
    return ",".join(["-all", *[f"+{n.removeprefix('CAP_').lower()}" for n in names]])


def _under_run(jail: Jail) -> list[str]:
    """The topmost tree dirs and files below /run (writable dirs are bound on their own)."""
    paths = sorted({e.path for e in jail.tree.dirs if not e.writable} | {f.path for f in jail.tree.files})
    top: list[str] = []
    for p in paths:
        if p.startswith("/run/") and not any(p.startswith(t + "/") for t in top):
            top.append(p)
    return top


def bwrap_argv(jail: Jail, contents: Contents, uid: int, gid: int, seccomp_fd: int | None = None) -> list[str]:
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
    argv += ["--tmpfs", "/run"]
    for target in _under_run(jail):
        # the tree's own entries under /run would be hidden by the tmpfs
        argv += ["--ro-bind", jail.root_dir + target, target]
    for entry in jail.tree.dirs:
        if entry.writable:
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
    argv += ["--chdir", jail.workdir, "--cap-drop", "ALL"]
    for cap in sorted({*jail.security.capabilities, "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID"}):
        argv += ["--cap-add", cap]
    if not jail.namespaces.init:
        argv.append("--as-pid-1")
    if seccomp_fd is not None:  # a filter loaded right before the program runs (setid.py)
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--", SETPRIV, f"--reuid={uid}", f"--regid={gid}"]
    argv.append("--clear-groups" if uid == 0 else "--init-groups")
    argv += [f"--bounding-set={_caps(jail.security.capabilities)}", "--inh-caps=-all", "--", *jail.exec]
    return argv
