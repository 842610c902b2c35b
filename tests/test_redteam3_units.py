"""Red team, third round, without a container: tree.packages rendered from a crafted dpkg view (and from a
real dpkg database in a temporary directory), the failed-start hints on hostile journal lines, the ELF
reader on a file a jail wrote.

Each test asserts the safe outcome; a failing one is a way in (tests/integration/test_redteam3.py shows
the same on a real systemd where it can).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from jailmgr import diagnose, packages, preflight, render, spec
from jailmgr.host import Host, HostLibraries, HostPackages
from tests.fakehost import GROUP, PASSWD, SHADOW, FakeLibraries, fake_host

# --- a daemon's package, as dpkg lists it, with a data directory and a conf.d the jail file makes writable

RT3PKG = ("/opt", "/opt/rt3pkg", "/opt/rt3pkg/data", "/opt/rt3pkg/data/default.conf", "/opt/rt3pkg/data/plugin.so",
          "/etc", "/etc/rt3pkg", "/etc/rt3pkg/conf.d", "/etc/rt3pkg/conf.d/default.conf", "/usr", "/usr/sbin",
          "/usr/sbin/rt3d")
# What is on the disk below the package's directories besides its own files: the jail's state.
UNOWNED = ("/opt/rt3pkg/data/state",)


class Rt3Packages:
    def installed(self) -> frozenset[str]:
        return frozenset({"rt3pkg"})

    def files(self, name: str) -> tuple[str, ...] | None:
        return RT3PKG if name == "rt3pkg" else None

    def list_path(self, name: str) -> str:
        return f"/var/lib/dpkg/info/{name}.list"

    def below(self, directory: str) -> list[str]:
        return sorted(p for p in (*RT3PKG, *UNOWNED) if p.startswith(directory + "/"))

    def is_dir(self, path: str) -> bool:
        return any(p.startswith(path + "/") for p in RT3PKG)

    def is_elf(self, path: str) -> bool:
        return path.endswith(".so") or path.startswith("/usr/sbin/")

    def resolve(self, path: str) -> str:
        return path

    def private(self, path: str) -> bool:
        return False


class Rt3Libraries(FakeLibraries):
    def exists(self, path: str) -> bool:
        return path in RT3PKG or super().exists(path)


HOST = Host(252, fake_host().tools, PASSWD, GROUP, Rt3Libraries(), SHADOW, packages=Rt3Packages())


def rendered(tmp_path: Path, name: str, text: str) -> tuple[render.Rendered | None, list[str]]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nexec: [/usr/sbin/rt3d]\n{text}")
    loaded = spec.load_or_raise([str(path)])[0]
    item, problems = render.render(loaded, HOST)
    return item, [str(p) for p in problems]


def test_no_package_bind_source_lies_below_the_jails_own_rw_mount_source(tmp_path: Path) -> None:
    """The jail file mounts the package's data directory read-write.  Every mount source must lie outside
    the jail-writable set (SECURITY.md), but package binds are not in spec.host_resolved: default.conf
    and plugin.so are bound by their host paths, below the rw source, and root follows whatever the jail
    put there at each start (tests/integration/test_redteam3.py reads a 0600 host file that way)."""
    item, problems = rendered(tmp_path, "rw", "tree: {packages: [rt3pkg]}\n"
                              "mounts: [{type: bind, source: /opt/rt3pkg/data, target: /data, mode: rw}]\n")
    if problems:
        return  # refused: safe
    assert item is not None
    below = [b.source for b in item.contents.binds if spec.below(b.source, "/opt/rt3pkg/data")]
    assert not below, f"bound from below the jail's rw mount source /opt/rt3pkg/data: {below}"


def test_no_package_bind_source_lies_below_another_jails_rw_mount_source(tmp_path: Path) -> None:
    """The same across jails: jail `w` may write /opt/rt3pkg/data; jail `p` binds the package's files there
    by their host paths.  apply's cross-jail check (preflight.check_host_paths) compares the jail files'
    sources only, so `w` picks what root binds into `p` at p's next start."""
    w, problems = rendered(tmp_path, "w", "user: nobody\ntree: {users: [nobody], binaries: [/usr/sbin/rt3d]}\n"
                           "mounts: [{type: bind, source: /opt/rt3pkg/data, target: /data, mode: rw}]\n")
    assert w is not None, problems
    p, problems = rendered(tmp_path, "p", "tree: {packages: [rt3pkg]}\n")
    if p is None:
        return  # refused: safe
    assert preflight.check_host_paths([p.loaded, w.loaded], {}, rendered=[p, w]) != []


def test_no_package_file_is_mounted_onto_a_place_below_a_writable_dir(tmp_path: Path) -> None:
    """A writable /etc/rt3pkg/conf.d (a daemon that writes its own configuration there) below which the
    package lists conf.d/default.conf: `declared` keeps the directory from being bound whole, but the
    file is still bound onto /etc/rt3pkg/conf.d/default.conf, a mount target below a writable dir, which
    the jail can swap for a symlink between two starts (SECURITY.md: nothing is mounted onto such a place)."""
    item, problems = rendered(tmp_path, "wd", "tree:\n  packages: [rt3pkg]\n"
                              "  dirs: [{path: /etc/rt3pkg/conf.d, writable: true}]\n")
    if problems:
        return  # refused: safe
    assert item is not None
    below = [b.target for b in item.contents.binds if spec.below(b.target, "/etc/rt3pkg/conf.d")]
    assert not below, f"mounted onto places below the writable dir /etc/rt3pkg/conf.d: {below}"


