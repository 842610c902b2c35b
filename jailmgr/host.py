"""The host as one command sees it: read once (Host.read), then handed to every step.

Rendering a jail depends on the machine in a few ways only: the systemd
version (some directives differ), which tools are installed (bubblewrap,
iproute2), the users and groups, and which libraries each binary needs.
They are all here, read at one moment, so no step looks at the machine again
and decides differently; tests build a Host of their own to render for a
systemd 252 or 257 machine with any architecture's libraries, on any machine.
What the preflight (preflight.py) asks of the disk, and where a program's
name is found on PATH when a jail names it in the wrong place, are views of
the Host too, read when first asked.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import field
from typing import Protocol

from . import elf, safefs
from .paths import BWRAP, IP, LOCALES, LOCALTIME, ZONEINFO, systemd_version
from .quickdata import dataclass

TEMPLATE_DIRS = ("/etc/jailmgr/templates", "/usr/share/jailmgr/templates")
TOOLS = (BWRAP, IP)  # the host tools whose presence decides what is refused
RUNTIME_PATHS = (ZONEINFO, LOCALTIME, LOCALES)  # what a jail's `runtime:` binds from the host, refused when absent
Db = Mapping[str, tuple[str, ...]]  # passwd, group or shadow: name -> the line's fields


class Libraries(Protocol):
    """What the tree's libraries are: the loader's view of the binaries (elf.Resolver on a real host)."""

    def closure(self, binary: str) -> tuple[list[str], list[str]]:
        """Every library path the binary needs (the interpreter first), and the sonames not found."""

    def pam_dirs(self, libpam: str) -> list[str]:
        """The directories libpam loads its modules from (compiled into it), the most specific first."""

    def exists(self, path: str) -> bool: ...


class HostLibraries:
    """The real host's: ELF headers and ld.so.cache, read on first use (a no-op apply renders nothing)."""

    def __init__(self) -> None:
        self._resolver: elf.Resolver | None = None

    @property
    def resolver(self) -> elf.Resolver:
        if self._resolver is None:
            self._resolver = elf.Resolver()
        return self._resolver

    def closure(self, binary: str) -> tuple[list[str], list[str]]:
        return self.resolver.closure(binary)

    def pam_dirs(self, libpam: str) -> list[str]:
        with open(libpam, "rb") as f:
            named = re.findall(rb"\x00(/[\w/.+-]*/security)/?\x00", f.read())
        # libpam names its multiarch directory and the old /lib/security: the multiarch one (the longer) first.
        return sorted({d.decode() for d in named}, key=len, reverse=True)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)


class Packages(Protocol):
    """The Debian packages installed, as dpkg's database says (HostPackages on a real host)."""

    def installed(self) -> frozenset[str]:
        """Names of the packages dpkg has installed (for did-you-mean)."""

    def files(self, name: str) -> tuple[str, ...] | None:
        """Every path the package put on the host (dirs included), None when it is not installed."""

    def list_path(self, name: str) -> str:
        """The file dpkg keeps that list in: rewritten by every upgrade of the package."""

    def below(self, directory: str) -> list[str]:
        """Every path below a directory as it is on the disk now (without following symlinks)."""

    def is_elf(self, path: str) -> bool:
        """A regular file that starts with the ELF magic."""

    def is_dir(self, path: str) -> bool:
        """A directory (not a symlink to one)."""

    def private(self, path: str) -> bool:
        """Not readable by others (a key, a password file), or in a directory others may not pass: never
        bound into a jail from a package."""

    def resolve(self, path: str) -> str:
        """Where the path leads on the host now (its symlinks followed)."""


DPKG_INFO = "/var/lib/dpkg/info"
DPKG_STATUS = "/var/lib/dpkg/status"


class HostPackages:
    """dpkg's database, read on first use (only jails with tree.packages pay for it)."""

    def __init__(self, info: str = DPKG_INFO, status: str = DPKG_STATUS) -> None:
        self.info, self.status = info, status
        self._installed: frozenset[str] | None = None
        self._passable_dirs: dict[str, bool] = {}

    def installed(self) -> frozenset[str]:
        if self._installed is None:
            names, name = set(), ""
            try:
                with open(self.status, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        if line.startswith("Package: "):
                            name = line[9:].strip()
                        elif line.startswith("Status: ") and line.split()[-1] == "installed":
                            names.add(name)
            except OSError:
                pass
            self._installed = frozenset(names)
        return self._installed

    def list_path(self, name: str) -> str:
        plain = os.path.join(self.info, f"{name}.list")
        if ":" in name or os.path.exists(plain):
            return plain
        # A Multi-Arch: same package keeps its list as NAME:ARCH.list.
        found = sorted(e for e in os.listdir(self.info) if e.startswith(f"{name}:") and e.endswith(".list"))
        return os.path.join(self.info, found[0]) if found else plain

    def files(self, name: str) -> tuple[str, ...] | None:
        if name.split(":")[0] not in self.installed():
            return None
        try:
            with open(self.list_path(name), encoding="utf-8", errors="surrogateescape") as f:
                return tuple(line.rstrip("\n") for line in f if line.startswith("/") and line.strip() != "/.")
        except OSError:
            return None

    def below(self, directory: str) -> list[str]:
        out = []
        for top, dirs, files in os.walk(directory):
            out += [os.path.join(top, n) for n in dirs + files]
        return out

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path) and not os.path.islink(path)

    def private(self, path: str) -> bool:
        try:
            mode = os.stat(path).st_mode  # (what a bind would show: a link's target)
        except OSError:
            return False
        if not mode & 0o004 or (stat.S_ISDIR(mode) and not mode & 0o001):
            return True
        # A directory others may not pass keeps what is below it to those who may.
        return not self._passable(os.path.dirname(os.path.realpath(path)))

    def _passable(self, directory: str) -> bool:
        """Others may pass the directory and every one above it (asked once per directory: a package's
        thousand files share a few dozen)."""
        if directory == "/":
            return True
        if directory not in self._passable_dirs:
            try:
                here = bool(os.stat(directory).st_mode & 0o001)
            except OSError:
                here = False
            self._passable_dirs[directory] = here and self._passable(os.path.dirname(directory))
        return self._passable_dirs[directory]

    def resolve(self, path: str) -> str:
        return os.path.realpath(path)

    def is_elf(self, path: str) -> bool:
        try:
            fd = safefs.open_regular(path)  # (nothing else is opened, no link followed: a jail may make it a FIFO)
        except OSError:
            return False
        try:
            return os.read(fd, 4) == b"\x7fELF"
        except OSError:
            return False
        finally:
            os.close(fd)


