"""Find the shared libraries an executable needs by reading ELF headers.

Never by running ``ldd``: ldd executes the dynamic loader on the file, and a
jail's binaries are not to be run on the host to learn about them.  This is
a small reader of our own rather than python3-pyelftools: we need four fields
(PT_INTERP, DT_NEEDED, DT_RUNPATH, DT_RPATH), and reading them with ``struct``
is ~30x faster than pyelftools and imports nothing (see bench/elf_bench.py).

Resolution follows ld.so(8): DT_RPATH (when there is no DT_RUNPATH), then
DT_RUNPATH, then /etc/ld.so.cache, then the default directories.  Every
library found is read in turn (transitively); the result maps each soname to
the host path the loader would open.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable
from dataclasses import field

from . import safefs
from .quickdata import dataclass

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 15, 29
LD_SO_CACHE = "/etc/ld.so.cache"
_CACHE_MAGIC = b"glibc-ld.so.cache1.1"


class ElfError(Exception):
    pass


@dataclass
class ElfInfo:
    path: str
    machine: int
    elf_class: int
    interp: str | None = None
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)


MAX_ELF = 1 << 30  # read no more of a file than the largest library there is (libLLVM: 120 MB)
# What a real binary has, many times over: a file a jail wrote (a package's module below a place it writes)
# is read too, and its sonames times its search directories are what the resolver stats.  Beyond these it is
# refused (ElfError), never read on.
MAX_DYNAMIC = 4096  # entries of the dynamic section (a library has tens, and one per needed soname)
MAX_NEEDED = 1024  # DT_NEEDED entries (Debian's most: a few hundred)
MAX_SEARCH = 64  # directories of DT_RPATH and DT_RUNPATH together
MAX_STRING = 4096  # a soname or a search path (PATH_MAX)
MAX_CLOSURE = 4096  # sonames looked up for one binary, all its libraries' together


def open_regular(path: str) -> int:
    """A descriptor to read the regular file at `path` (links followed, as the loader does); ElfError for
    anything else, which is never opened (safefs.open_regular: a name a jail wrote may lead to /dev/watchdog,
    which reboots the host once opened and closed unless told otherwise, or to a FIFO)."""
    try:
        return safefs.open_regular(path, follow=True)
    except safefs.NotRegular as exc:
        raise ElfError(f"{path}: not a regular file") from exc


def read_elf(path: str) -> ElfInfo:
    """Read an ELF file's loader, needed sonames and search paths (only the parts that hold them: a
    library is megabytes, its headers and dynamic strings a few KiB)."""
    # A regular file only: a name could lead to /dev/zero or a FIFO (a module below a place a jail writes), which
    # would be read forever.  Read with pread, never mapped: a file a jail can truncate would turn a mapped read
    # into SIGBUS.
    fd = open_regular(path)
    try:
        st = os.fstat(fd)
        if st.st_size > MAX_ELF:
            raise ElfError(f"{path}: larger than any library ({st.st_size} bytes)")

        def read(offset: int, size: int) -> bytes:
            """At most `size` bytes at `offset` (fewer at the end of the file: the unpacking then fails)."""
            if offset < 0 or size < 0:
                raise ValueError("negative offset or size")
            return os.pread(fd, max(0, min(size, st.st_size - offset)), offset) if offset < st.st_size else b""

        return _parse(path, read)
    finally:
        os.close(fd)


def _parse(path: str, read: Callable[[int, int], bytes]) -> ElfInfo:
    head = read(0, 64)
    if head[:4] != b"\x7fELF":
        raise ElfError(f"{path}: not an ELF file")
    klass, endian = head[4], head[5]
    if klass not in (1, 2) or endian not in (1, 2):
        raise ElfError(f"{path}: unsupported ELF class or byte order")
    e = "<" if endian == 1 else ">"
    is64 = klass == 2
    try:
        if is64:
            machine, = struct.unpack_from(e + "H", head, 18)
            phoff, = struct.unpack_from(e + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(e + "HH", head, 54)
            phfmt, dynfmt = e + "IIQQQQQQ", e + "qQ"
        else:
            machine, = struct.unpack_from(e + "H", head, 18)
            phoff, = struct.unpack_from(e + "I", head, 28)
            phentsize, phnum = struct.unpack_from(e + "HH", head, 42)
            phfmt, dynfmt = e + "IIIIIIII", e + "iI"
        info = ElfInfo(path, machine, klass)
        loads: list[tuple[int, int, int]] = []
        dynamic: tuple[int, int] | None = None
        if phentsize != struct.calcsize(phfmt):  # (ld.so refuses any other size: "phentsize not the expected")
            raise ElfError(f"{path}: program headers of {phentsize} bytes")
        headers = read(phoff, phnum * phentsize)  # (at most 65535 of them: 3.5 MiB)
        for i in range(phnum):
            ph = struct.unpack_from(phfmt, headers, i * phentsize)
            if is64:
                ptype, _flags, offset, vaddr, _paddr, filesz = ph[:6]
            else:
                ptype, offset, vaddr, _paddr, filesz = ph[:5]
            if ptype == PT_INTERP:
                info.interp = read(offset, min(filesz, MAX_STRING)).split(b"\0")[0].decode()
            elif ptype == PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif ptype == PT_DYNAMIC:
                dynamic = (offset, filesz)
        if dynamic is None:
            return info  # statically linked
        entries: list[tuple[int, int]] = []
        step = struct.calcsize(dynfmt)
        section = read(dynamic[0], min(dynamic[1], (MAX_DYNAMIC + 1) * step))
        for pos in range(0, min(dynamic[1], len(section) + step), step):
            tag, val = struct.unpack_from(dynfmt, section, pos)
            if tag == DT_NULL:
                break
            if len(entries) == MAX_DYNAMIC:
                raise ElfError(f"{path}: more than {MAX_DYNAMIC} dynamic entries")
            entries.append((tag, val))
        strtab_vaddr = next((v for t, v in entries if t == DT_STRTAB), None)
        if strtab_vaddr is None:
            raise ElfError(f"{path}: dynamic section without a string table")
        strtab = _vaddr_to_offset(strtab_vaddr, loads, path)
        # DT_STRSZ says how long the table is; without it, the rest of the file.  Each string is read alone
        # (at most MAX_STRING bytes): the table also holds every symbol's name, megabytes in a large library.
        strsz = next((v for t, v in entries if t == DT_STRSZ), MAX_ELF)

        def string(off: int) -> str:
            if off >= strsz:
                raise ElfError(f"{path}: a string beyond the string table")
            text = read(strtab + off, min(MAX_STRING + 1, strsz - off))
            end = text.index(b"\0")  # (ValueError: none within MAX_STRING bytes)
            return text[:end].decode("utf-8", "surrogateescape")

        if sum(t == DT_NEEDED for t, _ in entries) > MAX_NEEDED:
            raise ElfError(f"{path}: more than {MAX_NEEDED} needed libraries")
        for tag, val in entries:
            if tag == DT_NEEDED:
                info.needed.append(string(val))
            elif tag == DT_RPATH:
                info.rpath.extend(string(val).split(":"))
            elif tag == DT_RUNPATH:
                info.runpath.extend(string(val).split(":"))
            if len(info.rpath) + len(info.runpath) > MAX_SEARCH:
                raise ElfError(f"{path}: more than {MAX_SEARCH} library search directories")
        return info
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ElfError(f"{path}: malformed ELF file ({exc})") from exc


def _vaddr_to_offset(vaddr: int, loads: list[tuple[int, int, int]], path: str) -> int:
    for start, offset, size in loads:
        if start <= vaddr < start + size:
            return offset + (vaddr - start)
    raise ElfError(f"{path}: address {vaddr:#x} is in no loaded segment")


def read_ld_cache(path: str = LD_SO_CACHE) -> dict[str, list[str]]:
    """Parse glibc's ld.so.cache (the "new" format): soname -> candidate paths."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    start = data.find(_CACHE_MAGIC)
    if start < 0:
        return {}
    # ldconfig writes the cache in the machine's own byte order (its flags byte says which since
    # glibc 2.33): read as little-endian, s390x's cache would be nonsense.
    nlibs, = struct.unpack_from("=I", data, start + 20)
    entries = start + 48  # magic(20) + nlibs(4) + len_strings(4) + flags(1) + pad(3) + extension(4) + unused(12)
    out: dict[str, list[str]] = {}

    def cstr(off: int) -> str:
        # String offsets in the new format are relative to the new header.
        end = data.index(b"\0", start + off)
        return data[start + off:end].decode("utf-8", "surrogateescape")

    for i in range(nlibs):
        _flags, key, value, _osv, _hwcap = struct.unpack_from("=iIIIQ", data, entries + i * 24)
        out.setdefault(cstr(key), []).append(cstr(value))
    return out


