"""A jail tree from a root filesystem tarball (.tar, .tar.gz, .tar.xz), read safely.

Every member is checked before anything is written, and written only through
tree.Tree (no symlink is ever followed on the host):
- names are made relative and normalized; absolute names and `..` are refused;
- symlinks whose relative target climbs above the jail root are refused
  (absolute targets are fine: inside the jail they resolve inside it);
- hard links must point at a regular file of the same archive;
- device nodes and FIFOs are skipped: /dev holds only the declared nodes;
- set-user-ID, set-group-ID (and sticky, but on directories) bits are dropped.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass

from .tree import Tree

MAX_MEMBERS = 200_000


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


def members(tar: tarfile.TarFile) -> tuple[list[Member], list[str]]:
    """The members to write, in order, and what was skipped (with why)."""
    out: list[Member] = []
    skipped: list[str] = []
    files: set[str] = set()
    for count, info in enumerate(tar):
        if count >= MAX_MEMBERS:
            raise RootfsError(f"more than {MAX_MEMBERS} members")
        path = _jail_path(info.name)
        if path is None:
            continue
        if info.isdir():
            out.append(Member(path, "dir", info.mode & 0o1777, info.uid, info.gid))
        elif info.isreg():
            out.append(Member(path, "file", info.mode & 0o777, info.uid, info.gid))
            files.add(path)
        elif info.issym():
            _check_symlink(path, info.linkname)
            out.append(Member(path, "symlink", 0o777, info.uid, info.gid, info.linkname))
        elif info.islnk():
            target = _jail_path(info.linkname)
            if target not in files:
                raise RootfsError(f"{path}: hard link to {info.linkname!r}, not a file of this archive")
            out.append(Member(path, "hardlink", 0, 0, 0, target))
        else:
            skipped.append(f"{path}: {'device node' if info.isdev() else 'special file'} skipped")
    return out, skipped


def unpack(archive: str, tree: Tree) -> tuple[int, list[str]]:
    """Write the archive's members into the tree; returns how many, and what was skipped."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            wanted, skipped = members(tar)  # every member checked before the first write
        with tarfile.open(archive, "r:*") as tar:
            by_name = {}
            for info in tar:
                path = _jail_path(info.name)
                if path is not None:
                    by_name[path] = info
            for member in wanted:
                if member.kind == "dir":
                    tree.ensure_dir(member.path, member.mode, member.uid, member.gid)
                elif member.kind == "file":
                    fileobj = tar.extractfile(by_name[member.path])
                    data = fileobj.read() if fileobj else b""
                    tree.ensure_file(member.path, data, member.mode, member.uid, member.gid)
                elif member.kind == "symlink":
                    tree.ensure_symlink(member.path, member.target)
                else:
                    tree.ensure_hardlink(member.path, member.target)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RootfsError(f"{archive}: {exc}") from exc
    return len(wanted), skipped


def check(archive: str) -> list[str]:
    """Read the whole archive without writing: the problems that would stop unpack."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members(tar)
    except RootfsError as exc:
        return [str(exc)]
    except (tarfile.TarError, OSError, EOFError) as exc:
        return [f"cannot read: {exc}"]
    return []

