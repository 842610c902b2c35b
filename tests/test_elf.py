"""The ELF reader finds what the dynamic loader would load, without running it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jailmgr import elf


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
    assert info.interp == "/lib64/ld-linux-x86-64.so.2"
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
    info = elf.ElfInfo(str(tmp_path / "bin" / "prog"), 62, 2, runpath=["$ORIGIN/../lib"])
    (tmp_path / "lib").mkdir()
    (tmp_path / "bin").mkdir()
    shutil.copy(os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6"), tmp_path / "lib" / "libc.so.6")
    found = elf.Resolver(cache={}).find("libc.so.6", info)
    assert found == str(tmp_path / "bin" / ".." / "lib" / "libc.so.6")
