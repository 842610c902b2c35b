"""Every host path and naming rule jailmgr uses, in one place.

The unit, record and lock locations can be moved with environment variables
(the tests point them into a scratch directory); the tool paths are Debian's.
Imports nothing of jailmgr's at its top: every module may use it.
"""

from __future__ import annotations

import glob
import os
import re
from enum import StrEnum

# (what the no-op apply needs is defined in basepaths.py, without re, glob or enum, and re-exported here)
from .basepaths import (  # noqa: F401
    DEFAULT_JAILS_DIR,
    DEFAULT_STATE_DIR,
    DEFAULT_UNIT_DIR,
    JAILS_DIR,
    LIB_DIR,
    NAME_RE,
    STDIN,
    is_jail_name,
    lock_path,
    state_dir,
    unit_dir,
    yaml_files,
)

NOSETID_FILTER = f"{LIB_DIR}/nosetid.bpf"  # setid.py

# The host tools the units and jailmgr run (Debian's paths).
BWRAP = "/usr/bin/bwrap"  # bubblewrap: the launcher
# The launcher's own host code (launcher/jailmgr-init.c, static): the unit's main process
# ("supervise"), bound into the jail read-only where bubblewrap runs it ("init") to drop privileges.
JAILMGR_INIT = "/usr/lib/jailmgr/jailmgr-init"
INIT_IN_JAIL = "/run/host/jailmgr-init"
NOTIFY_IN_JAIL = "/run/host/notify"  # where a launched program's NOTIFY_SOCKET is (as systemd-nspawn has it)
NSENTER = "/usr/bin/nsenter"  # util-linux: joins the netns of net: private
IP = "/usr/bin/ip"  # iproute2: makes that netns and its veth pair
SYSTEMD = "/usr/lib/systemd/systemd"  # its upgrade renders the launcher's jails again
# What a jail file's `runtime:` gives the jail from the host (model.Runtime), each bound read-only:
JOURNAL_DEV_LOG = "/run/systemd/journal/dev-log"  # journald's syslog socket, the jail's /dev/log
ZONEINFO = "/usr/share/zoneinfo"  # the tz database (tzdata)
LOCALTIME = "/etc/localtime"  # the host's zone (a symlink into ZONEINFO on Debian; followed at each start)
LOCALES = "/usr/lib/locale"  # the compiled locales: C.utf8 (libc-bin), locale-archive (locale-gen)
# The user-namespace helper (userns.py), run by the units of `user: true` jails:
# Debian's python3 in isolated mode, so nothing of the environment is read.
USERNS_HELPER = ("/usr/bin/python3", "-I", "-m", "jailmgr.userns")


def runtime_dir(name: str) -> str:
    """A launched jail's RuntimeDirectory= (relative to /run), made and removed by systemd."""
    return f"jailmgr/{name}"


def notify_socket(name: str) -> str:
    """The host side of a launched jail's notify socket, made by its supervisor."""
    return f"/run/{runtime_dir(name)}/notify"


def unit_name(name: str) -> str:
    return f"jail-{name}.service"


def netns_unit_name(name: str) -> str:
    return f"jail-{name}-netns.service"


class UnitRole(StrEnum):
    """The units jailmgr may make for a jail: the service, and what its file asks for beside it (Jail.units)."""

    MAIN = "main"  # jail-NAME.service
    NETNS = "netns"  # jail-NAME-netns.service: the network namespace of `net: private`
    SOCKET = "socket"  # jail-NAME.socket: the listening sockets of `sockets:` (sockets.py)
    TEMPLATE = "template"  # jail-NAME@.service: with `accept: true`, the instance per connection (no MAIN then)


def jail_units(name: str) -> dict[UnitRole, str]:
    """Every unit file a jail may have, by role: what render writes, plan compares, status shows and destroy
    may remove (nothing else, whatever a record says)."""
    return {UnitRole.MAIN: unit_name(name), UnitRole.NETNS: netns_unit_name(name),
            UnitRole.SOCKET: f"jail-{name}.socket", UnitRole.TEMPLATE: f"jail-{name}@.service"}


def netns_name(name: str) -> str:
    """The named network namespace (/run/netns/NAME) of a `net: private` jail."""
    return f"jail-{name}"


def default_root(name: str) -> str:
    return f"{JAILS_DIR}/{name}/root"


def unit_path(name: str) -> str:
    return os.path.join(unit_dir(), name)


def read_unit(name: str) -> str | None:
    """A unit file's text as it is on disk, None when there is none."""
    try:
        with open(unit_path(name), encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


_SYSTEMD_VERSION: list[int] = []


def systemd_version() -> int:
    """The major version of the installed systemd (0 when it can't be told), found once per run.

    From the name of its shared library (libsystemd-shared-257.so in the multiarch directory, as
    Debian ships it), which costs a directory listing; `systemctl --version` when that is not there.
    """
    if not _SYSTEMD_VERSION:
        names = [os.path.basename(p) for p in glob.glob("/usr/lib/*/systemd/libsystemd-shared-*.so")
                 + glob.glob("/usr/lib/systemd/libsystemd-shared-*.so")]
        found = [int(m.group(1)) for n in names if (m := re.fullmatch(r"libsystemd-shared-(\d+)(\.\d+)*\.so", n))]
        if not found:
            from .run import run  # (only where the library's name doesn't say)

            out = run(["systemctl", "--version"], check=False).stdout if os.path.exists("/usr/bin/systemctl") else ""
            match = re.match(r"systemd (\d+)", out)
            found = [int(match.group(1))] if match else [0]
        _SYSTEMD_VERSION.append(max(found))
    return _SYSTEMD_VERSION[0]
