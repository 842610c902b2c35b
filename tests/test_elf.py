"""The ELF reader finds what the dynamic loader would load, without running it."""

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from jailmgr import elf

AT_BASE = 7  # auxv: where the kernel mapped the program's interpreter


def mapped_files() -> dict[int, str]:
    """The files mapped in this process, by the start address of their first mapping."""
    found: dict[int, str] = {}
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            found.setdefault(int(fields[0].split("-")[0], 16), fields[5])
    return found


def this_loader() -> str:
    """The machine's real ld.so, whatever its architecture: the one the kernel loaded for this
    Python (the file mapped at AT_BASE), not a name we know."""
    auxv = dict(struct.iter_unpack("@LL", Path("/proc/self/auxv").read_bytes()))
    return mapped_files()[auxv[AT_BASE]]


def this_libc() -> str:
    return next(p for p in mapped_files().values() if os.path.basename(p) == "libc.so.6")


def machine_and_class(path: str) -> tuple[int, int]:
    """e_machine and EI_CLASS, read from the header here rather than by the reader under test."""
    head = Path(path).read_bytes()[:20]
    return struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0], head[4]


def ldd(path: str) -> set[str]:
    """The oracle, run only in tests on a trusted host binary."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            found.add(os.path.realpath(parts[2]))
        elif parts and parts[0].startswith("/"):
            found.add(os.path.realpath(parts[0]))
    return found


@pytest.mark.parametrize("binary", ["/usr/bin/ls", "/usr/bin/python3", "/usr/bin/ssh", "/usr/bin/git"])
def test_closure_matches_ldd(binary: str) -> None:
    if not os.path.exists(binary) or shutil.which("ldd") is None:
        pytest.skip(f"{binary} not on this host")
    libs, missing = elf.Resolver().closure(binary)
    assert missing == []
    assert {os.path.realpath(p) for p in libs} == ldd(binary)
    assert libs[0] == elf.read_elf(binary).interp


def test_reads_interp_and_needed() -> None:
    info = elf.read_elf("/usr/bin/ls")
    assert info.interp is not None and info.interp.startswith("/")
    assert os.path.realpath(info.interp) == os.path.realpath(this_loader())
    assert (info.machine, info.elf_class) == machine_and_class(this_loader())
    assert "libc.so.6" in info.needed


def test_ld_cache_has_libc() -> None:
    cache = elf.read_ld_cache()
    assert any(p.endswith("/libc.so.6") for p in cache["libc.so.6"])


def test_not_elf_is_a_clear_error(tmp_path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(elf.ElfError, match="not an ELF file"):
        elf.read_elf(str(script))
    truncated = tmp_path / "truncated"
    truncated.write_bytes(Path("/usr/bin/ls").read_bytes()[:100])
    with pytest.raises(elf.ElfError):
        elf.read_elf(str(truncated))


def test_runpath_origin_is_honoured(tmp_path) -> None:
    libc = this_libc()
    info = elf.ElfInfo(str(tmp_path / "bin" / "prog"), *machine_and_class(libc), runpath=["$ORIGIN/../lib"])
    (tmp_path / "lib").mkdir()
    (tmp_path / "bin").mkdir()
    shutil.copy(libc, tmp_path / "lib" / "libc.so.6")
    found = elf.Resolver(cache={}).find("libc.so.6", info)
    assert found == str(tmp_path / "bin" / ".." / "lib" / "libc.so.6")
