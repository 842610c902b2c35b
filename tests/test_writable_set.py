"""The jail-writable set (spec.host_writable and friends) and the checks that use it: no root needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jailmgr import crossjail, fingerprint, preflight, spec, state, unchanged
from jailmgr.safefs import Tree, host_symlink


def full(text: str) -> str:
    """A jail file: /usr/bin/true runs, from the tree unless `text` says what the tree holds."""
    return "exec: [/usr/bin/true]\n" + ("" if "tree:" in text else "tree: {binaries: [/usr/bin/true]}\n") + text


def jail(text: str) -> spec.Jail:
    loaded, problems = spec.parse_text(full(text), "t")
    assert problems == [] and loaded is not None, problems
    return loaded


def problems(text: str) -> list[str]:
    _, found = spec.parse_text(full(text), "t")
    return [f"{p.key}: {p.message}" for p in found]


def test_paths_are_compared_normalised_and_strictly_below() -> None:
    assert spec.norm("/srv//x/../y/") == "/srv/y" and spec.norm("//") == "/"
    assert spec.below("/srv/x/conf", "/srv/x") and not spec.below("/srv/x", "/srv/x")
    assert not spec.below("/srv/xy", "/srv/x") and spec.below("/a", "/")
    assert spec.magic("/proc/self/fd/3") == "/proc" and spec.magic("/dev/fd/3") == "/dev/fd"
    assert spec.magic("/procfs") == "" and spec.magic("/dev/null") == ""


def test_the_set_holds_writable_dirs_rw_sources_and_a_rootfs_tree() -> None:
    j = jail("tree:\n  binaries: [/usr/bin/true]\n  dirs: [{path: /data, writable: true}, {path: /etc/x}]\n"
             "  rootfs: base.tar\nname: a\n"
             "root: /srv/a/root\nmounts: [{source: /srv/rw, target: /rw, mode: rw}, {source: /srv/ro, target: /ro}]\n")
    assert {(p.path, p.key) for p in spec.host_writable(j)} == {
        ("/srv/a/root/data", "tree.dirs[0].path"), ("/srv/rw", "mounts[0].source"), ("/srv/a/root", "tree.rootfs")}
    assert {p.path for p in spec.jail_writable(j)} == {"/data", "/rw"}
    # (journald's syslog socket: runtime.syslog is on by default)
    assert {p.path for p in spec.host_resolved(j)} == {"/srv/rw", "/srv/ro", "/usr/bin/true", "/srv/a/root",
                                                       "/run/systemd/journal/dev-log"}


@pytest.mark.parametrize(("text", "wanted"), [
    # issue 21 (2): the ro source below the rw one, shown by host paths alone
    ("name: a\nmounts: [{source: /srv/x, target: /site, mode: rw}, {source: /srv/x/conf, target: /conf}]\n",
     "mounts[1].source: /srv/x/conf lies below /srv/x (mounts[0].source)"),
    # issue 21 (1): the workdir below a writable dir, both mechanisms resolve it as root
    ("name: a\nworkdir: /data/w\ntree: {dirs: [{path: /data, writable: true}]}\n",
     "workdir: /data/w lies below /data (tree.dirs[0].path)"),
    ("name: a\nworkdir: /site/w\nmounts: [{source: /srv/x, target: /site, mode: rw}]\n",
     "workdir: /site/w lies below /site (mounts[0].target)"),
    ("name: a\nworkdir: /proc/self/cwd\n", "workdir: /proc/self/cwd lies in /proc"),
    ("name: a\nmounts: [{source: /proc/1/root, target: /host}]\n", "mounts[0].source: /proc/1/root lies in /proc"),
    ("name: a\nroot: /srv/t/root\nmounts: [{source: /srv/t, target: /t, mode: rw}]\n",
     "mounts[0].source: /srv/t holds the jail's own tree"),
    ("name: a\nroot: /srv/t/root\nmounts: [{source: /srv/t/root/etc, target: /e, mode: rw}]\n",
     "mounts[0].source: /srv/t/root/etc lies inside the jail's own tree"),
    # what runtime: binds from the host is resolved as root at each start too
    ("name: a\nruntime: {timezone: true}\nmounts: [{source: /usr/share, target: /share, mode: rw}]\n",
     "runtime.timezone: /usr/share/zoneinfo lies below /usr/share (mounts[0].source)"),
    ("name: a\nmounts: [{source: /run/systemd, target: /sd, mode: rw}]\n",
     "runtime.syslog: /run/systemd/journal/dev-log lies below /run/systemd (mounts[0].source)"),
])
def test_what_root_resolves_through_the_set_is_refused_at_validate(text: str, wanted: str) -> None:
    found = problems(text)
    assert any(line.startswith(wanted) for line in found), found


@pytest.mark.parametrize("text", [
    "name: a\nworkdir: /data\ntree: {binaries: [/usr/bin/true], dirs: [{path: /data, writable: true}]}\n",
    "name: a\nmounts: [{source: /srv/x, target: /a, mode: rw}, {source: /srv/x, target: /b}]\n",  # the same dir
    "name: a\nmounts: [{source: /srv/x, target: /a, mode: rw}, {source: /srv/xy, target: /b}]\n",
    "name: a\nworkdir: /tmp/w\nmounts: [{type: tmpfs, target: /tmp}]\n",
])
def test_paths_at_or_beside_the_set_are_fine(text: str) -> None:
    assert problems(text) == []


def sets(text: str) -> spec.Sets:
    return spec.sets_of(jail(text))


def test_another_jails_writable_set_is_known_across_jails() -> None:
    a = sets("name: a\nmounts: [{source: /srv/shared, target: /s, mode: rw}]\n")
    b = sets("name: b\nmounts: [{source: /srv/shared/conf, target: /conf}]\n")
    same = sets("name: c\nmounts: [{source: /srv/shared, target: /s}]\n")
    assert crossjail.conflicts(b, [a, b]) and crossjail.conflicts(a, [a, b])  # said from either side
    assert crossjail.conflicts(same, [a, same]) == []  # sharing the dir itself is the author's to grant
    below_tree = sets("name: d\nmounts: [{source: /var/lib/jailmgr/jails/e/root/data/x, target: /x}]\n")
    e = sets("name: e\ntree:\n  binaries: [/usr/bin/true]\n  dirs: [{path: /data, writable: true}]\n")
    assert "jail e can write" in crossjail.conflicts(below_tree, [below_tree, e])[0][1]
    inside = sets("name: f\nroot: /srv/shared/f\n")
    assert crossjail.conflicts(inside, [inside, a])[0] == (
        "root", "/srv/shared/f lies below /srv/shared, which jail a can write: it could swap the way there for a "
        "symlink and root would follow it")
    # An rw mount into another jail's tree (its read-only part): refused from either side (red team).
    intruder = sets("name: g\nmounts: [{source: /var/lib/jailmgr/jails/h/root/opt, target: /v, mode: rw}]\n")
    victim = sets("name: h\n")
    assert crossjail.conflicts(intruder, [intruder, victim])[0][0] == "mounts[0].source"
    assert "lies inside the tree of jail h" in crossjail.conflicts(intruder, [intruder, victim])[0][1]
    assert crossjail.conflicts(victim, [intruder, victim])[0][0] == "root"
    assert "lies inside the tree of jail h" in crossjail.conflicts(victim, [intruder, victim])[0][1]


def test_a_record_carries_the_sets_and_an_old_one_what_its_entries_show(tmp_path: Path) -> None:
    old = state.JailState(name="o", source="", root="/r", unit="jail-o.service", rootfs_sha256="x",
                          entries={"/data": {"kind": "dir", "writable": True}, "/etc": {"kind": "dir"}})
    assert old.host_sets() == ({"/r/data": "tree.dirs (writable)", "/r": "tree.rootfs"}, {"/r": "root"})


def test_check_host_paths_refuses_another_jails_writable_dir_and_host_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert host_symlink(str(tmp_path / "link" / "x")) == str(tmp_path / "link")
    assert host_symlink(str(tmp_path / "real" / "missing" / "y")) == ""
    assert host_symlink("/proc/self/fd/0") == "/proc/self"
    source = tmp_path / "j.yaml"
    source.write_text(f"name: j\nroot: {tmp_path}/root\nexec: [/usr/bin/true]\ntree: {{binaries: [/usr/bin/true]}}\n"
                      f"mounts: [{{source: {tmp_path}/link, target: /l}}]\n")
    loaded = spec.load_or_raise([str(source)])[0]
    found = preflight.check_host_paths([loaded], {})
    assert [(p.line, p.col, p.key) for p in found] == [(5, 19, "mounts[0].source")]
    assert "is a symlink on the host" in found[0].message and found[0].hint == f"name the path it resolves to now: " \
        f"{tmp_path}/real"
    other = state.JailState(name="k", source="", root="/x", unit="jail-k.service",
                            host_writable={str(tmp_path): "mounts[0].source"}, host_resolved={})
    found = preflight.check_host_paths([loaded], {"k": other})
    assert [p.key for p in found if "which jail k can write" in p.message] == ["mounts[0].source", "root"]


def test_a_declared_file_rewritten_without_a_new_fingerprint_is_still_seen(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    with Tree(root) as tree:
        tree.ensure_dir("/data", 0o755, os.getuid(), os.getgid())
        tree.ensure_file("/data/conf", b"declared\n", 0o644, os.getuid(), os.getgid())
    import hashlib

    digest = hashlib.sha256(b"declared\n").hexdigest()
    recorded = state.JailState(name="w", source="", root=root, unit="jail-w.service",
                               entries={"/data": {"kind": "dir", "writable": True},
                                        "/data/conf": {"kind": "file", "sha256": digest}})
    recorded.built = fingerprint.built(root, {"/data": True, "/data/conf": False})
    assert unchanged.tree_changes(recorded) == []
    with open(f"{root}/data/conf", "r+b") as f:  # the same size, then the fingerprint taken again: a same-tick
        f.write(b"DECLARED\n")                     # rewrite looks like this to stat()
    recorded.built = fingerprint.built(root, {"/data": True, "/data/conf": False})
    assert unchanged.tree_changes(recorded) == ["/data/conf"]


def pairwise(mine: spec.Sets, others: list[spec.Sets]) -> list[tuple[str, str]]:
    """The definition crossjail.Index must meet: every pair of jails compared (quadratic in the fleet)."""
    found = []
    for other in others:
        if other.name == mine.name:
            continue
        for place in mine.resolved:
            hit = next((w for w in other.writable if spec.below(place.path, w.path)
                        or (place.key == "root" and place.path == w.path)), None)
            if hit is not None:
                found.append((place.key, f"{place.path} lies below {hit.path}, which jail {other.name} can write: it "
                              "could swap the way there for a symlink and root would follow it"))
        for place in other.resolved:
            hit = next((w for w in mine.writable if spec.below(place.path, w.path)
                        or (place.key == "root" and place.path == w.path)), None)
            if hit is not None:
                found.append((hit.key, f"{hit.path} is writable to this jail, and jail {other.name} resolves "
                              f"{place.path} below it as root ({place.key})"))
        # A writable place inside another jail's tree: its read-only part (programs, mount targets) would be
        # the writer's to change.
        for writer, tree_of in ((mine, other), (other, mine)):
            for root in (p for p in tree_of.resolved if p.key == "root"):
                hit = next((w for w in writer.writable if spec.below(w.path, root.path)), None)
                if hit is not None:
                    key = hit.key if writer is mine else "root"
                    found.append((key, f"{hit.path} ({hit.key}) lies inside the tree of jail {tree_of.name} "
                                  f"({root.path}), writable to jail {writer.name}: it could change what the other "
                                  "jail runs and the paths its start resolves as root"))
    return found


_PATHS = st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=3).map(lambda parts: "/" + "/".join(parts))
_PLACES = st.lists(st.tuples(_PATHS, st.sampled_from(["root", "mounts[0].source", "tree.dirs[0].path"])), max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["j1", "j2", "j3", "j4"]), _PLACES, _PLACES), min_size=1, max_size=5))
def test_the_index_finds_what_comparing_every_pair_finds_in_the_same_order(
        jails: list[tuple[str, list[tuple[str, str]], list[tuple[str, str]]]]) -> None:
    sets = [spec.Sets(name, tuple(spec.Place(p, k) for p, k in writable),
                      tuple(spec.Place(p, k) for p, k in resolved)) for name, writable, resolved in jails]
    index = crossjail.Index(sets)
    for mine in sets:
        assert index.conflicts(mine) == pairwise(mine, sets)
