"""Red team 6, the pure parts: the ELF reader on files a jail wrote (tests/integration/test_redteam6.py runs
them in a real jail).  apply, as root, reads every ELF file a package lists, some below places a jail
writes; the reader must do work bounded by what a real binary has, whatever the file says.  (Counted, not
timed: the bytes read and the paths looked up.)"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from jailmgr import elf, render, spec
from jailmgr.host import Host, HostPackages
from tests.fakehost import GROUP, PASSWD, SHADOW, fake_host
from tests.test_redteam3_units import Rt3Libraries, Rt3Packages


def hostile(needed: int, length: int, dirs: int = 0, strsz: int | None = None, pad: int = 0) -> bytes:
    """An x86-64 shared object (one PT_LOAD over the file, a PT_DYNAMIC): `needed` DT_NEEDED entries naming
    distinct suffixes of one string of `length` 'A's, a DT_RUNPATH of `dirs` directories when dirs > 0, and
    DT_STRSZ when given (what redteam6_probe.c writes from inside the jail)."""
    ehsize, phsize = 64, 56
    dyn_off = ehsize + 2 * phsize
    n_dyn = needed + (dirs > 0) + (strsz is not None) + 2
    str_off = dyn_off + 16 * n_dyn
    strtab = b"\0" + b"A" * length + b"\0"
    runpath_at = len(strtab)
    if dirs:
        strtab += b":".join(b"/x%d" % i for i in range(dirs)) + b"\0"
    dyn = b"".join(struct.pack("<qQ", 1, 1 + i % max(length, 1)) for i in range(needed))
    if dirs:
        dyn += struct.pack("<qQ", 29, runpath_at)
    if strsz is not None:
        dyn += struct.pack("<qQ", 10, strsz)
    dyn += struct.pack("<qQ", 5, str_off) + struct.pack("<qQ", 0, 0)
    size = str_off + len(strtab) + pad
    header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
              + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 64, 0, 0))
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, size, size, 0x1000)
    dynh = struct.pack("<IIQQQQQQ", 2, 6, dyn_off, dyn_off, dyn_off, 16 * n_dyn, 16 * n_dyn, 8)
    return header + load + dynh + dyn + strtab


def write(tmp_path: Path, data: bytes, name: str = "plugin.so") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(("needed", "length", "dirs", "said"), [
    pytest.param(100_000, 1_000_000, 0, "dynamic entries", id="a-gigabyte-of-sonames"),
    pytest.param(elf.MAX_NEEDED + 1, 64, 0, "needed libraries", id="too-many-needed"),
    pytest.param(10, 64, elf.MAX_SEARCH + 1, "search directories", id="too-many-search-directories"),
    pytest.param(1, elf.MAX_STRING + 1, 0, "malformed", id="a-soname-longer-than-path-max"),
])
def test_an_elf_file_larger_than_any_real_binary_is_refused(tmp_path: Path, needed: int, length: int, dirs: int,
                                                           said: str) -> None:
    """Was: every entry and every string taken as the file says; 100,000 DT_NEEDED entries naming suffixes of
    one 1 MB string (a 2.6 MB file) made apply keep 50 GB of sonames (MemoryError under 2 GiB)."""
    with pytest.raises(elf.ElfError, match=said):
        elf.read_elf(write(tmp_path, hostile(needed, length, dirs)))


def test_the_string_table_is_read_a_string_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DT_STRSZ of a gigabyte over a sparse file the jail made: the reader reads a soname, not the table."""
    path = write(tmp_path, hostile(4, 16, strsz=elf.MAX_ELF - 4096))
    os.truncate(path, elf.MAX_ELF - 1)  # (sparse: costs no disk)
    read: list[int] = []
    real = os.pread

    def counting(fd: int, size: int, offset: int) -> bytes:
        read.append(size)
        return real(fd, size, offset)

    monkeypatch.setattr(elf.os, "pread", counting)
    info = elf.read_elf(path)
    assert len(info.needed) == 4
    assert sum(read) < 64 << 10, f"read {sum(read)} bytes of a file with four sonames"


