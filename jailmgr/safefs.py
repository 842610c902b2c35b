"""Safe filesystem operations under a jail root (imports nothing else from jailmgr but durable.py).

A jail's tree is untrusted: a compromised service (or whoever else can write
there) may plant symlinks, hard links, FIFOs or mounts.  Every operation here
therefore works relative to directory file descriptors, opened one component
at a time with O_NOFOLLOW, so a symlink anywhere in a path is never followed:
- directories are opened with O_DIRECTORY|O_NOFOLLOW, and refused when they
  sit on another mount (mnt_id from /proc/self/fdinfo: a bind mount of the
  same filesystem keeps st_dev, so st_dev alone can't tell);
- files are never opened for writing in place: a new file is created with
  O_CREAT|O_EXCL next to the target and renamed over it, which replaces a
  planted symlink or hard link instead of writing through it;
- an existing file is read only after fstat says it is a regular file with a
  single link, and it is opened with O_NONBLOCK so a planted FIFO can't block;
- chown/chmod happen only on the file descriptor of a file just created, or
  of a directory opened with O_NOFOLLOW (a directory can't be a hard link).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from . import durable

TYPE_CHECKING = False  # typing costs milliseconds at startup; it is only needed by checkers
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Protocol

    class _Listing(Iterator[os.DirEntry[str]], Protocol):
        """What os.scandir returns: entries, and close() to free its descriptor before the end."""

        def close(self) -> None: ...

TEMP_MARK = ".jailmgr-tmp."
MAX_OPEN = 64  # directories a removal keeps open at once
WALK_DEPTH = 64  # how deep a read-only walk goes
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class TreeError(Exception):
    """An operation refused for safety, or failed; the message names the path."""


def _components(path: str) -> list[str]:
    """A tree path's names, from the root down; TreeError for one that is empty or has . or .. in it."""
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise TreeError(f"{path!r}: not a normalized path inside the jail")
    return parts


class NotRegular(OSError):
    """open_regular found something else than a regular file there, and did not open it."""


def open_regular(name: str, dir_fd: int | None = None, follow: bool = False) -> int:
    """A descriptor to read the regular file `name` (relative to `dir_fd`); NotRegular for anything else.

    The name is first opened O_PATH, which opens nothing (a device's driver is not called, a FIFO's writer
    not woken), and only a regular file is then opened for reading, through that very inode (our own
    descriptor's /proc/self/fd link): a name a jail wrote, or a file it swapped since it was looked at, may
    be a FIFO, whose opening by root tells the jail when jailmgr runs.  Without `follow`, a symlink at
    `name` is not followed (it is not a regular file).
    """
    where = os.open(name, os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW), dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(where).st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file", name)
        return os.open(f"/proc/self/fd/{where}", _READ_FLAGS & ~os.O_NOFOLLOW)
    finally:
        os.close(where)


