"""safefs.py never follows a symlink, never writes through a link, never blocks, never enters a mount."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from jailmgr.safefs import TEMP_MARK, Tree, TreeError, remove_root, write_file_atomic

UID, GID = os.getuid(), os.getgid()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "jail"
    r.mkdir()
    return r


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    o = tmp_path / "host"
    o.mkdir()
    (o / "secret").write_text("host secret\n")
    return o


def test_builds_dirs_and_files_with_modes(root: Path) -> None:
    with Tree(str(root)) as tree:
        assert tree.ensure_dir("/etc", 0o755, UID, GID)
        assert tree.ensure_file("/etc/app/conf", b"x=1\n", 0o640, UID, GID)
        assert not tree.ensure_file("/etc/app/conf", b"x=1\n", 0o640, UID, GID)  # idempotent
        assert not tree.ensure_dir("/etc", 0o755, UID, GID)
        assert tree.matches("/etc/app/conf", "file", b"x=1\n", 0o640, UID, GID)
    assert (root / "etc/app/conf").read_bytes() == b"x=1\n"
    assert stat.S_IMODE((root / "etc/app/conf").stat().st_mode) == 0o640


def test_symlinked_parent_is_replaced_not_followed(root: Path, outside: Path) -> None:
    (root / "etc").symlink_to(outside)
    with Tree(str(root)) as tree:
        assert not tree.matches("/etc/secret", "file", b"host secret\n", 0o644, UID, GID)
        tree.ensure_file("/etc/passwd", b"root:x:0:0::/:/bin/sh\n", 0o644, UID, GID)
    assert (root / "etc").is_dir() and not (root / "etc").is_symlink()
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "host secret\n"


def test_symlink_at_the_target_is_replaced(root: Path, outside: Path) -> None:
    (root / "passwd").symlink_to(outside / "secret")
    with Tree(str(root)) as tree:
        tree.ensure_file("/passwd", b"new\n", 0o644, UID, GID)
    assert not (root / "passwd").is_symlink()
    assert (outside / "secret").read_text() == "host secret\n"


def test_hard_link_is_replaced_never_written_or_chmodded(root: Path, outside: Path) -> None:
    os.link(outside / "secret", root / "conf")
    os.chmod(outside / "secret", 0o600)
    with Tree(str(root)) as tree:
        assert not tree.matches("/conf", "file", b"host secret\n", 0o600, UID, GID)  # nlink 2: never trusted
        tree.ensure_file("/conf", b"mine\n", 0o644, UID, GID)
    assert (outside / "secret").read_text() == "host secret\n"
    assert stat.S_IMODE((outside / "secret").stat().st_mode) == 0o600
    assert (root / "conf").read_text() == "mine\n"


def test_fifo_does_not_block(root: Path) -> None:
    os.mkfifo(root / "conf")
    done = threading.Event()

    def work() -> None:
        with Tree(str(root)) as tree:
            tree.ensure_file("/conf", b"data\n", 0o644, UID, GID)
        done.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(10)
    assert done.is_set(), "ensure_file blocked on a FIFO"
    assert (root / "conf").read_text() == "data\n"


def test_directory_where_a_file_belongs_is_replaced(root: Path) -> None:
    (root / "conf" / "sub").mkdir(parents=True)
    with Tree(str(root)) as tree:
        tree.ensure_file("/conf", b"data\n", 0o644, UID, GID)
    assert (root / "conf").read_text() == "data\n"


def test_leftover_temporaries_are_swept(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc" / f".passwd{TEMP_MARK}deadbeef").write_text("half written")
    with Tree(str(root)) as tree:
        tree.ensure_file("/etc/passwd", b"x\n", 0o644, UID, GID)
    assert os.listdir(root / "etc") == ["passwd"]


def test_remove_does_not_follow_symlinks(root: Path, outside: Path) -> None:
    (root / "a").mkdir()
    (root / "a" / "link").symlink_to(outside)
    (root / "b").symlink_to(outside / "secret")
    assert remove_root(str(root)) == []
    assert not root.exists()
    assert (outside / "secret").read_text() == "host secret\n"


def test_root_that_is_a_symlink_is_refused(tmp_path: Path, outside: Path) -> None:
    (tmp_path / "jail").symlink_to(outside)
    with pytest.raises(TreeError):
        Tree(str(tmp_path / "jail"), create=False)
    assert remove_root(str(tmp_path / "jail")) != []
    assert (outside / "secret").exists()


def test_bad_paths_are_refused(root: Path) -> None:
    with Tree(str(root)) as tree:
        for bad in ("/a/../b", "/", "/./a"):
            with pytest.raises(TreeError):
                tree.ensure_file(bad, b"", 0o644, UID, GID)


def test_write_file_atomic_replaces_and_reports(tmp_path: Path) -> None:
    target = tmp_path / "units" / "jail-x.service"
    assert write_file_atomic(str(target), b"[Service]\n", uid=UID, gid=GID)
    assert not write_file_atomic(str(target), b"[Service]\n", uid=UID, gid=GID)
    assert write_file_atomic(str(target), b"[Service]\nType=exec\n", uid=UID, gid=GID)
    assert os.listdir(target.parent) == ["jail-x.service"]
    (target.parent / f".jail-x.service{TEMP_MARK}0badc0de").write_text("killed mid-write")
    (target.parent / f".other{TEMP_MARK}0badc0de").write_text("not ours to sweep")
    assert not write_file_atomic(str(target), b"[Service]\nType=exec\n", uid=UID, gid=GID)
    assert sorted(os.listdir(target.parent)) == [f".other{TEMP_MARK}0badc0de", "jail-x.service"]


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


@needs_root
def test_mount_under_the_root_is_never_entered(root: Path, outside: Path) -> None:
    (root / "srv" / "data").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(root / "srv" / "data")], check=True)
    try:
        with Tree(str(root)) as tree, pytest.raises(TreeError, match="mount point"):
            tree.ensure_file("/srv/data/new", b"x", 0o644, UID, GID)
        left = remove_root(str(root))
        assert len(left) == 1 and "mount point" in left[0]
        assert (outside / "secret").read_text() == "host secret\n"
    finally:
        subprocess.run(["umount", str(root / "srv" / "data")], check=True)
    assert remove_root(str(root)) == []


def _chain(top: Path, depth: int, leaf_link_to: Path | None = None) -> None:
    """A directory chain `depth` levels deep, made the way a jail would (relative mkdirs)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(depth):
            os.mkdir("d", dir_fd=fd)
            if i % 500 == 0:
                os.close(os.open("f", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        if leaf_link_to is not None:
            os.symlink(str(leaf_link_to), "escape", dir_fd=fd)
    finally:
        os.close(fd)


def test_a_chain_of_any_depth_is_removed_with_few_open_files(root: Path, outside: Path) -> None:
    (root / "data").mkdir()
    _chain(root / "data", 3000, leaf_link_to=outside)
    before = len(os.listdir("/proc/self/fd"))
    with Tree(str(root)) as tree:
        assert tree.remove("/data") == []
    assert not (root / "data").exists()
    assert len(os.listdir("/proc/self/fd")) == before
    assert (outside / "secret").read_text() == "host secret\n"  # the symlink at the bottom was not followed


def test_a_directory_of_many_entries_and_subdirectories_is_removed(root: Path) -> None:
    (root / "wide").mkdir()
    for i in range(300):
        (root / "wide" / f"sub{i}").mkdir()
        (root / "wide" / f"file{i}").write_text("x")
    with Tree(str(root)) as tree:
        assert tree.remove_all() == []
    assert os.listdir(root) == []


def test_walk_is_bounded_and_never_follows_links(root: Path, outside: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\n")
    (root / "link").symlink_to(outside)
    (root / "deep").mkdir()
    _chain(root / "deep", 2000)
    with Tree(str(root)) as tree:
        seen = {path: walked for path, _, walked in tree.walk(max_depth=10)}
        assert tree.remove("/deep") == []  # (pytest's own clean-up of tmp_path is recursive)
    assert seen["/etc/passwd"] and seen["/link"] and "/link/secret" not in seen
    not_walked = [p for p, walked in seen.items() if not walked]
    assert len(not_walked) == 1 and not_walked[0].count("/") == 11  # 10 directories entered, the next not
    assert len(seen) == 4 + 10 + 1  # etc, passwd, link, deep; the chain seen; the file at its top


def test_lstat_many_says_what_lstat_says_of_each_path(root: Path, outside: Path) -> None:
    """lstat_many opens each directory once for many paths: the same answers as lstat, path by path, through
    a symlinked directory (never followed), a file where a directory should be, and missing entries."""
    (root / "etc/ssl/certs").mkdir(parents=True)
    (root / "etc/ssl/certs/a.pem").write_text("a")
    (root / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\n")
    (root / "etc/ssl-x").mkdir()
    (root / "etc/ssl-x/b").write_text("b")
    (root / "bin").symlink_to(outside)
    (outside / "sh").write_text("host's")
    (root / "file").write_text("not a dir")
    paths = ["/etc/ssl/certs/a.pem", "/etc/passwd", "/etc/ssl-x/b", "/etc/ssl", "/etc/ssl/certs", "/bin",
             "/bin/sh", "/file/below", "/missing/deeper/x", "/etc/missing", "/etc"]
    with Tree(str(root), create=False) as tree:
        many = tree.lstat_many(paths)
        one = {path: tree.lstat(path) for path in paths}
    assert many.keys() == set(paths)
    for path in paths:
        assert (many[path] is None) == (one[path] is None), path
        if many[path] is not None:
            assert (many[path].st_ino, many[path].st_mode) == (one[path].st_ino, one[path].st_mode), path
    assert many["/bin/sh"] is None and many["/file/below"] is None and many["/missing/deeper/x"] is None
    assert many["/bin"] is not None and stat.S_ISLNK(many["/bin"].st_mode)


def test_lstat_many_refuses_what_lstat_refuses(root: Path) -> None:
    with Tree(str(root), create=False) as tree, pytest.raises(TreeError):
        tree.lstat_many(["/etc", "/etc/../x"])


@needs_root
def test_lstat_many_never_enters_a_mount(root: Path, outside: Path) -> None:
    (root / "srv" / "data").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(root / "srv" / "data")], check=True)
    try:
        with Tree(str(root), create=False) as tree, pytest.raises(TreeError, match="mount point"):
            tree.lstat_many(["/srv", "/srv/data/secret"])
    finally:
        subprocess.run(["umount", str(root / "srv" / "data")], check=True)
