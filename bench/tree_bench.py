#!/usr/bin/python3
"""Building a jail tree: jailmgr's bind mode and copy mode against a plain copy of the same files.

The baseline is what jailkit's jk_init does (copy each binary and library
into the tree), run in this same process with shutil.copy2.  Prints the time
and the bytes written for each, and the ratios.  Needs root (the tree gets
its owners).  Run: sudo python3 bench/tree_bench.py [BINARY...]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from jailmgr import elf, ops, plan, render, spec
from jailmgr.host import Host
from jailmgr.safefs import Tree

BINARIES = sys.argv[1:] or [b for b in ("/usr/sbin/vsftpd", "/usr/bin/python3", "/usr/bin/ls") if os.path.exists(b)]


def disk_bytes(root: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_blocks * 512 for d, ds, fs in os.walk(root) for f in ds + fs)


def jailmgr_build(work: Path, mode: str) -> float:
    jail_file = work / f"{mode}.yaml"
    jail_file.write_text(f"name: bench-{mode}\nroot: {work}/{mode}\nexec: [{BINARIES[0]}]\n"
                         f"tree: {{binaries: [{', '.join(BINARIES)}], libraries: {mode}}}\n")
    start = time.perf_counter()
    item, problems = render.render(spec.load_or_raise([str(jail_file)])[0], Host.read())
    assert item is not None, problems
    planned = plan.plan_jail(item, None, plan.Snapshot())
    with Tree(item.loaded.jail.root_dir) as tree:  # the tree's operations, as apply runs them
        ctx = ops.Context(tree)
        for op in planned.changes:
            if isinstance(op, ops.EnsureEntry):
                op.apply(ctx)
    return time.perf_counter() - start


def copy_baseline(work: Path) -> float:
    start = time.perf_counter()
    resolver = elf.Resolver()
    for binary in BINARIES:
        libs, _ = resolver.closure(binary)
        for path in [binary, *libs]:
            target = work / "copy-baseline" / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return time.perf_counter() - start


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: the tree gets its owners")
    with tempfile.TemporaryDirectory(prefix="jailmgr-bench-") as tmp:
        work = Path(tmp)
        base = copy_baseline(work)
        bind = jailmgr_build(work, "bind")
        copy = jailmgr_build(work, "copy")
        print(f"binaries: {', '.join(BINARIES)}")
        print(f"plain copy (jk_init-like) {base * 1000:7.1f} ms  {disk_bytes(work / 'copy-baseline') / 1024:8.0f} KiB")
        print(f"jailmgr libraries: copy   {copy * 1000:7.1f} ms  {disk_bytes(work / 'copy') / 1024:8.0f} KiB"
              f"  ({copy / base:.1f}x the plain copy's time: atomic writes, fsync, owners, the whole tree)")
        print(f"jailmgr libraries: bind   {bind * 1000:7.1f} ms  {disk_bytes(work / 'bind') / 1024:8.0f} KiB"
              f"  ({bind / base:.1f}x the plain copy's time)")


if __name__ == "__main__":
    main()
