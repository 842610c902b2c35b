"""What systemd's own files say of a unit, read without asking systemd (no systemctl process).

- Running: PID 1 writes /run/systemd/units/invocation:UNIT (a symlink to the
  invocation ID) when the unit starts, and removes it whenever the unit
  becomes inactive or failed (src/core/unit.c, unit_notify: "Make sure the
  cgroup and state files are always removed when we become inactive"; the
  same in systemd 252 and 257).  So it is there exactly while the unit is
  active, activating, reloading or deactivating.  The jail cannot write
  there; it can only end its own run, which removes the file.  Anything but
  that symlink, owned by root (no file, a plain file), is "unknown", and the
  caller asks systemctl.  Deactivating (a stop under way, or a jail whose
  main process ended and whose others wait out the stop timeout) is the one
  state systemctl's answer would call not running: the no-op apply then
  says nothing to do, as it would have a moment earlier, and the next apply
  starts what the stop left inactive (systemd restarts what failed itself).
- Enabled: the [Install] symlink that `enable` makes for WantedBy= in
  multi-user.target.wants (sockets.target.wants for a socket), which is all
  a jail unit's [Install] holds.
"""

from __future__ import annotations

import os
import stat

from .basepaths import unit_dir

UNITS_DIR = "/run/systemd/units"  # PID 1's exported per-unit state
OWNER = 0  # who writes there: PID 1, as root


def known_running(unit: str) -> bool:
    """True when systemd's invocation link says the unit is not inactive or failed; False: ask systemctl."""
    try:
        st = os.lstat(os.path.join(UNITS_DIR, f"invocation:{unit}"))
    except OSError:
        return False
    return stat.S_ISLNK(st.st_mode) and st.st_uid == OWNER


def wants_link(unit: str) -> str:
    """The link `systemctl enable` makes for a jail's unit (systemd.enable makes it): its [Install] is
    WantedBy=multi-user.target, or sockets.target for a socket (unit.py), and nothing else."""
    wants = "sockets.target.wants" if unit.endswith(".socket") else "multi-user.target.wants"
    return os.path.join(unit_dir(), wants, unit)


def enabled(unit: str) -> bool:
    """Whether the unit is enabled: its wants_link is there."""
    return os.path.lexists(wants_link(unit))


ACTIVE = ("active", "activating", "reloading")


def running(props: dict[str, str]) -> bool:
    """Props (ActiveState) of a unit that runs, or is on its way to (activating, reloading)."""
    return props.get("ActiveState") in ACTIVE


def ran_and_ended(props: dict[str, str]) -> bool:
    """Inactive after a successful run (what a `restart: no` jail may rightly be)."""
    return props.get("ActiveState") == "inactive" and props.get("Result") == "success"
