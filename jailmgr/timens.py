"""namespaces.time: the jail's own CLOCK_MONOTONIC and CLOCK_BOOTTIME, starting at its start.

Neither systemd (252, 257) nor bubblewrap makes a time namespace, and its
offsets can be written only before any process entered it: jailmgr-init does
it on the host's side (launcher/jailmgr-init.c, make_time_namespace).
- Under the launcher, the supervisor (`supervise --time`) makes it for its
  children: bubblewrap and everything below it, the program included.
- On systemd's directives alone, systemd chroots before the exec, so the host's
  jailmgr-init is bound read-only at INIT_IN_JAIL (on the jail's fresh /run,
  where nothing of the tree may be: spec.py) and started as root with the rest
  of the sandbox (ExecStart=!): `exec --time` makes the namespace, enters it,
  drops exactly as the launcher's init does (bounding set, groups, ids, no
  capabilities left, non-dumpable), walks the workdir as the program, and execs
  it keeping its PID (systemd's main PID).  systemd is given no
  WorkingDirectory=: it would resolve it as root.

Both need CAP_SYS_ADMIN (unshare) and CAP_SYS_TIME (the offsets) in the unit,
so ProtectClock= (which takes CAP_SYS_TIME away) gives way to what it stood
for, kept for the program: the clock-setting calls denied by a filter with
EPERM, CAP_SYS_TIME and CAP_WAKE_ALARM out of the program's bounding set (the
init drops them, as everything not declared).  RestrictNamespaces= must let
`time` through (systemd 252 knows the name; natively with `ipc` beside it:
NATIVE_RESTRICT); jailmgr-init takes them back at once with a seccomp filter of
its own (unshare, setns and clone with those flags, setns with nstype 0: EPERM;
clone3: ENOSYS), so the program can
make no namespace more than without the key.
"""

from __future__ import annotations

import os

from .model import CAPABILITY_BITS, Jail

CAP_SYS_TIME_BIT = CAPABILITY_BITS.index("CAP_SYS_TIME")
# What ProtectClock=yes takes from a unit's bounding set: the program never has them, time namespace or not.
CLOCK_CAPS = ("CAP_SYS_TIME", "CAP_WAKE_ALARM")
# What writing the offsets needs beyond making the namespace (CAP_SYS_ADMIN, which the launcher has anyway).
TIMENS_CAPS = ("CAP_SYS_ADMIN", "CAP_SYS_TIME")
# RestrictNamespaces= on systemd's directives: "time" alone made systemd 252 refuse every setns(), the one
# into the new namespace too (it leaves time out of its set of all namespaces); with ipc beside it, setns()
# is refused per flag.  jailmgr-init's own filter forbids both to the program at once (launcher/jailmgr-init.c).
NATIVE_RESTRICT = "ipc time"
# ProtectClock='s filter, kept for the program: setting a clock fails with EPERM.
CLOCK_FILTER = "SystemCallFilter=~@clock:EPERM"


def wanted(jail: Jail) -> bool:
    return jail.namespaces.time


def program_caps(jail: Jail) -> list[str]:
    """The program's bounding set: the declared capabilities without the clock's (as ProtectClock=yes has it)."""
    return [c for c in jail.security.capabilities if c not in CLOCK_CAPS]


def syscalls(launched: bool) -> tuple[str, ...]:
    """What a declared allow-list must also let the host code call: unshare (the namespace) and, natively,
    setns (entering it)."""
    return ("unshare",) if launched else ("unshare", "setns")


def hardening(lines: list[str]) -> list[str]:
    """ProtectClock=yes replaced by the filter it stood for (its capabilities are out of the program's set)."""
    return [CLOCK_FILTER if line == "ProtectClock=yes" else line for line in lines]


def host_problem(proc: str = "/proc") -> str | None:
    """What this host lacks for a time namespace, said before anything is written: the kernel's support
    (CONFIG_TIME_NS), and CAP_SYS_TIME in systemd's bounding set (a container may withhold it)."""
    if not os.path.exists(f"{proc}/self/ns/time"):
        return "this kernel has no time namespaces (CONFIG_TIME_NS); set namespaces.time: false"
    from .procfs import parse_status

    try:
        with open(f"{proc}/1/status", "rb") as f:
            bounding = parse_status(f.read(), ("CapBnd",)).get("CapBnd")
    except OSError:
        bounding = None
    if bounding and not int(bounding, 16) >> CAP_SYS_TIME_BIT & 1:
        return ("systemd here lacks CAP_SYS_TIME (a container that withholds it?): jailmgr-init can't set the time "
                "namespace's clocks; set namespaces.time: false, or give the container CAP_SYS_TIME")
    return None
