"""Whole-output golden tests: every case file and shipped jail rendered for a Debian 12 (systemd 252) and a
Debian 13 (systemd 257) host, compared with the snapshot files under tests/snapshots byte for byte.

A snapshot holds each unit file the jail renders (the launcher's argv is in ExecStart=), the tree as
`jailmgr render` lists it, and the warnings; for a bad case, every problem as the command line says it.
The hosts are fake (tests/fakehost.py), so the result is the same on every machine.

After a change that is meant to change units, refresh them and read the diff:

    JAILMGR_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_snapshots.py
    git diff tests/snapshots
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jailmgr import manifest, render, spec
from jailmgr.host import Host
from tests.fakehost import DEBIAN_12, DEBIAN_13

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "snapshots"
HOSTS = {"252": DEBIAN_12, "257": DEBIAN_13}
GOOD = sorted((ROOT / "tests" / "cases" / "good").glob("*.yaml")) + sorted((ROOT / "jails.d").glob("*.yaml"))
BAD = sorted((ROOT / "tests" / "cases" / "bad").glob("*.yaml"))


def rendered_text(case: Path, host: Host) -> str:
    """What the snapshot of a good case holds (paths relative to the checkout: the same wherever it is)."""
    loaded = spec.load_or_raise([str(case.relative_to(ROOT))])
    item, problems = render.render(loaded[0], host)
    assert problems == [] and item is not None, "\n".join(map(str, problems))
    out = [f"### warning: {w}" for w in item.warnings]
    for name, text in item.units.items():
        out += [f"### {name}", text.rstrip("\n")]
    out += ["### tree", *manifest.describe(item.contents)]
    return "\n".join(out) + "\n"


def problems_text(case: Path) -> str:
    loaded, problems = spec.load([str(case.relative_to(ROOT))])
    assert loaded == [] and problems
    return "".join(f"{p}\n" for p in problems)


def compare(snapshot: Path, text: str) -> None:
    if os.environ.get("JAILMGR_UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
    assert snapshot.exists(), f"no snapshot {snapshot.relative_to(ROOT)}: make it with JAILMGR_UPDATE_SNAPSHOTS=1"
    assert text == snapshot.read_text(), (f"{snapshot.relative_to(ROOT)} differs from what is rendered now; if the "
                                          "change is meant, refresh with JAILMGR_UPDATE_SNAPSHOTS=1 and read the diff")


@pytest.fixture(autouse=True)
def at_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("version", sorted(HOSTS))
@pytest.mark.parametrize("case", GOOD, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_rendered_units_match_their_snapshot(case: Path, version: str) -> None:
    compare(SNAPSHOTS / version / case.parent.name / f"{case.stem}.txt", rendered_text(case, HOSTS[version]))


@pytest.mark.parametrize("case", BAD, ids=lambda p: p.stem)
def test_bad_cases_problems_match_their_snapshot(case: Path) -> None:
    compare(SNAPSHOTS / "bad" / f"{case.stem}.txt", problems_text(case))


def test_every_snapshot_has_its_case() -> None:
    """A snapshot whose case was removed or renamed is stale: removed with it."""
    wanted = {SNAPSHOTS / v / c.parent.name / f"{c.stem}.txt" for v in HOSTS for c in GOOD}
    wanted |= {SNAPSHOTS / "bad" / f"{c.stem}.txt" for c in BAD}
    assert set(SNAPSHOTS.rglob("*.txt")) == wanted
