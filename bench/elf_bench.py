#!/usr/bin/python3
"""ELF dependency reading: jailmgr's struct reader against python3-pyelftools, same process.

Prints the time per closure of a few host binaries for each, and the ratio.
Run: python3 bench/elf_bench.py   (needs python3-pyelftools for the baseline)
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from jailmgr import elf

BINARIES = [b for b in ("/usr/bin/ls", "/usr/bin/python3", "/usr/bin/ssh", "/usr/bin/git", "/usr/sbin/vsftpd")
            if os.path.exists(b)]


def ours() -> None:
    resolver = elf.Resolver()
    for binary in BINARIES:
        resolver.closure(binary)


def pyelftools_needed(path: str) -> tuple[str | None, list[str]]:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        e = ELFFile(f)
        interp = None
        for seg in e.iter_segments():
            if seg["p_type"] == "PT_INTERP":
                interp = seg.get_interp_name()
        needed = []
        for section in e.iter_sections():
            if isinstance(section, DynamicSection):
                needed = [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        return interp, needed


def baseline() -> None:
    """The same transitive walk, with pyelftools doing the ELF reading."""
    resolver = elf.Resolver()
    for binary in BINARIES:
        queue, seen = [binary], set()
        while queue:
            path = queue.pop()
            _, needed = pyelftools_needed(path)
            for soname in needed:
                if soname not in seen:
                    seen.add(soname)
                    found = resolver.find(soname, resolver.info(path))
                    if found:
                        queue.append(found)


def timed(fn, rounds: int = 20) -> float:  # type: ignore[no-untyped-def]
    fn()
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds


def main() -> None:
    try:
        import elftools  # noqa: F401
    except ImportError:
        sys.exit("install python3-pyelftools for the baseline")
    t_ours, t_base = timed(ours), timed(baseline)
    print(f"binaries: {', '.join(BINARIES)}")
    print(f"jailmgr.elf   {t_ours * 1000:8.2f} ms per run")
    print(f"pyelftools    {t_base * 1000:8.2f} ms per run")
    print(f"ratio         {t_base / t_ours:8.1f}x (pyelftools / jailmgr)")


if __name__ == "__main__":
    main()
