"""What purging the package destroys (jailmgr/purge.py): each jail checked as destroy checks it."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from jailmgr import model, purge, state


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("JAILMGR_UNIT_DIR", str(tmp_path / "units"))
    return tmp_path


def save(record: state.JailState) -> None:
    """A record as apply writes it (without state.save's chown to root: the unit tier runs as nobody too)."""
    os.makedirs(state.state_dir(), exist_ok=True)
    Path(state.record_path(record.name)).write_text(json.dumps(dataclasses.asdict(record)))


def test_each_jail_gives_its_units_root_and_record(records: Path) -> None:
    save(state.JailState(name="ftp", source="/etc/jailmgr/jails.d/ftp.yaml", root=model.default_root("ftp"),
                               unit="jail-ftp.service"))
    save(state.JailState(name="dns", source="/etc/jailmgr/jails.d/dns.yaml", root=model.default_root("dns"),
                               unit="jail-dns.service", extra_units=[model.jail_units("dns")[model.UnitRole.NETNS]]))
    got = purge.lines(state.managed())
    assert got[-4:] == ["unit jail-ftp.service", f"root {model.default_root('ftp')}",
                        f"dir {os.path.dirname(model.default_root('ftp'))}", "record ftp"]
    assert got[:2] == ["unit jail-dns.service", f"unit {model.jail_units('dns')[model.UnitRole.NETNS]}"]
    assert "record dns" in got


def test_a_record_naming_what_jailmgr_would_not_make_is_kept(records: Path) -> None:
    save(state.JailState(name="ftp", source="", root="/home", unit="jail-ftp.service"))
    save(state.JailState(name="web", source="", root=model.default_root("web"), unit="ssh.service"))
    got = purge.lines(state.managed())
    assert len(got) == 2 and got[0].startswith("keep ftp: ") and got[1].startswith("keep web: ")
    assert not any(line.startswith(("unit", "root")) for line in got)


def test_a_root_outside_the_plain_alphabet_is_kept_for_the_operator(records: Path, tmp_path: Path) -> None:
    odd = tmp_path / "a root with spaces"
    odd.mkdir()
    (odd / model.ROOT_MARKER.lstrip("/")).write_text("ftp\n")
    os.chmod(odd / model.ROOT_MARKER.lstrip("/"), 0o444)
    if os.geteuid() != 0:
        pytest.skip("the mark must be owned by root")
    save(state.JailState(name="ftp", source="", root=str(odd), unit="jail-ftp.service"))
    assert purge.lines(["ftp"]) == ["keep ftp: its unit or root is not a plain name or path"]


def test_the_list_is_written_for_root_only(records: Path, tmp_path: Path) -> None:
    save(state.JailState(name="ftp", source="", root=model.default_root("ftp"), unit="jail-ftp.service"))
    target = tmp_path / "purge.list"
    assert purge.write(str(target)) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().splitlines()[-1] == "record ftp"


def test_a_damaged_record_gives_what_destroy_would_remove_the_jails_own_unit_and_default_root(records: Path) -> None:
    save(state.JailState(name="ftp", source="", root=model.default_root("ftp"), unit="jail-ftp.service"))
    Path(state.record_path("web")).write_text("{not json")
    got = purge.lines(state.managed())
    assert "record ftp" in got
    assert [line for line in got if "web" in line] == [
        "unit jail-web.service", f"root {model.default_root('web')}",
        f"dir {os.path.dirname(model.default_root('web'))}", "record web"]