def test_the_resolvers_lookups_are_bounded_by_what_a_real_binary_has(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Within every limit (MAX_NEEDED sonames, MAX_SEARCH directories) the lookups are their product at most.
    Was: 20,000 sonames times 20,000 DT_RUNPATH directories (a 0.5 MB file), 400 million stat calls."""
    path = write(tmp_path, hostile(elf.MAX_NEEDED, 2 * elf.MAX_NEEDED, elf.MAX_SEARCH))
    looked: list[str] = []
    monkeypatch.setattr(elf.os.path, "exists", lambda p: looked.append(p) is not None)
    found, missing = elf.Resolver({}).closure(path)
    assert not found and len(missing) == elf.MAX_NEEDED
    assert len(looked) <= elf.MAX_NEEDED * (elf.MAX_SEARCH + len(elf.DEFAULT_DIRS))


def test_a_closure_of_more_libraries_than_any_binary_needs_is_refused(tmp_path: Path) -> None:
    """Five libraries the jail wrote, each needing a thousand others of its own (each file within every
    limit): the closure would look up sonames file after file; it refuses beyond MAX_CLOSURE of them."""
    def needing(names: list[str]) -> bytes:
        strtab, offsets = b"\0", []
        for n in names:
            offsets.append(len(strtab))
            strtab += n.encode() + b"\0"
        runpath_at = len(strtab)
        return _object(offsets, runpath_at, strtab + str(tmp_path).encode() + b"\0")

    tops = [f"lib{i}.so" for i in range(5)]
    for i, n in enumerate(tops):
        (tmp_path / n).write_bytes(needing([f"lib{i}-{j}.so" for j in range(elf.MAX_NEEDED - 24)]))
    with pytest.raises(elf.ElfError, match="libraries needed"):
        elf.Resolver({}).closure(write(tmp_path, needing(tops), "top"))


def _object(offsets: list[int], runpath_at: int, strtab: bytes) -> bytes:
    ehsize, phsize = 64, 56
    dyn_off = ehsize + 2 * phsize
    n_dyn = len(offsets) + 3
    str_off = dyn_off + 16 * n_dyn
    dyn = b"".join(struct.pack("<qQ", 1, o) for o in offsets)
    dyn += struct.pack("<qQ", 29, runpath_at) + struct.pack("<qQ", 5, str_off) + struct.pack("<qQ", 0, 0)
    size = str_off + len(strtab)
    header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
              + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 64, 0, 0))
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, size, size, 0x1000)
    dynh = struct.pack("<IIQQQQQQ", 2, 6, dyn_off, dyn_off, dyn_off, 16 * n_dyn, 16 * n_dyn, 8)
    return header + load + dynh + dyn + strtab


# --- what a package's ELF file names is bound only when others may read it -----------------------------

VENDOR = "/opt/vendor/lib/libvendor.so"  # a root-only library on the host (0600 in a 0700 directory)


class NamingLibraries(Rt3Libraries):
    """plugin.so (the jail below whose rw mount it lies wrote it) names VENDOR by its absolute path."""

    def closure(self, binary: str) -> tuple[list[str], list[str]]:
        libs, missing = super().closure(binary)
        return ([*libs, VENDOR] if binary == "/opt/rt3pkg/data/plugin.so" else libs), missing


class PrivatePlugin(Rt3Packages):
    def __init__(self, private: set[str]) -> None:
        self.hidden = private

    def private(self, path: str) -> bool:
        return path in self.hidden


@pytest.mark.parametrize("hidden", [pytest.param({VENDOR}, id="public-plugin"),
                                    pytest.param({VENDOR, "/opt/rt3pkg/data/plugin.so"}, id="private-plugin")])
def test_a_library_others_may_not_read_is_never_bound_whoever_names_it(tmp_path: Path, hidden: set[str]) -> None:
    """Another jail writes the package's plugin.so (below its rw mount) as an ELF file needing VENDOR and makes
    it 0600: not bound itself (private), it was still read, and every library it named was bound read-only
    into this jail without a look at who may read it (tests/integration/test_redteam6.py: the jail's root
    read the host's root-only file).  A private file is not read as ELF, and a private library not bound."""
    host = Host(252, fake_host().tools, PASSWD, GROUP, NamingLibraries(), SHADOW, packages=PrivatePlugin(hidden))
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nexec: [/usr/sbin/rt3d]\ntree: {packages: [rt3pkg]}\n")
    loaded = spec.load_or_raise([str(path)])[0]
    item, problems = render.render(loaded, host)
    assert item is not None, problems
    assert VENDOR not in {b.source for b in item.contents.binds}
    assert VENDOR not in item.contents.entries


# --- a name the jail wrote opens nothing but a regular file -------------------------------------------

IN_OPEN, IN_NONBLOCK = 0x20, 0o4000


def opened(path: str, action: Callable[[], object]) -> bool:
    """Whether `action` opened the file at `path` (inotify's IN_OPEN; an O_PATH descriptor is no open)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(IN_NONBLOCK)
    assert fd >= 0
    try:
        assert libc.inotify_add_watch(fd, path.encode(), IN_OPEN) >= 0
        action()
        try:
            return bool(os.read(fd, 4096))
        except BlockingIOError:
            return False
    finally:
        os.close(fd)


def test_a_fifo_a_jail_names_is_never_opened(tmp_path: Path) -> None:
    """A module the jail wrote needs a FIFO it made (or /dev/watchdog: opened and closed without its magic
    word, the host reboots) by its absolute path.  read_elf opened it O_RDONLY | O_NONBLOCK as root and only
    then saw that it was no regular file: the driver ran, and a writer the jail had waiting in open() was
    let go.  Now the path is opened O_PATH first, and only a regular file is opened for reading."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    module = write(tmp_path, _object([1], 1, b"\0" + str(fifo).encode() + b"\0"))

    def resolve() -> None:
        with pytest.raises(elf.ElfError):
            elf.Resolver({}).closure(module)

    assert not opened(str(fifo), resolve)
    assert not opened(str(fifo), lambda: HostPackages().is_elf(str(fifo)))
    assert opened(module, lambda: elf.read_elf(module))  # (the watch sees a real open)


@pytest.mark.parametrize("field", ["interp", "phentsize"])
def test_a_header_that_claims_a_gigabyte_is_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          field: str) -> None:
    """A sparse file the jail made (no disk spent) whose PT_INTERP is as long as the file, or whose program
    headers are 65535 bytes each: the reader read it all (a gigabyte a file; MemoryError under a 2 GiB limit).
    Now the interpreter's name is read up to MAX_STRING, and only the program header size ld.so accepts."""
    ehsize, phsize, size = 64, 56, elf.MAX_ELF - 1
    if field == "interp":
        header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
                  + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, ehsize, 0, 0, ehsize, phsize, 1, 64, 0, 0))
        data = header + struct.pack("<IIQQQQQQ", 3, 4, 4096, 0, 0, size - 4096, size - 4096, 1)
    else:
        header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
                  + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, ehsize, 0, 0, ehsize, 65535, 65535, 64, 0, 0))
        data = header
    path = write(tmp_path, data)
    os.truncate(path, size)
    read: list[int] = []
    real = os.pread

    def counting(fd: int, want: int, offset: int) -> bytes:
        read.append(want)
        return real(fd, want, offset)

    monkeypatch.setattr(elf.os, "pread", counting)
    with contextlib.suppress(elf.ElfError):
        elf.read_elf(path)
    assert sum(read) < 64 << 10, f"read {sum(read)} bytes of a sparse file's headers"