# root's PATH on Debian: where a program named in the wrong directory is looked for by its name.
SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class Programs(Protocol):
    """The programs in SEARCH_PATH's directories (HostPrograms on a real host)."""

    def where(self, name: str) -> list[str]:
        """Every executable file called `name` there, one path for each place, in SEARCH_PATH's order."""

    def names(self, directory: str) -> list[str]:
        """The names in one directory (what a misspelt program's name is compared with)."""


class HostPrograms:
    """The real PATH directories, looked at only when a jail names a binary that is not there."""

    @staticmethod
    def _dirs() -> list[str]:
        # One of each: on a merged-/usr Debian /bin is /usr/bin, and /sbin is /usr/sbin.
        seen, out = set(), []
        for directory in SEARCH_PATH:
            real = os.path.realpath(directory)
            if real not in seen and os.path.isdir(real):
                seen.add(real)
                out.append(directory)
        return out

    def where(self, name: str) -> list[str]:
        found = [os.path.join(d, name) for d in self._dirs()]
        return [p for p in found if os.path.isfile(p) and os.access(p, os.X_OK)]

    def names(self, directory: str) -> list[str]:
        try:
            return sorted(os.listdir(directory))
        except OSError:
            return []


@dataclass(frozen=True)
class Node:
    """What lstat says of one host path, as much as a permission check needs."""

    mode: int  # st_mode: the type and the permission bits
    uid: int
    gid: int

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)


class Disk(Protocol):
    """The host's paths, as the preflight looks at them (HostDisk on a real host)."""

    def lstat(self, path: str) -> Node | None:
        """The path itself (a symlink is not followed); None when there is no such path.  Raises
        PermissionError when this process can't look (a directory above it it may not search)."""


class HostDisk:
    def lstat(self, path: str) -> Node | None:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return Node(st.st_mode, st.st_uid, st.st_gid)


@dataclass(frozen=True)
class Host:
    systemd_version: int  # its major version, 0 when it can't be told
    tools: frozenset[str]  # which of TOOLS are installed
    passwd: Db
    group: Db
    libraries: Libraries = field(default_factory=HostLibraries, compare=False)
    shadow: Db | None = None  # read only for commands that render a jail with tree.shadow
    shadow_error: str = ""  # why it could not be read
    template_dirs: tuple[str, ...] = TEMPLATE_DIRS
    packages: Packages = field(default_factory=HostPackages, compare=False)
    runtime_paths: frozenset[str] = frozenset(RUNTIME_PATHS)  # which of RUNTIME_PATHS exist
    programs: Programs = field(default_factory=HostPrograms, compare=False)
    disk: Disk = field(default_factory=HostDisk, compare=False)

    def has(self, tool: str) -> bool:
        return tool in self.tools

    @classmethod
    def read(cls, shadow: bool = False) -> Host:
        """The running machine, now; /etc/shadow only when a jail wants it (it needs root)."""
        shadow_db, error = None, ""
        if shadow:
            try:
                shadow_db = read_db("/etc/shadow")
            except OSError as exc:
                error = exc.strerror or str(exc)
        return cls(systemd_version(), frozenset(t for t in TOOLS if os.path.exists(t)), read_db("/etc/passwd"),
                   read_db("/etc/group"), HostLibraries(), shadow_db, error, TEMPLATE_DIRS, packages=HostPackages(),
                   runtime_paths=frozenset(p for p in RUNTIME_PATHS if os.path.exists(p)), programs=HostPrograms(),
                   disk=HostDisk())


def read_db(path: str) -> dict[str, tuple[str, ...]]:
    """A colon-separated database (passwd, group, shadow): the first line of each name wins, as getpwnam's."""
    out: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) >= 3 and fields[0] and not fields[0].startswith("#"):
                out.setdefault(fields[0], tuple(fields))
    return out