def mount_id(fd: int) -> int:
    info = os.open(f"/proc/self/fdinfo/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(info, 4096)  # pos, flags, mnt_id, ino come first: a few dozen bytes
    finally:
        os.close(info)
    for line in data.split(b"\n"):
        if line.startswith(b"mnt_id:"):
            return int(line.split()[1])
    raise TreeError("no mnt_id in /proc/self/fdinfo (kernel too old)")


def write_file_atomic(path: str, data: bytes, mode: int = 0o644, *, uid: int = 0, gid: int = 0) -> bool:
    """Write a host file (a unit, a state file) atomically; False when it already holds data.

    Owned by uid:gid: root's for every file jailmgr writes; the unit tests, which need not run
    as root, give their own."""
    directory, name = os.path.split(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    dfd = os.open(directory, _DIR_FLAGS)
    try:
        tree = _Dir(dfd, directory)
        tree.sweep_temps(f".{name[:64]}{TEMP_MARK}")  # ours only, left by a killed run
        if tree.file_matches(name, data, mode, uid, gid):
            return False
        tree.replace_file(name, data, mode, uid, gid)
        return True
    finally:
        os.close(dfd)


class _Dir:
    """One open directory of the tree and the path it stands for (for messages).

    (Plain classes here, not dataclasses: the no-op apply reads trees through this module, and
    dataclasses' import costs it more than its work.)
    """

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path

    def stat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def file_matches(self, name: str, data: bytes, mode: int, uid: int, gid: int) -> bool:
        st = self.stat(name)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return False
        if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size) != (mode, uid, gid, len(data)):
            return False
        try:
            fd = open_regular(name, dir_fd=self.fd)
        except OSError:
            return False
        try:
            again = os.fstat(fd)  # the entry may have been swapped since the lstat
            if not stat.S_ISREG(again.st_mode) or (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino):
                return False
            chunks, left = [], len(data) + 1
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks) == data
        finally:
            os.close(fd)

    def replace_file(self, name: str, data: bytes | Iterable[bytes], mode: int, uid: int, gid: int) -> None:
        """A new file of `data` (bytes, or chunks of them), renamed over whatever `name` was."""
        st = self.stat(name)
        if st is not None and stat.S_ISDIR(st.st_mode):
            self.remove(name)
        temp = f".{name[:64]}{TEMP_MARK}{os.urandom(6).hex()}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=self.fd)
        try:
            for chunk in [data] if isinstance(data, bytes) else data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)  # after fchown, which clears set-id bits
            if not durable.batched():  # (batched: the flush's syncfs covers the file's data too)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=self.fd)
            raise
        os.close(fd)
        # rename replaces the directory entry itself: a symlink or hard link
        # planted at `name` is dropped, never written through.
        os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        durable.sync_dir(self.fd)

    def remove(self, name: str) -> list[str]:
        """Remove an entry, a directory with all in it, never crossing a mount; returns what was left.

        Iterative, with at most MAX_OPEN directories open: a jail can make a
        directory chain of any depth (it made check and destroy die of
        RecursionError), so a directory met deeper than that is first moved
        up into the directory being removed, which flattens the chain.  The
        moves stay inside what is being removed; nothing is followed.
        """
        st = self.stat(name)
        if st is None:
            return []
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=self.fd)
            return []
        top = self._open_child(name)
        if isinstance(top, str):
            return [top]
        left: list[str] = []
        stack = [_Frame(top, name)]
        try:
            while stack:
                frame = stack[-1]
                child = self._next_subdir(frame, stack[0], len(stack) >= MAX_OPEN, left)
                if child is not None:
                    stack.append(child)
                    continue
                stack.pop()
                frame.close()
                parent = stack[-1].dir.fd if stack else self.fd
                try:
                    os.rmdir(frame.name, dir_fd=parent)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EBUSY):
                        raise
                    if not left:
                        left.append(f"{frame.dir.path}: could not be emptied; left in place")
                    if stack:
                        stack[-1].keep.add(frame.name)  # it holds what was left (a mount point)
        finally:
            for frame in stack:
                frame.close()
        return left

    def _open_child(self, name: str) -> _Dir | str:
        """A subdirectory on the same mount, or the reason it is left in place."""
        child_path = os.path.join(self.path, name)
        try:
            cfd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            return f"{child_path}: {exc.strerror}"
        if mount_id(cfd) != mount_id(self.fd) or os.fstat(cfd).st_dev != os.fstat(self.fd).st_dev:
            os.close(cfd)
            return f"{child_path}: a mount point; left in place with everything under it"
        return _Dir(cfd, child_path)

    @staticmethod
    def _next_subdir(frame: _Frame, top: _Frame, full: bool, left: list[str]) -> _Frame | None:
        """Empty `frame` of everything but subdirectories; the next subdirectory to go into.

        The listing is read as a stream (a directory may hold millions of
        entries), and read again until a whole pass finds nothing to do.
        """
        while True:
            if frame.entries is None:
                frame.entries, frame.acted = os.scandir(frame.dir.fd), False
            for entry in frame.entries:
                if entry.name in frame.keep:
                    continue
                st = frame.dir.stat(entry.name)
                if st is None:
                    continue
                frame.acted = True
                if not stat.S_ISDIR(st.st_mode):
                    os.unlink(entry.name, dir_fd=frame.dir.fd)
                    continue
                if full:  # too deep to open one more: move it up, and meet it again from there
                    moved = f".jailmgr-deep.{os.urandom(8).hex()}"
                    os.rename(entry.name, moved, src_dir_fd=frame.dir.fd, dst_dir_fd=top.dir.fd)
                    top.acted = True
                    continue
                child = frame.dir._open_child(entry.name)
                if isinstance(child, str):
                    left.append(child)
                    frame.keep.add(entry.name)
                    continue
                return _Frame(child, entry.name)
            frame.entries.close()
            frame.entries = None
            if not frame.acted:
                return None

    def sweep_temps(self, prefix: str = ".") -> None:
        """Drop temporary files an earlier, killed run left in this directory."""
        for entry in os.listdir(self.fd):
            if TEMP_MARK in entry and entry.startswith(prefix):
                st = self.stat(entry)
                if st is not None and not stat.S_ISDIR(st.st_mode):
                    os.unlink(entry, dir_fd=self.fd)


