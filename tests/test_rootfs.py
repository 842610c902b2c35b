"""Root filesystem tarballs are unpacked safely, member by member."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from jailmgr import rootfs
from jailmgr.safefs import Tree


def make_tar(path: Path, entries: list[tuple[str, str, object]]) -> Path:
    """entries: (name, kind, payload) with kind file|dir|symlink|hardlink|chardev|setuid.

    The members are owned by whoever runs the tests (unpack gives each file its member's owner,
    and only root may give a file to another user)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid = os.getuid(), os.getgid()
            if kind in ("file", "setuid"):
                data = str(payload).encode()
                info.size, info.mode = len(data), (0o4755 if kind == "setuid" else 0o644)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "chardev": tarfile.CHRTYPE}[kind]
            info.mode = 0o755
            if kind in ("symlink", "hardlink"):
                info.linkname = str(payload)
            tar.addfile(info)
    return path


def test_unpacks_files_links_and_drops_setuid(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "fs.tar.gz", [
        ("./bin", "dir", None), ("./bin/busybox", "setuid", "#!fake"), ("./bin/sh", "symlink", "busybox"),
        ("./bin/ls", "hardlink", "./bin/busybox"), ("./etc/motd", "file", "hi"),
        ("./dev/sda", "chardev", None), ("./lib", "symlink", "/usr/lib")])
    root = tmp_path / "root"
    with Tree(str(root)) as tree:
        count, skipped = rootfs.unpack(str(archive), tree)
    assert count == 6 and skipped == ["/dev/sda: device node skipped"]
    assert stat.S_IMODE((root / "bin/busybox").stat().st_mode) == 0o755  # setuid dropped
    assert os.readlink(root / "bin/sh") == "busybox"
    assert ((root / "etc/motd").stat().st_uid, (root / "etc/motd").stat().st_gid) == (os.getuid(), os.getgid())
    assert (root / "bin/ls").stat().st_ino == (root / "bin/busybox").stat().st_ino
    assert os.readlink(root / "lib") == "/usr/lib"  # absolute: resolves inside the jail
    assert not (root / "dev/sda").exists()
    with Tree(str(root)) as tree:  # a second unpack changes nothing
        rootfs.unpack(str(archive), tree)


@pytest.mark.parametrize(("entries", "message"), [
    ([("/etc/passwd", "file", "x")], "absolute member names are refused"),
    ([("../../etc/cron.d/evil", "file", "x")], "'..' in a member name is refused"),
    ([("a/b/link", "symlink", "../../../etc/shadow")], "points out of the jail root"),
    ([("link", "hardlink", "/etc/shadow")], "absolute member names are refused"),
    ([("link", "hardlink", "not-in-archive")], "not a file of this archive"),
])
def test_hostile_members_are_refused_before_anything_is_written(tmp_path: Path, entries: list, message: str) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", [("ok", "file", "fine"), *entries])
    assert any(message in problem for problem in rootfs.check(str(archive)))
    root = tmp_path / "root"
    with Tree(str(root)) as tree, pytest.raises(rootfs.RootfsError, match=message):
        rootfs.unpack(str(archive), tree)
    assert os.listdir(root) == []  # checked before the first write


def test_symlink_planted_in_the_tree_is_not_followed_by_unpack(tmp_path: Path) -> None:
    outside = tmp_path / "host"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "etc").symlink_to(outside)
    archive = make_tar(tmp_path / "fs.tar", [("etc/motd", "file", "hi")])
    with Tree(str(root)) as tree:
        rootfs.unpack(str(archive), tree)
    assert os.listdir(outside) == []
    assert (root / "etc" / "motd").read_text() == "hi"


def test_not_a_tarball_is_a_clear_problem(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    assert rootfs.check(str(junk))[0].startswith("cannot read")


def test_a_name_that_repeats_is_refused_clearly(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "dup.tar.gz", [("etc", "dir", None), ("etc/motd", "file", "one"),
                                                 ("etc/motd", "dir", None)])
    assert rootfs.check(str(archive)) == ["/etc/motd: the archive holds two members of this name"]
    with Tree(str(tmp_path / "root")) as tree, pytest.raises(rootfs.RootfsError, match="two members"):
        rootfs.unpack(str(archive), tree)


def _sparse_tar(path: Path, size: int) -> Path:
    """A small archive that declares one sparse file of `size` bytes (GNU sparse format)."""
    sparse = path.parent / "sparse.img"
    with open(sparse, "wb") as f:
        f.truncate(size)
        f.seek(size - 4)
        f.write(b"tail")
    import subprocess

    subprocess.run(["tar", "-C", str(path.parent), "--sparse", "-czf", str(path), "sparse.img"], check=True)
    sparse.unlink()
    return path


def test_a_sparse_bomb_is_refused_by_the_size_cap(tmp_path: Path) -> None:
    archive = _sparse_tar(tmp_path / "bomb.tar.gz", 8 << 30)
    assert archive.stat().st_size < 64 << 10
    assert rootfs.check(str(archive))[0].startswith("unpacked, its files would take more than")
    with Tree(str(tmp_path / "root")) as tree, pytest.raises(rootfs.RootfsError, match="more than"):
        rootfs.unpack(str(archive), tree)


def test_files_are_streamed_not_held_in_memory(tmp_path: Path) -> None:
    import subprocess
    import sys

    archive = _sparse_tar(tmp_path / "big.tar.gz", 256 << 20)
    # VmHWM is this process's own peak (ru_maxrss would include the pytest process it was forked from).
    script = ("from jailmgr import rootfs; from jailmgr.safefs import Tree\n"
              f"t = Tree({str(tmp_path / 'root')!r}); rootfs.unpack({str(archive)!r}, t, 1 << 30)\n"
              "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert int(out) < 120 << 10  # peak KiB of the unpacking process: far below the 256 MiB file
    assert (tmp_path / "root/sparse.img").stat().st_size == 256 << 20