# --- a real dpkg database: a file others can't reach because its directory is closed ------------------

def test_a_readable_file_in_a_directory_only_root_may_enter_is_private(tmp_path: Path) -> None:
    """packages.private() stats the file alone: 0644 is 'readable by others', though its directory (0700)
    lets no one but root reach it.  Bound file by file, its parents in the tree are jailmgr's (0755)."""
    closed = tmp_path / "etc" / "rt3pkg" / "private"
    closed.mkdir(parents=True)
    (closed / "conf.key").write_text("secret\n")
    os.chmod(closed / "conf.key", 0o644)
    os.chmod(closed, 0o700)
    listed = tuple(str(p) for p in (tmp_path / "etc", tmp_path / "etc/rt3pkg", closed, closed / "conf.key"))
    info = tmp_path / "info"
    info.mkdir()
    (info / "rt3pkg.list").write_text("".join(f"{p}\n" for p in listed))
    (tmp_path / "status").write_text("Package: rt3pkg\nStatus: install ok installed\n\n")
    host = Host(252, frozenset(), PASSWD, GROUP, HostLibraries(), SHADOW,
                packages=HostPackages(str(info), str(tmp_path / "status")))
    share = packages.brought("rt3pkg", host.packages.files("rt3pkg") or (), host, set())
    brought = [*share.files, *share.dirs]
    assert str(closed / "conf.key") not in brought, f"brought from a 0700 directory: {brought}"


# --- failed-start hints: linear in what the jail wrote ----------------------------------------------

PREFIX = "Jan 01 00:00:00 rt3d[12]: "


@pytest.mark.parametrize("message", [pytest.param("/" * 65536, id="slashes"),
                                     pytest.param("No such file or directory" * 2621, id="no-such-file")])
def test_hints_look_at_a_bounded_start_of_each_line(message: str) -> None:
    """apply reads the failed jail's last 8 journal lines (each up to 64 KiB, journal.MESSAGE_LIMIT) into
    diagnose.hints.  A path is `/[^...]{1,200}` followed by a literal: tried at every '/' of a line of
    slashes, 200 steps each; an unbounded `[^/]*` scans to the end of the line from every repetition:
    quadratic.  The rules see only LINE_LIMIT characters of a line, and no quantifier of theirs is unbounded,
    so the work per line is bounded whatever the jail writes (SECURITY.md: parsed in linear time).
    (Counted, not timed: speed is the benchmarks' business.)"""
    lines = [PREFIX + message] * 8
    assert diagnose.hints(lines) == diagnose.hints([line[:diagnose.LINE_LIMIT] for line in lines])
    assert diagnose.LINE_LIMIT <= 4096
    for rule in diagnose.RULES:
        assert "*" not in rule.pattern.pattern.replace("\\*", ""), rule.pattern.pattern  # every repetition bounded


# --- the ELF reader on a file a jail wrote (a package's module below an rw mount, as above) -----------

def elf_needing(soname: bytes) -> bytes:
    """A minimal x86-64 ELF shared object: one PT_LOAD over the whole file, a PT_DYNAMIC with DT_NEEDED."""
    strtab = b"\0" + soname + b"\0"
    ehsize, phsize = 64, 56
    dyn_off = ehsize + 2 * phsize
    dynamic = struct.pack("<qQqQqQ", 1, 1, 5, 0, 0, 0)  # DT_NEEDED (strtab+1), DT_STRTAB (patched), DT_NULL
    str_off = dyn_off + len(dynamic)
    dynamic = struct.pack("<qQqQqQ", 1, 1, 5, str_off, 0, 0)
    size = str_off + len(strtab)
    header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
              + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 64, 0, 0))
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, size, size, 0x1000)
    dyn = struct.pack("<IIQQQQQQ", 2, 6, dyn_off, dyn_off, dyn_off, len(dynamic), len(dynamic), 8)
    return header + load + dyn + dynamic + strtab


@pytest.mark.parametrize("needed", [b"/dev/zero", b"FIFO"])
def test_the_elf_reader_reads_no_endless_file_a_module_names(tmp_path: Path, needed: bytes) -> None:
    """A module the jail wrote names a library by an absolute path (DT_NEEDED with a '/'): Resolver.find
    takes it if it exists, and read_elf reads it whole with open()+read(): /dev/zero never ends (apply,
    as root, grows until the memory runs out), a FIFO blocks apply for good."""
    if needed == b"FIFO":
        os.mkfifo(tmp_path / "fifo")
        needed = str(tmp_path / "fifo").encode()
    module = tmp_path / "plugin.so"
    module.write_bytes(elf_needing(needed))
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from jailmgr import elf\ntry:\n    elf.Resolver({}).closure(sys.argv[1])\n"
            "except (OSError, elf.ElfError):\n    pass\nprint('done')\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(module)], capture_output=True, text=True,
                              timeout=10, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"closure() of a module needing {needed.decode()} still runs after 10 s")
    assert proc.stdout.strip() == "done", (f"closure() of a module needing {needed.decode()}: "
                                           f"{proc.stderr.strip().splitlines()[-1:]}")
