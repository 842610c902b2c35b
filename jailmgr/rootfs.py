"""A jail tree from a root filesystem tarball (.tar, .tar.gz, .tar.xz), read safely.

Every member is checked before anything is written, and written only through
safefs.Tree (no symlink is ever followed on the host):
- names are made relative and normalized; absolute names and `..` are refused;
- symlinks whose relative target climbs above the jail root are refused
  (absolute targets are fine: inside the jail they resolve inside it);
- hard links must point at a regular file of the same archive;
- device nodes and FIFOs are skipped: /dev holds only the declared nodes;
- set-user-ID, set-group-ID (and sticky, but on directories) bits are dropped;
- a name that appears twice is refused; the file data unpacked (sparse holes
  included) is capped (tree.rootfs_max_size), and is streamed, never held in
  memory whole (a 10 KiB archive can declare a sparse file of many GiB).
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator

from .quickdata import dataclass
from .safefs import Tree

TYPE_CHECKING = False  # typing is only needed by checkers
if TYPE_CHECKING:
    from typing import IO

MAX_MEMBERS = 200_000
DEFAULT_MAX_SIZE = 2 << 30  # bytes of file data, unless tree.rootfs_max_size says otherwise


class RootfsError(Exception):
    pass


@dataclass(frozen=True)
class Member:
    path: str  # absolute inside the jail
    kind: str  # dir, file, symlink, hardlink
    mode: int
    uid: int
    gid: int
    target: str = ""  # symlink target, or the jail path a hard link points at


def digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _jail_path(name: str) -> str | None:
    name = name.strip()
    if name.startswith("/"):
        raise RootfsError(f"{name!r}: absolute member names are refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RootfsError(f"{name!r}: '..' in a member name is refused")
    if any("\0" in p for p in parts):
        raise RootfsError(f"{name!r}: NUL in a member name")
    return "/" + "/".join(parts) if parts else None


def _check_symlink(path: str, target: str) -> None:
    if not target or "\0" in target:
        raise RootfsError(f"{path}: empty or invalid symlink target")
    if target.startswith("/"):
        return
    depth = path.count("/") - 1  # directories above the link's own directory
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise RootfsError(f"{path} -> {target}: the link points out of the jail root")
        elif part not in ("", "."):
            depth += 1


class _Checker:
    """The rules every member must pass, applied as the archive is read (one pass, bounded memory)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.total = 0
        self.count = 0
        self.seen: set[str] = set()  # member paths: bounded by MAX_MEMBERS
        self.files: set[str] = set()

    def member(self, info: tarfile.TarInfo) -> Member | str | None:
        """The member to write, a reason it is skipped, or None (the archive's own root)."""
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise RootfsError(f"more than {MAX_MEMBERS} members")
        path = _jail_path(info.name)
        if path is None:
            return None
        if path in self.seen:
            # Two members of one name: which one wins would depend on the order
            # of writes (a file, then a directory of that name...): refused.
            raise RootfsError(f"{path}: the archive holds two members of this name")
        self.seen.add(path)
        if info.isdir():
            return Member(path, "dir", info.mode & 0o1777, info.uid, info.gid)
        if info.isreg():
            self.total += info.size  # the size unpacked, sparse holes included
            if self.total > self.max_size:
                raise RootfsError(f"unpacked, its files would take more than {self.max_size} bytes "
                                  "(tree.rootfs_max_size)")
            self.files.add(path)
            return Member(path, "file", info.mode & 0o777, info.uid, info.gid)
        if info.issym():
            _check_symlink(path, info.linkname)
            return Member(path, "symlink", 0o777, info.uid, info.gid, info.linkname)
        if info.islnk():
            target = _jail_path(info.linkname)
            if target not in self.files:
                raise RootfsError(f"{path}: hard link to {info.linkname!r}, not a file of this archive")
            return Member(path, "hardlink", 0, 0, 0, target)
        return f"{path}: {'device node' if info.isdev() else 'special file'} skipped"


def _chunks(fileobj: IO[bytes] | None, size: int) -> Iterator[bytes]:
    """A member's data, 1 MiB at a time, never more than its declared size."""
    left = size
    while fileobj is not None and left > 0:
        chunk = fileobj.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)
        yield chunk


class _Archive(tarfile.TarFile):
    """A TarFile, with the list it keeps of every TarInfo it read (undocumented, and not in the stubs)."""

    members: list[tarfile.TarInfo]


def _each(archive: str, max_size: int) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo, Member | str]]:
    with _Archive.open(archive, "r:*") as tar:
        checker = _Checker(max_size)
        for info in tar:
            member = checker.member(info)
            if member is not None:
                yield tar, info, member
            tar.members = []  # tarfile keeps every TarInfo it read: memory would grow


def unpack(archive: str, tree: Tree, max_size: int = DEFAULT_MAX_SIZE) -> tuple[int, list[str]]:
    """Write the archive's members into the tree as they are read; returns how many, and what was skipped.

    The whole archive is read with the rules first (a refused archive writes
    nothing), then again while writing, member by member, because the file
    may change between the two reads.  File data is streamed to disk.
    """
    problems = check(archive, max_size)
    if problems:
        raise RootfsError(f"{archive}: {problems[0]}")
    written, skipped = 0, []
    try:
        for tar, info, member in _each(archive, max_size):
            if isinstance(member, str):
                skipped.append(member)
                continue
            if member.kind == "dir":
                tree.ensure_dir(member.path, member.mode, member.uid, member.gid)
            elif member.kind == "file":
                tree.write_stream(member.path, _chunks(tar.extractfile(info), info.size), member.mode,
                                  member.uid, member.gid)
            elif member.kind == "symlink":
                tree.ensure_symlink(member.path, member.target)
            else:
                tree.ensure_hardlink(member.path, member.target)
            written += 1
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RootfsError(f"{archive}: {exc}") from exc
    return written, skipped


def check(archive: str, max_size: int = DEFAULT_MAX_SIZE) -> list[str]:
    """Read the whole archive without writing: the problems that would stop unpack."""
    try:
        for _ in _each(archive, max_size):
            pass
    except RootfsError as exc:
        return [str(exc)]
    except (tarfile.TarError, OSError, EOFError) as exc:
        return [f"cannot read: {exc}"]
    return []
