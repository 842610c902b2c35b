"""plan: desired contents against the tree on disk and the record; no systemd needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jailmgr import apply, plan, preflight, render, spec, state
from tests.fakehost import DEBIAN_12

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds a tree with its owners (root)")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("JAILMGR_UNIT_DIR", str(tmp_path / "units"))
    return tmp_path


def rendered(tmp_path: Path, motd: str = "hi\n", extra: str = "") -> render.Rendered:
    jail_file = tmp_path / "p.yaml"
    files = f"  files: [{{path: /etc/motd, content: {json.dumps(motd)}}}]\n"
    jail_file.write_text(f"name: p\nroot: {tmp_path}/root\nexec: [/usr/bin/true]\n"
                         f"tree:\n  binaries: [/usr/bin/true]\n{files}" + extra)
    item, problems = render.render(spec.load_or_raise([str(jail_file)])[0], DEBIAN_12)
    assert problems == [] and item is not None
    return item


def ops(jail_plan: plan.JailPlan) -> set[tuple[str, str]]:
    return {(c.op, c.path) for c in jail_plan.changes}


def build(item: render.Rendered) -> None:
    jail_plan = plan.plan_jail(item, state.load("p"))
    if jail_plan.changes:
        apply.save_intent(item, jail_plan)
    apply.converge(item, jail_plan, say=lambda _: None, detail=lambda _: None)
    state.save(apply._new_state(item, pending=False))


def test_fresh_jail_is_all_creations(env: Path) -> None:
    first = plan.plan_jail(rendered(env), None)
    assert {op for op, _ in ops(first)} == {"+"}
    assert ("+", "/etc/motd") in ops(first) and ("+", str(env / "units/jail-p.service")) in ops(first)


def test_built_jail_plans_nothing_then_sees_drift_and_removals(env: Path) -> None:
    item = rendered(env)
    build(item)
    assert plan.plan_jail(item, state.load("p")).changes == []
    (env / "root/etc/motd").write_text("edited by hand\n")
    assert ops(plan.plan_jail(item, state.load("p"))) == {("~", "/etc/motd")}
    build(item)
    assert (env / "root/etc/motd").read_text() == "hi\n"
    smaller = rendered(env, extra="")
    smaller.contents.entries.pop("/etc/motd")
    assert ("-", "/etc/motd") in ops(plan.plan_jail(smaller, state.load("p")))


def test_changed_jail_file_changes_the_unit(env: Path) -> None:
    build(rendered(env))
    changed = rendered(env, extra="limits: {memory: 64M}\n")
    assert ops(plan.plan_jail(changed, state.load("p"))) == {("~", str(env / "units/jail-p.service"))}


def test_a_killed_apply_leaves_a_restart_pending(env: Path) -> None:
    item = rendered(env)
    build(item)
    recorded = state.load("p")
    assert recorded is not None
    recorded.pending_restart = True  # what converge records before its first change
    state.save(recorded)
    again = plan.plan_jail(item, state.load("p"))
    assert again.changes == [] and again.restart_needed


def test_user_namespace_id_blocks_never_overlap(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jailmgr import model

    item = rendered(env, extra="namespaces: {user: true}\n")
    recorded = apply._new_state(item, pending=False)
    recorded.name = "other"
    state.save(recorded)  # another jail already holds this block
    found = preflight.check_id_ranges([item.loaded], state.read_records(lambda _: None))
    assert [(p.key, p.hint) for p in found] == [("namespaces.user", "rename one of the two jails (the block is picked "
                                                 "from the name)")]
    assert "are those of jail other" in found[0].message and found[0].line > 0
    assert item.loaded.jail.id_shift == model.userns_base("p") >= 1 << 20
    assert preflight.check_id_ranges([item.loaded], {}) == []

