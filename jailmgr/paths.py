"""Every host path and naming rule jailmgr uses, in one place.

The unit, record and lock locations can be moved with environment variables
(the tests point them into a scratch directory); the tool paths are Debian's.
Imports nothing of jailmgr's: every module may use it.
"""

from __future__ import annotations

import os

LIB_DIR = "/var/lib/jailmgr"
JAILS_DIR = f"{LIB_DIR}/jails"
DEFAULT_STATE_DIR = f"{LIB_DIR}/state"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
NOSETID_FILTER = f"{LIB_DIR}/nosetid.bpf"  # setid.py

# The host tools the units and jailmgr run (Debian's paths).
BWRAP = "/usr/bin/bwrap"  # bubblewrap: the launcher
SETPRIV = "/usr/bin/setpriv"  # util-linux: bound into launcher trees
NSENTER = "/usr/bin/nsenter"  # util-linux: joins the netns of net: private
IP = "/usr/bin/ip"  # iproute2: makes that netns and its veth pair
SYSTEMD = "/usr/lib/systemd/systemd"  # its upgrade renders the launcher's jails again
# The user-namespace helper (userns.py), run by the units of `user: true` jails:
# Debian's python3 in isolated mode, so nothing of the environment is read.
USERNS_HELPER = ("/usr/bin/python3", "-I", "-m", "jailmgr.userns")


def state_dir() -> str:
    return os.environ.get("JAILMGR_STATE_DIR", DEFAULT_STATE_DIR)


def unit_dir() -> str:
    return os.environ.get("JAILMGR_UNIT_DIR", DEFAULT_UNIT_DIR)


def lock_path() -> str:
    return os.environ.get("JAILMGR_LOCK", "/run/jailmgr.lock")


def unit_name(name: str) -> str:
    return f"jail-{name}.service"


def netns_unit_name(name: str) -> str:
    return f"jail-{name}-netns.service"


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
