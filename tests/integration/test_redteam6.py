"""Red team 6: the jail against what changed since the no-op apply, status over D-Bus and the pread ELF reader.

The program (redteam6_probe.c, static) runs as root of its jail under the launcher.  What it attacks here:
the ELF reader (elf.read_elf, Resolver.closure), which apply, as root, runs on every ELF file a package
lists, and so on files a jail can write: jail `rt6w` has the package's data directory as an rw mount (its
state lives there, as redteam3's package plays it), and jail `rt6p` names the package in `tree.packages`.
apply of `rt6p` reads what `rt6w` wrote before any cross-jail check can refuse it.  A reader that takes
every dynamic entry and every string as the file says was made to keep a gigabyte of sonames (a 2.6 MB
file: 100,000 DT_NEEDED entries naming suffixes of one 1 MB string) or to stat NEEDED x DIRS paths (a
0.5 MB file: 20,000 sonames times 20,000 DT_RUNPATH directories, hours).  Each test asserts the safe
outcome: apply ends, says what it says, and nothing of the host moved.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_boundary import journal
from tests.integration.test_redteam3 import red3  # noqa: F401  (the rt3pkg package, installed with dpkg)
from tests.testbed import Testbed

PROBE = "/usr/local/bin/redteam6_probe"
PROBE_SRC = Path(__file__).with_name("redteam6_probe.c")
DATA = "/opt/rt3pkg/data"  # a directory of the package, which rt6w's jail file mounts read-write
LISTED = f"{DATA}/default.conf"  # a file the package lists: apply reads it as ELF when it starts with the magic
AS_LIMIT = 2 << 30  # apply's address space: a reader that keeps what the file says runs out of it at once
SECRET_DIR = "/opt/rt6secret"  # only root may enter it: what is inside is no one else's
SECRET = f"{SECRET_DIR}/vendor.so"  # a root-only ELF file on the host (a licensed library, a keyed tool)
ELF_SHAPES = {"memory": ("100000", "1000000", "0"), "time": ("20000", "20000", "20000")}


@pytest.fixture(scope="module")
def red6(red3: Testbed) -> Iterator[Testbed]:  # noqa: F811
    subprocess.run(["gcc", "-static", "-O2", "-o", str(red3.path(PROBE)), str(PROBE_SRC)], check=True)
    yield red3
    for name in ("rt6w", "rt6p", "rt6n"):
        red3.run(["jailmgr", "destroy", name], check=False, timeout=60)
    red3.run(["rm", "-rf", SECRET_DIR], check=False)


def writer_jail(shape: str) -> str:
    argv = ", ".join(f'"{a}"' for a in ["/probe", "elf", "/data/default.conf", *ELF_SHAPES[shape]])
    return (f"name: rt6w\nrestart: \"no\"\nenable: false\nexec: [{argv}]\n"
            f"mounts: [{{type: bind, source: {DATA}, target: /data, mode: rw}}]\n"
            f"tree:\n  files: [{{path: /probe, from: {PROBE}, mode: \"0755\"}}]\n")


PACKAGE_JAIL = ("name: rt6p\nrestart: \"no\"\nenable: false\nexec: [/probe, wait]\n"
                f"tree:\n  files: [{{path: /probe, from: {PROBE}, mode: \"0755\"}}]\n  packages: [rt3pkg]\n")


@pytest.mark.parametrize("shape", sorted(ELF_SHAPES))
def test_an_elf_file_a_jail_writes_neither_exhausts_nor_stalls_the_apply_that_reads_it(red6: Testbed,
                                                                                      shape: str) -> None:
    """rt6w writes an ELF file over the package's default.conf (below its rw mount); apply of rt6p (which
    binds the package) reads it as one of the package's ELF files.  It must end, under a 2 GiB address
    space, without a traceback: the reader refuses a dynamic section, a needed list or a search path
    larger than any real binary's (elf.MAX_DYNAMIC, MAX_NEEDED, MAX_SEARCH, MAX_STRING)."""
    red6.path("/srv/rt6w.yaml").write_text(writer_jail(shape))
    red6.path("/srv/rt6p.yaml").write_text(PACKAGE_JAIL)
    try:
        proc = red6.run(["jailmgr", "apply", "/srv/rt6w.yaml"], check=False, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "elf: wrote" in journal(red6, "rt6w", "elf: wrote")
        assert red6.path(LISTED).read_bytes()[:4] == b"\x7fELF"
        proc = red6.run(["timeout", "-s", "KILL", "300", "prlimit", f"--as={AS_LIMIT}",
                         "jailmgr", "apply", "/srv/rt6p.yaml"], check=False, timeout=330)
        said = proc.stdout + proc.stderr
        assert proc.returncode != -9 and proc.returncode != 137, "apply still read the jail's ELF file after 300 s"
        assert "Traceback" not in said and "MemoryError" not in said, said[-2000:]
        assert proc.returncode in (0, 1), said
    finally:
        red6.run(["jailmgr", "destroy", "rt6p"], check=False, timeout=60)
        red6.run(["jailmgr", "destroy", "rt6w"], check=False, timeout=60)
        red6.run(["sh", "-c", f"rm -f {LISTED} && echo 'package default' > {LISTED}"], check=False)


def test_a_library_a_jail_written_file_names_is_never_bound_into_another_jail(red6: Testbed) -> None:
    """rt6w writes default.conf as a small ELF file needing SECRET by its absolute path, mode 0600: a file
    others may not read is not bound (packages.private), so no cross-jail check sees it below rt6w's rw
    mount, but it was still read as one of the package's ELF files, and the libraries it names were bound
    into rt6p read-only with no look at who may read them: rt6p's root read the host's root-only file."""
    red6.run(["sh", "-c", f"mkdir -p {SECRET_DIR} && chmod 0700 {SECRET_DIR} && "
                          f"cp /usr/lib/x86_64-linux-gnu/libz.so.1 {SECRET} && chmod 0600 {SECRET}"])
    argv = ", ".join(f'"{a}"' for a in ["/probe", "need", "/data/default.conf", SECRET])
    red6.path("/srv/rt6w.yaml").write_text(
        f"name: rt6w\nrestart: \"no\"\nenable: false\nexec: [{argv}]\n"
        f"mounts: [{{type: bind, source: {DATA}, target: /data, mode: rw}}]\n"
        f"tree:\n  files: [{{path: /probe, from: {PROBE}, mode: \"0755\"}}]\n")
    red6.path("/srv/rt6p.yaml").write_text(PACKAGE_JAIL)
    try:
        proc = red6.run(["jailmgr", "apply", "/srv/rt6w.yaml"], check=False, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "need: wrote" in journal(red6, "rt6w", "need: wrote")
        proc = red6.run(["jailmgr", "apply", "/srv/rt6p.yaml"], check=False, timeout=120)
        if proc.returncode != 0:  # refused: safe, if it says why
            assert "rt6p" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
            return
        said = red6.run(["jailmgr", "exec", "rt6p", "--", "/probe", "read", SECRET], check=False, timeout=60)
        assert f"read {SECRET}: refused" in said.stdout + said.stderr, (
            f"rt6p's root read the host's root-only {SECRET}, named by rt6w's ELF file: {said.stdout.strip()!r}")
    finally:
        red6.run(["jailmgr", "destroy", "rt6p"], check=False, timeout=60)
        red6.run(["jailmgr", "destroy", "rt6w"], check=False, timeout=60)
        red6.run(["sh", "-c", f"rm -f {LISTED} && echo 'package default' > {LISTED} && chmod 0644 {LISTED}"],
                 check=False)


def test_a_fifo_a_jail_written_file_names_is_never_opened_by_root(red6: Testbed) -> None:
    """rt6w makes a FIFO in its rw mount, writes default.conf as an ELF file needing it by its host path, and
    waits in open(FIFO, O_WRONLY).  apply of rt6p read that file's needs and opened what it named as root,
    O_RDONLY | O_NONBLOCK, before seeing it was no regular file: the jail's open returned (it learns when
    root runs apply; /dev/watchdog in its place would have armed the host's watchdog).  Now only a regular
    file is ever opened (safefs.open_regular: O_PATH first)."""
    fifo = f"{DATA}/fifo"
    argv = ", ".join(f'"{a}"' for a in ["/probe", "fifo", "/data/default.conf", "/data/fifo", fifo])
    red6.path("/srv/rt6w.yaml").write_text(
        f"name: rt6w\nrestart: \"no\"\nenable: false\nexec: [{argv}]\n"
        f"mounts: [{{type: bind, source: {DATA}, target: /data, mode: rw}}]\n"
        f"tree:\n  files: [{{path: /probe, from: {PROBE}, mode: \"0755\"}}]\n")
    red6.path("/srv/rt6p.yaml").write_text(PACKAGE_JAIL)
    try:
        proc = red6.run(["jailmgr", "apply", "/srv/rt6w.yaml"], check=False, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "fifo: waiting" in journal(red6, "rt6w", "fifo: waiting")
        proc = red6.run(["jailmgr", "apply", "/srv/rt6p.yaml"], check=False, timeout=120)
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        said = journal(red6, "rt6w", "fifo: opened")
        assert "fifo: opened by a reader" not in said, "root opened the FIFO the jail's ELF file named"
    finally:
        red6.run(["jailmgr", "destroy", "rt6p"], check=False, timeout=60)
        red6.run(["jailmgr", "destroy", "rt6w"], check=False, timeout=60)
        red6.run(["sh", "-c", f"rm -f {fifo} {LISTED} && echo 'package default' > {LISTED}"], check=False)


def test_a_declared_file_rewritten_in_place_with_its_times_put_back_is_not_nothing_to_change(red6: Testbed) -> None:
    """The no-op apply (noop.py) decides from fingerprints alone: a declared file below a writable dir that
    the jail rewrites in place, same size, its mtime put back, still differs in its ctime, and its content
    is hashed: the apply takes the full path and puts the file back.  (Pins the guarantee.)"""
    text = ("name: rt6n\nrestart: \"no\"\nenable: false\nexec: [/probe, tamper, /data/conf.txt]\n"
            "tree:\n  dirs: [{path: /data, writable: true}]\n"
            f"  files: [{{path: /probe, from: {PROBE}, mode: \"0755\"}}, "
            "{path: /data/conf.txt, content: \"declared\\n\"}]\n")
    red6.path("/srv/rt6n.yaml").write_text(text)
    conf = red6.path("/var/lib/jailmgr/jails/rt6n/root/data/conf.txt")
    try:
        proc = red6.run(["jailmgr", "apply", "/srv/rt6n.yaml"], check=False, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "tamper: ok" in journal(red6, "rt6n", "tamper: ok")
        assert conf.read_text() == "Xeclared\n"
        proc = red6.run(["jailmgr", "apply", "/srv/rt6n.yaml"], check=False, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "nothing to change" not in proc.stdout, proc.stdout
        assert conf.read_text() == "declared\n"
    finally:
        red6.run(["jailmgr", "destroy", "rt6n"], check=False, timeout=60)
