"""The no-op apply's light readers (records.py, basepaths.py, unitstate.py) say what the full path's own
definitions say: the same record fields and defaults as state.JailState, the same JSON as json.loads, the same
jail names as NAME_RE, the same decision as unchanged.split; and a unit is taken as running without systemctl
only on systemd's own invocation link."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
from pathlib import Path

import pytest

from jailmgr import basepaths, fingerprint, records, state, unchanged, unitstate
from jailmgr.safefs import Tree

UNIT = "jail-q.service"


def test_is_jail_name_answers_as_name_re() -> None:
    rng = random.Random(27)
    alphabet = "az09-_A.é\n/ "
    names = ["", "a", "-a", "a-", "0", "a" * 63, "a" * 64, "ab\n", "ä", "a/b", "..", "a.json"]
    names += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 70))) for _ in range(3000)]
    for name in names:
        assert basepaths.is_jail_name(name) == (re.fullmatch(basepaths.NAME_RE, name) is not None), repr(name)


def test_the_light_record_has_jailstates_fields_and_defaults() -> None:
    fields = {f.name: f for f in dataclasses.fields(state.JailState)}
    required = {n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert set(records.REQUIRED) == required
    assert set(records.Record.__annotations__) == set(records.REQUIRED) | set(records.DEFAULTS)
    for name, default in records.DEFAULTS.items():
        f = fields[name]
        assert (f.default if f.default is not dataclasses.MISSING else f.default_factory()) == default, name


def _record(**changes: object) -> state.JailState:
    return dataclasses.replace(state.JailState(
        name="q", source="/etc/jailmgr/jails.d/q.yaml", root="/var/lib/jailmgr/jails/q/root", unit=UNIT,
        entries={"/data": {"kind": "dir", "writable": True}, "/data/c": {"kind": "file", "sha256": "ab"},
                 "/etc": {"kind": "dir", "origin": "tree.dirs"}},
        extra_units=["jail-q.socket"], inputs={"/x": "1:2:3:4:5"}, built={"/etc": "40755:755:0:0"}), **changes)


ROOT_RECORDS = pytest.mark.skipif(os.geteuid() != 0, reason="records are root's files (state.save chowns them)")


@ROOT_RECORDS
def test_a_saved_record_reads_back_the_same_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path))
    saved = _record(restart="no", enable=False, pending_restart=True)
    state.save(saved)
    state.save(_record(name="r", unit="jail-r.service", extra_units=[]))
    found = records.read_all()
    assert found is not None and sorted(found) == ["q", "r"] == state.managed()
    light = found["q"]
    for name in records.Record.__annotations__:
        assert getattr(light, name) == getattr(saved, name), name
    assert light.enable_unit == saved.enable_unit == "jail-q.socket" and found["r"].enable_unit == "jail-r.service"
    assert light.writable_dirs() == saved.writable_dirs() == {"/data"}
    assert light.touchable({"/data"}) == saved.touchable({"/data"}) == {"/data/c": "ab"}


def test_a_record_without_a_field_has_jailstates_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path))
    old = {"name": "old", "source": "/s", "root": "/r", "unit": "jail-old.service"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    found, full = records.read_all(), state.load("old")
    assert found is not None and full is not None
    for name in records.Record.__annotations__:
        assert getattr(found["old"], name) == getattr(full, name), name


@pytest.mark.parametrize("text", [
    "", "{", "[]", "{} x", '{"name": "q"}', "\ufeff{}", "\xff", '{"name": "q", "source": "", "root": "", '
    '"unit": "u", "entries": []}', '{"name": "q", "source": "", "root": "", "unit": "u", "host_dirs": {}}',
    '{"name": "q", "source": "", "root": "", "unit": "u",}'])
def test_a_damaged_record_sends_the_no_op_to_the_full_path_which_warns(
        text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path))
    (tmp_path / "q.json").write_bytes(text.encode("utf-8", errors="surrogateescape") if text != "\xff" else b"\xff")
    assert records.read_all() is None
    warned: list[str] = []
    assert state.read_records(warned.append) == {} and len(warned) == 1


@pytest.mark.parametrize("text", [
    ' {"a": [1, 2.5, -3e2, true, false, null], "b": "\\u00e9\\n\\"", "c": {}} \n', "NaN", "[Infinity, -Infinity]",
    '"x"', "12", '{"a": {"a": {"a": []}}}', '{"a": 1, "a": 2}'])
def test_the_records_json_reads_as_json_loads(text: str) -> None:
    value = records.loads(text)
    assert json.dumps(value, sort_keys=True) == json.dumps(json.loads(text), sort_keys=True)


def test_the_builtin_sha256_is_hashlibs() -> None:
    for data in (b"", b"abc", os.urandom(100_000)):
        assert fingerprint.sha256(data) == hashlib.sha256(data).hexdigest()


def test_running_is_known_only_from_systemds_invocation_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unitstate, "UNITS_DIR", str(tmp_path))
    monkeypatch.setattr(unitstate, "OWNER", os.geteuid())
    assert not unitstate.known_running(UNIT)
    (tmp_path / f"invocation:{UNIT}").write_text("0123")  # not what systemd writes: a plain file
    assert not unitstate.known_running(UNIT)
    (tmp_path / f"invocation:{UNIT}").unlink()
    (tmp_path / f"invocation:{UNIT}").symlink_to("d391f2a95a144d12bcafcb4e7d4d80ee")
    assert unitstate.known_running(UNIT) and not unitstate.known_running("jail-other.service")
    monkeypatch.setattr(unitstate, "OWNER", os.geteuid() + 1)  # (a link PID 1 did not make)
    assert not unitstate.known_running(UNIT)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, state.JailState]:
    """A jail whose file, inputs, unit, tree and enablement are all as recorded: nothing to do while it runs."""
    if os.geteuid() != 0:
        pytest.skip("records are root's files (state.save chowns them)")
    for name in ("state", "units/multi-user.target.wants", "run"):
        (tmp_path / name).mkdir(parents=True)
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("JAILMGR_UNIT_DIR", str(tmp_path / "units"))
    monkeypatch.setattr(unitstate, "UNITS_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(unitstate, "OWNER", os.geteuid())
    source = tmp_path / "q.yaml"
    source.write_text("name: q\n")
    (tmp_path / "units" / UNIT).write_text("[Service]\n")
    (tmp_path / "units/multi-user.target.wants" / UNIT).symlink_to(tmp_path / "units" / UNIT)
    root = str(tmp_path / "root")
    with Tree(root) as tree:
        tree.ensure_dir("/etc", 0o755, os.getuid(), os.getgid())
    recorded = state.JailState(name="q", source=str(source), root=root, unit=UNIT,
                               source_sha256=fingerprint.file_sha256(str(source)),
                               unit_sha256=fingerprint.file_sha256(str(tmp_path / "units" / UNIT)),
                               entries={"/etc": {"kind": "dir"}}, inputs=fingerprint.inputs({str(source)}),
                               built=fingerprint.built(root, {"/etc": False}))
    state.save(recorded)
    return tmp_path, recorded


def _decide(monkeypatch: pytest.MonkeyPatch, answer: dict[str, str]) -> tuple[bool, bool, list[str]]:
    """(the no-op's decision, split's, the units the no-op asked systemctl about), systemctl answering
    `answer` for every unit."""
    from jailmgr import systemd

    asked: list[str] = []

    def overview(units: list[str]) -> dict[str, dict[str, str]]:
        asked.extend(units)
        return {u: {**answer, "UnitFileState": "enabled" if unitstate.enabled(u) else "disabled"} for u in units}

    monkeypatch.setattr(systemd, "overview", overview)
    found = records.read_all()
    assert found is not None
    fast = unchanged.all_unchanged([found["q"].source], found)
    by_fast = list(asked)
    split = unchanged.split([found["q"].source], state.read_records(print))
    return fast, split.changed == [], by_fast


def test_a_running_unit_is_not_asked_about(host: tuple[Path, state.JailState], monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path, _ = host
    (tmp_path / "run" / f"invocation:{UNIT}").symlink_to("d391f2a95a144d12bcafcb4e7d4d80ee")
    assert _decide(monkeypatch, {"ActiveState": "active", "Result": "success"}) == (True, True, [])


@pytest.mark.parametrize("answer, nothing_to_do", [
    ({"ActiveState": "active", "Result": "success"}, True),  # (running, as the link would have said)
    ({"ActiveState": "failed", "Result": "exit-code"}, False),
    ({"ActiveState": "inactive", "Result": "success"}, False),  # restart: on-failure: it should run
    ({"ActiveState": "deactivating", "Result": "success"}, False)])
def test_without_the_link_systemctl_decides_as_for_the_full_path(
        host: tuple[Path, state.JailState], monkeypatch: pytest.MonkeyPatch, answer: dict[str, str],
        nothing_to_do: bool) -> None:
    fast, full, asked = _decide(monkeypatch, answer)
    assert fast == full == nothing_to_do and asked == [UNIT]


@pytest.mark.parametrize("change", ["source", "unit", "tree", "enable", "pending", "unknown"])
def test_any_change_takes_the_full_path_even_while_it_runs(
        change: str, host: tuple[Path, state.JailState], monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path, recorded = host
    (tmp_path / "run" / f"invocation:{UNIT}").symlink_to("d391f2a95a144d12bcafcb4e7d4d80ee")
    files = [str(tmp_path / "q.yaml")]
    if change == "source":
        (tmp_path / "q.yaml").write_text("name: Q\n")  # the same size
    elif change == "unit":
        (tmp_path / "units" / UNIT).write_text("[Unit]\n")
    elif change == "tree":
        os.chmod(tmp_path / "root/etc", 0o700)
    elif change == "enable":
        (tmp_path / "units/multi-user.target.wants" / UNIT).unlink()
    elif change == "pending":
        state.save(dataclasses.replace(recorded, pending_restart=True))
    else:
        files.append(str(tmp_path / "other.yaml"))
    found = records.read_all()
    assert found is not None and not unchanged.all_unchanged(files, found)


def test_the_no_op_path_imports_nothing_that_costs_its_start() -> None:
    """What a no-op apply loads before its work (Python's own start aside): none of the modules that made it
    5x `python3 -c pass` (bench/README.md)."""
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, sys.argv[1]); import jailmgr.noop; "
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(Path(__file__).resolve().parent.parent)],
                         capture_output=True, text=True, check=True).stdout
    heavy = {"json", "re", "enum", "dataclasses", "inspect", "typing", "hashlib", "_hashlib", "subprocess", "glob",
             "yaml", "jinja2", "argparse", "jailmgr.state", "jailmgr.paths", "jailmgr.systemd", "jailmgr.model"}
    assert "jailmgr.noop" in out.split() and heavy & set(out.split()) == set()
