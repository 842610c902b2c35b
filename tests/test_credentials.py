"""credentials: the host checks, the restart on a changed secret and what reaches the unit, on fake hosts
and real temporary files (no root, no systemd); the secret itself is read by systemd alone."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from jailmgr import apply, credentials, ops, plan, preflight, render, spec
from tests.fakehost import DEBIAN_12, FakeDisk, fake_host, node
from tests.test_preflight import FakePorts

SECRET = b"hunter2-do-not-leak"


def loaded(tmp_path: Path, creds: str, extra: str = "") -> spec.Loaded:
    path = tmp_path / "jails" / "c.yaml"  # (the jail file's dir is a template dir: the secrets lie beside it)
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"name: c\nroot: {tmp_path}/root\nexec: [/usr/bin/true]\nuser: nobody\n"
                    f"tree: {{binaries: [/usr/bin/true], users: [nobody]}}\ncredentials:\n{creds}{extra}")
    return spec.load_or_raise([str(path)])[0]


def problems_on(tmp_path: Path, creds: str, nodes: dict[str, object], hidden: tuple[str, ...] = ()) -> tuple:
    item = loaded(tmp_path, creds)
    host = fake_host(disk=FakeDisk(nodes, everything=False, hidden=hidden))  # type: ignore[arg-type]
    found = preflight.check([item], [], host, {}, ports=FakePorts({}, {}, {}))
    return [(p.key, p.message, p.hint) for p in found.problems], found.notes


def test_a_missing_source_says_how_to_make_it(tmp_path: Path) -> None:
    got, _ = problems_on(tmp_path, "  - {name: db, from: /etc/jailmgr/secrets/db}\n", {})
    assert [(k, m) for k, m, _ in got] == [("credentials[0].from", "/etc/jailmgr/secrets/db does not exist on "
                                             "this host: the start would fail")]
    assert "install -m 0600 -o root -g root /dev/stdin /etc/jailmgr/secrets/db" in got[0][2]


def test_an_encrypted_missing_source_says_systemd_creds(tmp_path: Path) -> None:
    got, _ = problems_on(tmp_path, "  - {name: db, from: /etc/s/db.cred, encrypted: true}\n", {})
    assert "systemd-creds encrypt --name=db PLAINFILE /etc/s/db.cred" in got[0][2]


@pytest.mark.parametrize(("mode", "uid"), [(0o644, 0), (0o640, 0), (0o604, 0), (0o620, 0), (0o600, 1000)])
def test_a_source_others_can_read_or_change_is_refused_with_the_fix(tmp_path: Path, mode: int, uid: int) -> None:
    nodes = {"/etc/s/db": node(mode, uid, kind=stat.S_IFREG)}
    got, _ = problems_on(tmp_path, "  - {name: db, from: /etc/s/db}\n", nodes)
    assert len(got) == 1 and got[0][0] == "credentials[0].from"
    assert "a secret must be root's alone" in got[0][1]
    assert "chmod 0600 /etc/s/db" in got[0][2] and "systemd-creds encrypt --name=db" in got[0][2]


def test_a_private_source_and_a_readable_encrypted_one_pass(tmp_path: Path) -> None:
    nodes = {"/etc/s/a": node(0o600, 0, kind=stat.S_IFREG), "/etc/s/b": node(0o400, 0, kind=stat.S_IFREG),
             "/etc/s/c.cred": node(0o644, 0, kind=stat.S_IFREG)}
    got, notes = problems_on(tmp_path, "  - {name: a, from: /etc/s/a}\n  - {name: b, from: /etc/s/b}\n"
                             "  - {name: c, from: /etc/s/c.cred, encrypted: true}\n", nodes)
    assert got == [] and notes == []


def test_a_symlink_or_a_directory_is_refused(tmp_path: Path) -> None:
    nodes = {"/etc/s/l": node(0o777, 0, kind=stat.S_IFLNK), "/etc/s/d": node(0o700, 0)}
    got, _ = problems_on(tmp_path, "  - {name: l, from: /etc/s/l}\n  - {name: d, from: /etc/s/d}\n", nodes)
    assert [m for _, m, _ in got] == ["/etc/s/l is a symlink", "/etc/s/d is not a regular file"]


def test_what_can_t_be_seen_is_a_note(tmp_path: Path) -> None:
    got, notes = problems_on(tmp_path, "  - {name: a, from: /etc/s/a}\n", {}, hidden=("/etc/s",))
    assert got == [] and any("credentials[0].from /etc/s/a" in n and "without root" in n for n in notes)


# --- what reaches the unit, the record and the plan -----------------------------------------------------

@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


def rendered(tmp_path: Path, secret: Path) -> render.Rendered:
    item = loaded(tmp_path, f"  - {{name: db, from: {secret}}}\n")
    out, problems = render.render(item, DEBIAN_12)
    assert problems == [] and out is not None
    return out


def test_the_unit_names_the_file_and_nothing_of_its_content(tmp_path: Path, secret: Path) -> None:
    item = rendered(tmp_path, secret)
    assert f"LoadCredential=db:{secret}" in item.unit_text.splitlines()
    assert SECRET.decode() not in item.unit_text
    assert all(SECRET not in entry.data for entry in item.contents.entries.values() if entry.kind != "dir")


def test_the_record_and_the_plan_hold_no_secret(tmp_path: Path, secret: Path) -> None:
    item = rendered(tmp_path, secret)
    record = apply._new_state(item, pending=False, built={})
    text = json.dumps(record.__dict__)
    assert SECRET.decode() not in text
    first = plan.plan_jail(item, None, plan.Snapshot())
    assert SECRET.decode() not in json.dumps(first.doc())
    # What the record keeps of it: the stat identity among the inputs, as for any input.
    st = os.stat(secret)
    assert record.inputs[str(secret)] == f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def test_a_rewritten_secret_restarts_the_jail_an_untouched_one_does_not(tmp_path: Path, secret: Path) -> None:
    item = rendered(tmp_path, secret)
    record = apply._new_state(item, pending=False, built={})
    seen = plan.Snapshot(matching=frozenset(item.contents.entries), units=tuple(item.units.items()),
                         enabled=True, active=True)
    assert plan.plan_jail(item, record, seen).changes == []
    os.utime(secret, ns=(1, 1))  # a rewrite: its mtime and ctime change, whatever the bytes
    again = rendered(tmp_path, secret)
    changed = plan.plan_jail(again, record, seen)
    assert [(type(op), op.path) for op in changed.changes] == [(ops.Note, "db")]
    assert changed.start == "restart" and SECRET.decode() not in json.dumps(changed.doc())


def test_changed_compares_identities_only() -> None:
    jail = spec.parse_text("name: j\nexec: [/x]\ntree: {binaries: [/x]}\n"
                           "credentials: [{name: a, from: /s/a}, {name: b, from: /s/b}]\n", "j.yaml")[0]
    assert jail is not None
    assert credentials.changed(jail, {}, {"/s/a": "1"}) == []  # no record: the first start reads them anyway
    assert credentials.changed(jail, {"/s/a": "1", "/s/b": "2"}, {"/s/a": "1", "/s/b": "3"}) == ["b"]
    assert credentials.changed(jail, {"/s/a": "1"}, {"/s/a": "1", "/s/b": "2"}) == ["b"]


def test_the_launcher_gets_a_fresh_tmpfs_after_every_mount_of_the_jail(tmp_path: Path, secret: Path) -> None:
    item = loaded(tmp_path, f"  - {{name: db, from: {secret}}}\n",
                  "mounts: [{type: tmpfs, target: /run/app}, {type: proc}]\n")
    out, _ = render.render(item, DEBIAN_12)
    assert out is not None and out.launched
    words = " ".join(out.unit_text.replace("\\\n", " ").split())
    tmpfs = words.index("--tmpfs /run/credentials/jail-c.service")
    assert tmpfs > words.index("--tmpfs /run/app") and tmpfs > words.index("--proc /proc")
    assert "init --uid 65534" in words and "--credentials /run/credentials/jail-c.service -- /usr/bin/true" in words


def test_a_secret_where_templates_are_looked_up_is_refused(tmp_path: Path) -> None:
    """A template's `{% include %}` names files of the template dirs (the jail file's own among them)."""
    item = loaded(tmp_path, f"  - {{name: db, from: {tmp_path}/jails/db.secret}}\n")
    out, problems = render.render(item, DEBIAN_12)
    assert out is None and [(p.key, p.message.split(",")[0]) for p in problems] == [
        ("credentials[0].from", f"{tmp_path}/jails/db.secret lies in {tmp_path}/jails")]
