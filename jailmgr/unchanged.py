"""Which jails need no work at all, decided from fingerprints before any jail file is parsed.

A jail is left alone when its file's bytes, every input its rendering read,
its unit file, its tree and its service are as the last apply left them
(fingerprint.py).  Such a jail is not parsed, rendered or planned; what it
costs is reading its record and its jail file, some stat calls, and its
share of one systemctl query for all units.  Anything else (no
fingerprints yet, a restart left pending, a unit file not as written) takes
the full path: parse, render, plan.

The no-op apply (noop.py) asks `all_unchanged` with the light records
(records.Record) and imports nothing that needs more than os: systemd.py
(subprocess) only when a unit's state is not known from systemd's own
files (unitstate.py).
"""

from __future__ import annotations

import os

from . import fingerprint, unitstate
from .basepaths import STDIN, unit_dir

TYPE_CHECKING = False  # (typing costs milliseconds at startup; only the checkers need it)
if TYPE_CHECKING:
    from .records import Record
    from .state import JailState

    Recorded = JailState | Record


class Split:
    """The jail files to load, render and plan; the records of jails with nothing to do; every recorded
    unit's state (one query)."""

    def __init__(self, states: dict[str, dict[str, str]]) -> None:
        self.changed: list[str] = []
        self.unchanged: list[JailState] = []
        self.states = states


def source_changed(path: str, recorded: Recorded) -> bool:
    try:
        return fingerprint.file_sha256(path) != recorded.source_sha256
    except OSError:
        return True


def unit_changed(recorded: Recorded) -> bool:
    """A unit file of the jail (paths.jail_units: the main one and those beside it) is not as apply wrote it."""
    wanted = {recorded.unit: recorded.unit_sha256,
              **{name: recorded.extra_units_sha256.get(name, "") for name in recorded.extra_units}}
    for name, digest in wanted.items():
        try:
            if fingerprint.file_sha256(os.path.join(unit_dir(), name)) != digest:
                return True
        except OSError:
            return True
    return False


def tree_changes(recorded: Recorded) -> list[str]:
    writable = recorded.writable_dirs()
    return fingerprint.changed_entries(recorded.root, recorded.built, writable, recorded.touchable(writable))


def why_changed(path: str, recorded: Recorded, unit_state: dict[str, str],
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
    if not unitstate.running(unit_state) and not (recorded.restart == "no" and unitstate.ran_and_ended(unit_state)):
        return "it is not running"
    return ""


def split(files: list[str], records: dict[str, JailState]) -> Split:
    """The jail files to load, and the records of the jails with nothing to do."""
    from . import systemd

    by_source = {r.source: r for r in records.values() if r.source}
    out = Split(systemd.overview(sorted({u for r in records.values() for u in (r.unit, r.enable_unit)})))
    for path in files:
        recorded = by_source.get(os.path.realpath(path))
        if path in STDIN or recorded is None or why_changed(path, recorded, out.states.get(recorded.unit, {}),
                                                            out.states.get(recorded.enable_unit, {})):
            out.changed.append(path)
        else:
            out.unchanged.append(recorded)
    return out


def all_unchanged(files: list[str], records: dict[str, Record]) -> bool:
    """Whether every file is of a jail with nothing to do, as `split` would decide it (why_changed).

    A main unit whose invocation link shows it running (unitstate.known_running) is taken as active
    without asking systemd; the others are asked, in one systemctl call (systemd.overview), as `split`
    asks them.  Enablement is read from the [Install] link, as overview reads it.
    """
    by_source = {r.source: r for r in records.values() if r.source}
    found = []
    for path in files:
        recorded = by_source.get(os.path.realpath(path))
        if path in STDIN or recorded is None:
            return False
        found.append((path, recorded))
    enablement = {r.enable_unit: {"UnitFileState": "enabled" if unitstate.enabled(r.enable_unit) else "disabled"}
                  for _, r in found}
    states = {r.unit: {"ActiveState": "active"} for _, r in found if unitstate.known_running(r.unit)}
    asked = sorted({r.unit for _, r in found} - set(states))
    if asked:
        from . import systemd  # (subprocess: only when a unit's state is not known from its files)

        states.update(systemd.overview(asked))
    return not any(why_changed(path, r, states.get(r.unit, {}), enablement[r.enable_unit]) for path, r in found)
