"""Which jails need no work at all, decided from fingerprints before any jail file is parsed.

A jail is left alone when its file's bytes, every input its rendering read,
its unit file, its tree and its service are as the last apply left them
(fingerprint.py).  Such a jail is not parsed, rendered or planned; what it
costs is reading its record and its jail file, some stat calls, and its
share of one systemctl query for all units.  Anything else (no
fingerprints yet, a restart left pending, a unit file not as written) takes
the full path: parse, render, plan.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import field

from . import fingerprint, state, systemd
from .paths import STDIN
from .quickdata import dataclass


@dataclass
class Split:
    changed: list[str] = field(default_factory=list)  # jail files to load, render and plan
    unchanged: list[state.JailState] = field(default_factory=list)  # records of jails with nothing to do
    states: dict[str, dict[str, str]] = field(default_factory=dict)  # every recorded unit's state, one query


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def source_changed(path: str, recorded: state.JailState) -> bool:
    try:
        return _sha256(path) != recorded.source_sha256
    except OSError:
        return True


def unit_changed(recorded: state.JailState) -> bool:
    """A unit file of the jail (paths.jail_units: the main one and those beside it) is not as apply wrote it."""
    wanted = {recorded.unit: recorded.unit_sha256,
              **{name: recorded.extra_units_sha256.get(name, "") for name in recorded.extra_units}}
    for name, digest in wanted.items():
        try:
            with open(os.path.join(state.unit_dir(), name), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != digest:
                    return True
        except OSError:
            return True
    return False


def tree_changes(recorded: state.JailState) -> list[str]:
    writable = recorded.writable_dirs()
    return fingerprint.changed_entries(recorded.root, recorded.built, writable, recorded.touchable(writable))


def why_changed(path: str, recorded: state.JailState, unit_state: dict[str, str],
                enable_state: dict[str, str] | None = None) -> str:
    """Why the jail needs the full path ("" when it needs nothing)."""
    if recorded.pending_restart:
        return "a restart was left pending"
    if not recorded.inputs or not recorded.built:
        return "no fingerprints recorded yet"
    if source_changed(path, recorded):
        return "its jail file changed"
    inputs = fingerprint.changed_inputs(recorded.inputs)
    if inputs:
        return f"{inputs[0]} changed"
    if unit_changed(recorded):
        return "a unit file of it changed"
    entries = tree_changes(recorded)
    if entries:
        return f"{entries[0]} changed in the tree"
    enabled = (enable_state if enable_state is not None else unit_state).get("UnitFileState") == "enabled"
    if enabled != recorded.enable:
        return "it is not enabled as its file says" if recorded.enable else "it is enabled but should not be"
    if not systemd.running(unit_state) and not (recorded.restart == "no" and systemd.ran_and_ended(unit_state)):
        return "it is not running"
    return ""


def split(files: list[str], records: dict[str, state.JailState]) -> Split:
    """The jail files to load, and the records of the jails with nothing to do."""
    by_source = {r.source: r for r in records.values() if r.source}
    out = Split(states=systemd.overview(sorted({u for r in records.values() for u in (r.unit, r.enable_unit)})))
    for path in files:
        recorded = by_source.get(os.path.realpath(path))
        if path in STDIN or recorded is None or why_changed(path, recorded, out.states.get(recorded.unit, {}),
                                                            out.states.get(recorded.enable_unit, {})):
            out.changed.append(path)
        else:
            out.unchanged.append(recorded)
    return out
