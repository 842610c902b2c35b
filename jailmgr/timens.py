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
`time` through (systemd 252 knows the name); jailmgr-init takes it back at once
with a seccomp filter of its own (unshare and setns with CLONE_NEWTIME: EPERM),
so the program can make no time namespace, as without the key.
"""

from __future__ import annotations

import os

from .model import CAPABILITY_BITS, Jail

CAP_SYS_TIME_BIT = CAPABILITY_BITS.index("CAP_SYS_TIME")
# What ProtectClock=yes takes from a unit's bounding set: the program never has them, time namespace or not.
CLOCK_CAPS = ("CAP_SYS_TIME", "CAP_WAKE_ALARM")
# What writing the offsets needs beyond making the namespace (CAP_SYS_ADMIN, which the launcher has anyway).
TIMENS_CAPS = ("CAP_SYS_ADMIN", "CAP_SYS_TIME")
# The native wrapper's drop (as the launcher's init: PR_CAPBSET_DROP, setgroups, setresgid, setresuid).
DROP_CAPS = ("CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID")
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


def _kernel_at_least(release: str, major: int, minor: int) -> bool:
    try:
        numbers = [int(part) for part in release.split("-", 1)[0].split(".")[:2]]
    except ValueError:
        return True  # an unusual release string: the start says what is wrong, if anything
    return [*numbers, 0][:2] >= [major, minor]


def host_problem(launched: bool, proc: str = "/proc", release: str | None = None) -> str | None:
    """What this host lacks for a time namespace, said before anything is written: the kernel's support
    (CONFIG_TIME_NS), CAP_SYS_TIME in systemd's bounding set (a container may withhold it), and without the
    launcher an exec that moves a process into its time namespace (Linux 6.0)."""
    if not os.path.exists(f"{proc}/self/ns/time"):
        return "this kernel has no time namespaces (CONFIG_TIME_NS); set namespaces.time: false"
    try:
        with open(f"{proc}/1/status", encoding="ascii", errors="replace") as f:
            bounding = next((line.split()[1] for line in f if line.startswith("CapBnd:")), None)
    except OSError:
        bounding = None
    if bounding is not None and not int(bounding, 16) >> CAP_SYS_TIME_BIT & 1:
        return ("systemd here lacks CAP_SYS_TIME (a container that withholds it?): jailmgr-init can't set the time "
                "namespace's clocks; set namespaces.time: false, or give the container CAP_SYS_TIME")
    if not launched and not _kernel_at_least(release or os.uname().release, 6, 0):
        return ("without the launcher the program enters its time namespace by exec, which needs Linux 6.0 or "
                "later; set namespaces.time: false, or a namespace that brings the launcher (pid: true)")
    return None