def test_a_fifo_in_a_tree_is_never_opened_by_its_digest_or_comparison(tmp_path: Path) -> None:
    """A jail swaps a declared file for a FIFO: plan, status and the no-op read the tree (Tree.digest,
    file_matches) without opening it, which would tell the jail when jailmgr runs."""
    from jailmgr.safefs import Tree

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    fifo = root / "etc" / "conf"
    os.mkfifo(fifo)
    with Tree(str(root), create=False) as tree:
        assert not opened(str(fifo), lambda: tree.digest("/etc/conf"))
        assert tree.digest("/etc/conf") == ""
        assert not opened(str(fifo), lambda: tree.matches("/etc/conf", "file", b"", 0o644, os.getuid(),
                                                         os.getgid()))


def test_a_file_swapped_for_a_fifo_after_it_was_looked_at_is_not_opened(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The jail wins the race between the lstat of a declared file and its opening: a FIFO is there now."""
    from jailmgr import safefs

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    conf = root / "etc" / "conf"
    conf.write_bytes(b"x")
    conf.chmod(0o644)
    seen = os.lstat(conf)  # (what the lstat saw, before the swap)
    conf.unlink()
    os.mkfifo(conf)
    monkeypatch.setattr(safefs._Dir, "stat", lambda self, name: seen)
    with safefs.Tree(str(root), create=False) as tree:
        assert not opened(str(conf), lambda: tree.matches("/etc/conf", "file", b"x", 0o644, seen.st_uid,
                                                          seen.st_gid))