class _Frame:
    """One directory being emptied: its name in its parent, and what it must keep."""

    def __init__(self, dir: _Dir, name: str, keep: set[str] | None = None) -> None:
        self.dir = dir
        self.name = name
        self.keep: set[str] = set() if keep is None else keep
        self.entries: _Listing | None = None  # the listing being read (os.scandir)
        self.acted = False  # this pass of the listing removed or entered something

    def close(self) -> None:
        if self.entries is not None:
            self.entries.close()
        os.close(self.dir.fd)


class Tree:
    """A jail root, opened once; every path given is absolute inside the jail."""

    def __init__(self, root: str, create: bool = True) -> None:
        if not os.path.isabs(root) or os.path.normpath(root) != root or root == "/":
            raise TreeError(f"{root!r}: not a usable jail root")
        if create:
            os.makedirs(root, mode=0o755, exist_ok=True)
        try:
            self.fd = os.open(root, _DIR_FLAGS)
        except OSError as exc:
            raise TreeError(f"{root}: cannot open the jail root: {exc.strerror}") from exc
        self.root = root
        self.mnt = mount_id(self.fd)
        self.dev = os.fstat(self.fd).st_dev
        self.swept: set[str] = set()

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def host_path(self, path: str) -> str:
        return self.root + path

    def _same_mount(self, fd: int, path: str) -> None:
        if mount_id(fd) != self.mnt or os.fstat(fd).st_dev != self.dev:
            raise TreeError(f"{self.host_path(path)}: is a mount point; jailmgr never works through a mount")

    @contextlib.contextmanager
    def _parent(self, path: str, create: bool) -> Iterator[tuple[_Dir, str] | None]:
        """Open the directory holding `path`, one component at a time, never following a symlink."""
        parts = _components(path)
        fd = os.dup(self.fd)
        walked = ""
        try:
            for part in parts[:-1]:
                walked += "/" + part
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        yield None
                        return
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    if not create:
                        yield None
                        return
                    # Not a directory (a symlink, a file): replace the entry itself.
                    _Dir(fd, self.host_path(walked)).remove(part)
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
                self._same_mount(fd, walked)
            parent = _Dir(fd, self.host_path(walked or "/"))
            if create and walked not in self.swept:
                parent.sweep_temps()
                self.swept.add(walked)
            yield parent, parts[-1]
        finally:
            os.close(fd)

    def ensure_dir(self, path: str, mode: int, uid: int, gid: int) -> bool:
        """Make `path` a directory with this mode and owner; True when anything changed."""
        with self._parent(path, create=True) as found:
            assert found is not None
            parent, name = found
            st = parent.stat(name)
            changed = False
            if st is not None and not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=parent.fd)
                st = None
            if st is None:
                os.mkdir(name, 0o700, dir_fd=parent.fd)
                changed = True
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent.fd)
            try:
                self._same_mount(fd, path)
                st = os.fstat(fd)
                if (st.st_uid, st.st_gid) != (uid, gid):
                    os.fchown(fd, uid, gid)
                    changed = True
                if stat.S_IMODE(st.st_mode) != mode or changed:
                    os.fchmod(fd, mode)
                    changed = True
            finally:
                os.close(fd)
            return changed

    def ensure_file(self, path: str, data: bytes, mode: int, uid: int, gid: int) -> bool:
        """Make `path` a regular file holding exactly `data`; True when it was (re)written."""
        with self._parent(path, create=True) as found:
            assert found is not None
            parent, name = found
            if parent.file_matches(name, data, mode, uid, gid):
                return False
            parent.replace_file(name, data, mode, uid, gid)
            return True

    def write_stream(self, path: str, chunks: Iterable[bytes], mode: int, uid: int, gid: int) -> None:
        """Make `path` a new regular file of these chunks (for data too large to hold in memory)."""
        with self._parent(path, create=True) as found:
            assert found is not None
            parent, name = found
            parent.replace_file(name, chunks, mode, uid, gid)

    def ensure_symlink(self, path: str, target: str) -> bool:
        """Make `path` a symlink to `target` (never followed here); True when it changed."""
        with self._parent(path, create=True) as found:
            assert found is not None
            parent, name = found
            st = parent.stat(name)
            if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(name, dir_fd=parent.fd) == target:
                return False
            if st is not None and stat.S_ISDIR(st.st_mode):
                parent.remove(name)
            temp = f".{name[:64]}{TEMP_MARK}{os.urandom(6).hex()}"
            os.symlink(target, temp, dir_fd=parent.fd)
            os.rename(temp, name, src_dir_fd=parent.fd, dst_dir_fd=parent.fd)
            return True

    def ensure_hardlink(self, path: str, existing: str) -> bool:
        """Make `path` another name of the tree's regular file `existing`."""
        with self._parent(existing, create=False) as src:
            if src is None:
                raise TreeError(f"{self.host_path(existing)}: missing, can't link to it")
            sdir, sname = src
            sst = sdir.stat(sname)
            if sst is None or not stat.S_ISREG(sst.st_mode):
                raise TreeError(f"{self.host_path(existing)}: not a regular file, can't link to it")
            with self._parent(path, create=True) as found:
                assert found is not None
                parent, name = found
                st = parent.stat(name)
                if st is not None and (st.st_dev, st.st_ino) == (sst.st_dev, sst.st_ino):
                    return False
                if st is not None and stat.S_ISDIR(st.st_mode):
                    parent.remove(name)
                temp = f".{name[:64]}{TEMP_MARK}{os.urandom(6).hex()}"
                os.link(sname, temp, src_dir_fd=sdir.fd, dst_dir_fd=parent.fd, follow_symlinks=False)
                os.rename(temp, name, src_dir_fd=parent.fd, dst_dir_fd=parent.fd)
                return True

    def lstat(self, path: str) -> os.stat_result | None:
        """The entry itself (never what a link points at); None when it, or a directory above it, is missing."""
        with self._parent(path, create=False) as found:
            if found is None:
                return None
            parent, name = found
            return parent.stat(name)

    def lstat_many(self, paths: Iterable[str]) -> dict[str, os.stat_result | None]:
        """lstat(path) of each path, each directory on the way opened once however many of the paths lie
        below it (as _parent opens it: one component at a time, never through a link or a mount).  The paths
        are taken in tree order, so only the directories above the current one are open at a time."""
        out: dict[str, os.stat_result | None] = {}
        names: list[str] = []  # the directories above the current path, by name, and their descriptors
        fds: list[int | None] = []
        try:
            for parts, path in sorted((_components(path), path) for path in paths):
                depth = len(parts) - 1
                keep = 0
                while keep < len(names) and keep < depth and names[keep] == parts[keep]:
                    keep += 1
                while len(names) > keep:
                    names.pop()
                    closing = fds.pop()
                    if closing is not None:
                        os.close(closing)
                fd = fds[-1] if fds else self.fd
                for part in parts[keep:depth]:
                    nfd = None
                    if fd is not None:
                        try:
                            nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                        except OSError as exc:
                            if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                                raise
                    names.append(part)
                    fds.append(nfd)
                    if nfd is not None:
                        self._same_mount(nfd, "/" + "/".join(names))
                    fd = nfd
                if fd is None:
                    out[path] = None
                    continue
                try:
                    out[path] = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    out[path] = None
        finally:
            for fd in fds:
                if fd is not None:
                    os.close(fd)
        return out

    def matches(self, path: str, kind: str, data: bytes, mode: int, uid: int, gid: int) -> bool:
        """Read-only check that `path` is what it should be (for plan and drift)."""
        with self._parent(path, create=False) as found:
            if found is None:
                return False
            parent, name = found
            if kind != "dir":
                return parent.file_matches(name, data, mode, uid, gid)
            st = parent.stat(name)
            return (st is not None and stat.S_ISDIR(st.st_mode)
                    and (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, uid, gid))

    def digest(self, path: str) -> str:
        """The sha256 of the regular file at `path` with a single link ("" otherwise), read without blocking."""
        from .digest import hasher

        with self._parent(path, create=False) as found:
            if found is None:
                return ""
            parent, name = found
            try:
                fd = open_regular(name, dir_fd=parent.fd)
            except OSError:
                return ""
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                    return ""
                sha = hasher()
                for chunk in iter(lambda: os.read(fd, 1 << 20), b""):
                    sha.update(chunk)
                return sha.hexdigest()
            finally:
                os.close(fd)

    def remove(self, path: str) -> list[str]:
        """Remove one path (recursively), never through a symlink or a mount; returns what was left."""
        with self._parent(path, create=False) as found:
            if found is None:
                return []
            parent, name = found
            return parent.remove(name)

    def walk(self, max_depth: int = WALK_DEPTH) -> Iterator[tuple[str, os.stat_result, bool]]:
        """Every entry of the tree, read-only: (jail path, lstat, walked).

        Iterative and streaming, from directory fds: never follows a symlink,
        never enters a mount point, and goes at most `max_depth` directories
        down; `walked` is False for a directory that was not entered (too deep,
        a mount point, or unreadable), so the caller can say so.
        """
        stack: list[tuple[int, str, _Listing]] = []
        top = os.dup(self.fd)
        stack.append((top, "", os.scandir(top)))
        try:
            while stack:
                fd, path, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    entries.close()
                    os.close(fd)
                    stack.pop()
                    continue
                try:
                    st = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                inside = f"{path}/{entry.name}"
                if not stat.S_ISDIR(st.st_mode):
                    yield inside, st, True
                    continue
                cfd = -1
                if len(stack) <= max_depth:
                    try:
                        cfd = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                        if mount_id(cfd) != self.mnt or os.fstat(cfd).st_dev != self.dev:
                            os.close(cfd)
                            cfd = -1
                    except OSError:
                        cfd = -1
                yield inside, st, cfd >= 0
                if cfd >= 0:
                    stack.append((cfd, inside, os.scandir(cfd)))
        finally:
            for fd, _, entries in stack:
                entries.close()
                os.close(fd)

    def remove_all(self) -> list[str]:
        """Empty the tree; the caller removes the root directory itself."""
        top = _Dir(self.fd, self.root)
        left = []
        for entry in os.listdir(self.fd):
            left += top.remove(entry)
        return left


def remove_root(root: str) -> list[str]:
    """Remove a jail root and everything in it that is safe to remove; returns what was left."""
    try:
        tree = Tree(root, create=False)
    except TreeError:
        return [] if not os.path.lexists(root) else [f"{root}: not a directory; left in place"]
    with tree:
        left = tree.remove_all()
    if not left:
        os.rmdir(root)
    return left


def host_symlink(path: str) -> str:
    """The first existing component of an absolute host path that is a symlink ("" when none).

    Walked from / one component at a time with O_NOFOLLOW (what openat2's
    RESOLVE_NO_SYMLINKS does); a missing component ends the walk.
    """
    parts = [p for p in path.split("/") if p]
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = ""
    try:
        for index, part in enumerate(parts):
            walked += "/" + part
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return ""
            if stat.S_ISLNK(st.st_mode):
                return walked
            if index == len(parts) - 1 or not stat.S_ISDIR(st.st_mode):
                return ""
            nfd = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return ""
    finally:
        os.close(fd)
