"""plan_jail is pure: a jail, its record and a snapshot of the host in, operations out (no root, no disk)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jailmgr import apply, ops, plan, render, spec
from tests.fakehost import DEBIAN_12


@pytest.fixture
def item(tmp_path: Path) -> render.Rendered:
    jail_file = tmp_path / "p.yaml"
    jail_file.write_text(f"name: p\nroot: {tmp_path}/root\nexec: [/usr/bin/true]\n"
                         "tree:\n  binaries: [/usr/bin/true]\n  files: [{path: /etc/motd, content: hi}]\n"
                         "mounts: [{source: /srv/p-data, target: /data, mode: rw, create: true}]\n")
    rendered, problems = render.render(spec.load_or_raise([str(jail_file)])[0], DEBIAN_12)
    assert problems == [] and rendered is not None
    return rendered


def built(item: render.Rendered, **state: object) -> plan.Snapshot:
    """The host as a finished apply leaves it: every entry in place, units written, running, enabled."""
    defaults = {"matching": frozenset(item.contents.entries), "present_host_dirs": frozenset({"/srv/p-data"}),
                "units": tuple(item.units.items()), "enabled": True, "active": True}
    return plan.Snapshot(**{**defaults, **state})  # type: ignore[arg-type]


def kinds(jail_plan: plan.JailPlan) -> list[str]:
    return [type(op).__name__ for op in jail_plan.changes]


def test_a_new_jail_is_every_operation_in_the_order_apply_runs_them(item: render.Rendered) -> None:
    first = plan.plan_jail(item, None, plan.Snapshot())
    names = kinds(first)
    assert names[0] == "MakeHostDir" and names[-1] == "WriteUnit"
    entries = [op for op in first.changes if isinstance(op, ops.EnsureEntry)]
    assert [op.what for op in entries] == sorted((op.what for op in entries), key=lambda k: k != "dir")
    assert first.start == "start" and first.enable is True and first.restart_needed
    motd = next(op for op in entries if op.path == "/etc/motd")
    assert (motd.op, motd.data, motd.mode) == ("+", b"hi", 0o644)
    assert json.dumps(first.doc())  # what `plan --json` prints: no bytes, no objects


def test_a_built_running_jail_plans_nothing(item: render.Rendered) -> None:
    recorded = apply._new_state(item, pending=False)
    same = plan.plan_jail(item, recorded, built(item))
    assert same.changes == [] and same.start == "" and same.enable is None and not same.restart_needed


def test_drift_a_stopped_jail_and_an_unwanted_entry(item: render.Rendered) -> None:
    recorded = apply._new_state(item, pending=False)
    recorded.entries["/etc/old"] = {"kind": "file"}
    seen = built(item, matching=frozenset(item.contents.entries) - {"/etc/motd"}, active=False)
    again = plan.plan_jail(item, recorded, seen)
    assert [(op.op, op.path) for op in again.changes] == [("~", "/etc/motd"), ("-", "/etc/old")]
    assert again.start == "start"
    stopped = plan.plan_jail(item, apply._new_state(item, pending=False), built(item, active=False))
    assert stopped.changes == [] and stopped.start == "start-stopped"


def test_a_pending_restart_restarts_and_a_disabled_jail_is_enabled(item: render.Rendered) -> None:
    recorded = apply._new_state(item, pending=True)
    pending = plan.plan_jail(item, recorded, built(item, enabled=False))
    assert pending.changes == [] and pending.start == "restart" and pending.enable is True


def test_a_changed_unit_is_one_write_and_a_moved_root_is_removed_after_the_start(item: render.Rendered) -> None:
    recorded = apply._new_state(item, pending=False)
    recorded.root = "/srv/old-root"
    seen = built(item, units=((item.loaded.jail.unit_name, "old text"),))
    moved = plan.plan_jail(item, recorded, seen)
    assert kinds(moved) == ["WriteUnit"] and moved.start == "restart"
    assert [type(op).__name__ for op in moved.after] == ["RemoveOldRoot"] and moved.after[0].path == "/srv/old-root"


def test_prune_plans_the_removal_of_a_jail_no_longer_defined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("JAILMGR_UNIT_DIR", str(tmp_path / "units"))
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / "jail-old.service").write_text("[Service]\n")  # a unit, and no record
    gone = plan.plan_removal("old", lambda _: None)
    assert gone.destroy and gone.doomed is not None and gone.doomed.units == ["jail-old.service"]
    assert [op.describe() for op in gone.changes] == [
        "  - jail       old  (no longer defined: unit, tree and record removed)"]


def test_a_jail_file_edited_while_apply_runs_is_rendered_again_next_time(item: render.Rendered) -> None:
    """The record keeps the hash of the text that was parsed and the fingerprints taken at rendering,
    not those of the file as it is when the record is written."""
    from jailmgr import unchanged

    recorded = apply._new_state(item, pending=False, built=apply.tree_prints(item))
    assert recorded.source_sha256 == item.loaded.sha256 and recorded.inputs == item.fingerprints
    recorded.built = recorded.built or {"/etc": "as built"}
    source = Path(item.loaded.source)
    source.write_text(source.read_text() + "# edited during the apply\n")
    assert unchanged.why_changed(str(source), recorded, {}) in ("its jail file changed",
                                                               f"{source} changed")


def test_a_jail_that_gets_sockets_and_then_accept_changes_its_units(item: render.Rendered, tmp_path: Path) -> None:
    """Sockets: the socket unit is written and enabled (the service no longer is); accept: the service goes,
    a socket and a template take its place."""
    recorded = apply._new_state(item, pending=False)
    text = Path(item.loaded.source).read_text()
    with_sockets = tmp_path / "p.yaml"
    with_sockets.write_text(text + "sockets: [{listen: \"127.0.0.1:8080\"}]\n")
    rendered, _ = render.render(spec.load_or_raise([str(with_sockets)])[0], DEBIAN_12)
    assert rendered is not None
    step = plan.plan_jail(rendered, recorded, built(item, enabled=False))
    writes = [op.path.rsplit("/", 1)[1] for op in step.changes if isinstance(op, ops.WriteUnit)]
    assert writes == ["jail-p.service", "jail-p.socket"]
    assert [(type(op).__name__, op.path) for op in step.service] == [("EnableUnit", "jail-p.socket"),
                                                                     ("StartUnit", "jail-p.service")]
    # ...and when the service was enabled before, its own link goes: it would start it at boot beside the socket.
    linked = built(item, enabled=False, unit_states=(("jail-p.service", (("UnitFileState", "enabled"),)),))
    step = plan.plan_jail(rendered, recorded, linked)
    assert [(type(op).__name__, op.path) for op in step.service] == [
        ("EnableUnit", "jail-p.socket"), ("DisableUnit", "jail-p.service"), ("StartUnit", "jail-p.service")]
    assert step.enable is True
    with_sockets.write_text(text + "sockets: [{listen: \"127.0.0.1:8080\"}]\naccept: true\n")
    rendered, _ = render.render(spec.load_or_raise([str(with_sockets)])[0], DEBIAN_12)
    assert rendered is not None
    step = plan.plan_jail(rendered, recorded, built(item))
    assert [(type(op).__name__, op.path.rsplit("/", 1)[1]) for op in step.changes
            if isinstance(op, ops.WriteUnit | ops.RemoveUnit)] == [
        ("WriteUnit", "jail-p.socket"), ("WriteUnit", "jail-p@.service"), ("RemoveUnit", "jail-p.service")]
    assert step.start == "restart" and step.service[-1].path == "jail-p.socket"


def test_new_units_need_no_reload_and_a_loaded_one_does(item: render.Rendered) -> None:
    """systemd loads a unit it never had from disk at its start; one it has loaded reads a rewrite only at
    a daemon-reload (ops.needs_reload).  A unit the snapshot does not name counts as loaded."""
    unit = item.loaded.jail.unit_name
    unseen = plan.Snapshot(unit_states=((unit, (("LoadState", "not-found"),)),))
    first = plan.plan_jail(item, None, unseen)
    written = next(op for op in first.changes if isinstance(op, ops.WriteUnit))
    enable = next(op for op in first.service if isinstance(op, ops.EnableUnit))
    assert not written.loaded and not enable.loaded and not first.needs_reload
    assert plan.plan_jail(item, None, plan.Snapshot()).needs_reload  # (nothing known: reloaded)
    recorded = apply._new_state(item, pending=False)
    loaded = ((unit, (("LoadState", "loaded"),)),)
    changed = plan.plan_jail(item, recorded, built(item, units=((unit, "[Unit]\n"),), unit_states=loaded))
    assert changed.needs_reload
    disabled = plan.plan_jail(item, recorded, built(item, enabled=False, unit_states=loaded))
    assert [type(op).__name__ for op in disabled.service] == ["EnableUnit"] and disabled.needs_reload
    assert not plan.plan_jail(item, recorded, built(item, enabled=False, unit_states=(
        (unit, (("LoadState", "not-found"),)),))).needs_reload