# ld.so's built-in directories, searched after the cache.  Debian's glibc puts the machine's
# multiarch ones first: the triplet its python3 is built for (x86_64-linux-gnu, aarch64-linux-gnu...).
_TRIPLET = getattr(sys.implementation, "_multiarch", "")
DEFAULT_DIRS = (*((f"/lib/{_TRIPLET}", f"/usr/lib/{_TRIPLET}") if _TRIPLET else ()), "/lib64", "/usr/lib64",
                "/lib", "/usr/lib")


class Resolver:
    """Resolve sonames the way ld.so does, for one machine type."""

    def __init__(self, cache: dict[str, list[str]] | None = None) -> None:
        self.cache = read_ld_cache() if cache is None else cache
        self._info: dict[str, ElfInfo] = {}

    def info(self, path: str) -> ElfInfo:
        if path not in self._info:
            self._info[path] = read_elf(path)
        return self._info[path]

    def _compatible(self, path: str, want: ElfInfo) -> bool:
        try:
            info = self.info(path)
        except (OSError, ElfError):
            return False
        return info.machine == want.machine and info.elf_class == want.elf_class

    def find(self, soname: str, needer: ElfInfo) -> str | None:
        if "/" in soname:
            return soname if os.path.exists(soname) else None
        origin = os.path.dirname(needer.path)
        dirs = [] if needer.runpath else list(needer.rpath)
        dirs += needer.runpath
        dirs = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in dirs if d]
        for d in dirs:
            cand = os.path.join(d, soname)
            if os.path.exists(cand) and self._compatible(cand, needer):
                return cand
        for cand in self.cache.get(soname, []):
            if os.path.exists(cand) and self._compatible(cand, needer):
                return cand
        for d in DEFAULT_DIRS:
            cand = os.path.join(d, soname)
            if os.path.exists(cand) and self._compatible(cand, needer):
                return cand
        return None

    def closure(self, binary: str) -> tuple[list[str], list[str]]:
        """Every library path (as the loader opens it) a binary needs, and sonames not found.

        The interpreter comes first, under the path PT_INTERP names.
        """
        top = self.info(binary)
        found: list[str] = []
        missing: list[str] = []
        if top.interp:
            found.append(top.interp)
        queue = [top]
        # The loader is already mapped as PT_INTERP; libc's DT_NEEDED entry for
        # it is satisfied by that copy, so it is not looked up a second time.
        seen: set[str] = {os.path.basename(top.interp)} if top.interp else set()
        while queue:
            info = queue.pop(0)
            for soname in info.needed:
                if soname in seen:
                    continue
                if len(seen) >= MAX_CLOSURE:
                    raise ElfError(f"{binary}: more than {MAX_CLOSURE} libraries needed")
                seen.add(soname)
                path = self.find(soname, info)
                if path is None:
                    missing.append(soname)
                    continue
                if path not in found:
                    found.append(path)
                queue.append(self.info(path))
        return found, missing
