"""The safe defaults every jail unit gets on top of what its jail file declares.

Two sets, one per mechanism, each verified against the vsftpd jail on
systemd 252 (FTP sessions and the integration suite pass with them on):

- systemd's directives alone (RootDirectory=): all of them.  Several
  (ProtectKernelTunables= and friends) imply MountAPIVFS=yes, which brings
  /proc, /sys and a /dev; PrivateDevices=yes makes that /dev systemd's minimal
  one (null, zero, full, random, urandom, tty, pts), and DevicePolicy=closed
  with DeviceAllow= lets the program open only the declared nodes.
- under the launcher: the same, but for what would stop bubblewrap from
  building the jail: ProtectHostname= (it forbids sethostname for the new UTS
  namespace), ProcSubset=pid (bwrap binds /proc/sys), and RestrictNamespaces=
  must let it create the namespaces it is there for.
"""

from __future__ import annotations

from . import timens
from .mechanism import Mechanism
from .model import Jail

COMMON = (
    "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes", "ProtectClock=yes", "RestrictSUIDSGID=yes", "RestrictRealtime=yes",
    "LockPersonality=yes", "PrivateDevices=yes", "PrivateTmp=yes", "ProtectProc=invisible", "UMask=0077",
)


def _families(jail: Jail) -> str:
    if jail.security.address_families is not None:
        return " ".join(jail.security.address_families) or "none"
    families = ["AF_UNIX", "AF_INET", "AF_INET6"]
    if jail.namespaces.net == "none":
        families = ["AF_UNIX"]
    return " ".join(families)


def _namespaces_allowed(jail: Jail, launched: bool) -> str:
    if not launched:
        # the service creates none: all forbidden, but for jailmgr-init's time namespace (timens.py)
        return timens.NATIVE_RESTRICT if timens.wanted(jail) else "yes"
    ns = jail.namespaces
    wanted = ["mnt"] + [n for n in ("pid", "uts", "ipc", "cgroup", "user", "time") if getattr(ns, n)]
    if ns.net == "private":
        wanted.append("net")  # the launcher joins the jail's netns (setns is restricted too)
    return " ".join(wanted)


_HOMES = ("/home", "/root", "/run/user")


def _reaches_homes(jail: Jail) -> bool:
    """The jail's root or a bind's source lies in the users' homes: they stay visible, read-only
    but for the rw mounts' sources (ReadWritePaths=, the more specific rule, wins)."""
    sources = [jail.root_dir] + [m.source or "" for m in jail.mounts if m.type == "bind"]
    return any(src == home or src.startswith(home + "/") for src in sources for home in _HOMES)


def hardening(jail: Jail, mechanism: Mechanism) -> list[str]:
    lines = list(COMMON)
    launched = mechanism.launched
    if timens.wanted(jail):
        lines = timens.hardening(lines)  # ProtectClock= would leave jailmgr-init no CAP_SYS_TIME
    if mechanism.nosetid:
        lines.remove("RestrictSUIDSGID=yes")  # bubblewrap applies the same rules (setid.py)
    if jail.security.memory_deny_write_execute:
        lines.append("MemoryDenyWriteExecute=yes")
    lines.append(f"RestrictAddressFamilies={_families(jail)}")
    lines.append(f"RestrictNamespaces={_namespaces_allowed(jail, launched)}")
    if not launched:
        lines.append("ProcSubset=pid")
        lines.append("DevicePolicy=closed")
        lines += [f"DeviceAllow=/dev/{device} rw" for device in jail.tree.devices]
    lines.append("ProtectHome=read-only" if _reaches_homes(jail) else "ProtectHome=yes")
    return lines
