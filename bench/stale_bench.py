#!/usr/bin/python3
"""`jailmgr stale`'s reading of a process that maps 16,000 deleted files, against reading the same bytes.

A jail decides how many files its processes map, and `stale` runs as root
from the package's dpkg trigger after every library upgrade: its work must
grow linearly with them.  This process maps N files with long names and
deletes them, then times, run by run alternated, audit.stale_files on itself
(what `stale` does for each process of a jail) against a plain read of the
same /proc/self/maps (the kernel's share of the work).  Goal: under 0.5 s
for 16,000.

Run: python3 bench/stale_bench.py [N]   (no root needed)
"""

from __future__ import annotations

import mmap
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jailmgr import audit

MAPPINGS = 16000
GOAL_S = 0.5


def map_deleted(n: int, where: str) -> list[mmap.mmap]:
    """n mappings of n distinct files with long names, every file deleted once mapped."""
    maps = []
    stem = "lib" + "x" * 180
    for i in range(n):
        path = os.path.join(where, f"{stem}-{i:06d}.so.1")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, mmap.PAGESIZE)
            maps.append(mmap.mmap(fd, mmap.PAGESIZE, prot=mmap.PROT_READ))
        finally:
            os.close(fd)
        os.unlink(path)
    return maps


def read_maps() -> int:
    with open(f"/proc/{os.getpid()}/maps", "rb") as f:
        return len(f.read())


def measure(runs: int = 7, n: int = MAPPINGS) -> tuple[list[float], list[float], int]:
    """(stale's times, the plain read's times, the files found), the two alternated run by run."""
    with tempfile.TemporaryDirectory(prefix="stale-bench-") as where:
        maps = map_deleted(n, where)
        ours, base, found = [], [], 0
        for _ in range(runs):
            start = time.perf_counter()
            read_maps()
            base.append(time.perf_counter() - start)
            start = time.perf_counter()
            found = len(audit.stale_files([os.getpid()]))
            ours.append(time.perf_counter() - start)
        for m in maps:
            m.close()
    return ours, base, found


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else MAPPINGS
    ours, base, found = measure(7, n)
    if found < n:
        print(f"stale_bench: found {found} of the {n} deleted files", file=sys.stderr)
        return 1
    mine, theirs = statistics.median(ours), statistics.median(base)
    print(f"{n} deleted mappings: stale {mine * 1000:.1f} ms [{min(ours) * 1000:.1f}-{max(ours) * 1000:.1f}], "
          f"reading the same maps {theirs * 1000:.1f} ms: {mine / theirs:.2f}x; "
          f"goal under {GOAL_S} s: {'met' if mine < GOAL_S else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
