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
init drops them, as everything not declared), and RestrictNamespaces= lets
`time` through (systemd 252 knows the name).
"""

from __future__ import annotations

from .model import Jail

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
