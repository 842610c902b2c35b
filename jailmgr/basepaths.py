"""The host paths and the jail-name rule that need nothing but os (paths.py re-exports them).

The no-op apply (noop.py) starts in a few milliseconds only if it imports
nothing heavy: paths.py needs re, glob and enum for the rest, so what the
no-op path uses of it lives here, defined once.
"""

from __future__ import annotations

import os

LIB_DIR = "/var/lib/jailmgr"
JAILS_DIR = f"{LIB_DIR}/jails"
DEFAULT_STATE_DIR = f"{LIB_DIR}/state"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
DEFAULT_JAILS_DIR = "/etc/jailmgr/jails.d"
# `--stdin-as PATH`: the text read from stdin, standing in for the jail file at PATH (output.read_stdin_as).
STDIN: dict[str, str] = {}

NAME_RE = r"[a-z0-9][a-z0-9-]{0,62}"  # a jail's name: its unit's, its record's, its root's
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_NAME_REST = _NAME_FIRST | {"-"}


def is_jail_name(name: str) -> bool:
    """NAME_RE, matched without re (tests/test_noop_fast.py holds the two to the same answers)."""
    return 0 < len(name) <= 63 and name[0] in _NAME_FIRST and all(c in _NAME_REST for c in name)


def yaml_files(raw: str) -> list[str] | None:
    """The jail files one PATH argument names: itself, or every *.yaml in it (sorted); None when it is neither
    a file nor a directory."""
    if os.path.isdir(raw):
        with os.scandir(raw) as entries:
            return sorted(e.path for e in entries if e.name.endswith(".yaml") and e.is_file())
    if os.path.isfile(raw):
        return [raw]
    return None


def state_dir() -> str:
    return os.environ.get("JAILMGR_STATE_DIR", DEFAULT_STATE_DIR)


def unit_dir() -> str:
    return os.environ.get("JAILMGR_UNIT_DIR", DEFAULT_UNIT_DIR)


def lock_path() -> str:
    return os.environ.get("JAILMGR_LOCK", "/run/jailmgr.lock")
