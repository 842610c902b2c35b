#!/usr/bin/python3
"""apply against a real systemd (a booted test container): a cold vsftpd jail, and a no-op of many jails.

- cold: `jailmgr apply` of the shipped ftp jail (tree, unit, reload, start)
  against jailkit (Debian's jailkit: jk_cp copies vsftpd, its libraries,
  passwd and group into a tree) plus a hand-written unit, daemon-reload and
  start, both run in the same container, alternated, median of the runs;
- no-op: `jailmgr apply` of a directory of N jails with nothing to do,
  against one `systemctl list-units` call of the same units (the least a
  tool that asks systemd about N units must pay), median of the runs.
Needs root.  Run: sudo python3 bench/apply_bench.py [N] (default 500)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))

import testbed

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
RUNS = 5


def timed(bed: testbed.Testbed, argv: list[str]) -> float:
    start = time.perf_counter()
    bed.run(argv)
    return time.perf_counter() - start


def jk_like(bed: testbed.Testbed, files: list[str], run: int) -> float:
    """jailkit's jk_cp (vsftpd with its libraries, passwd and group), a hand-written unit, reload, start."""
    root = f"/srv/jk{run}"
    unit = (f"[Service]\nType=exec\nRootDirectory={root}\nExecStart=/usr/sbin/vsftpd -olisten_port=2199 "
            "-obackground=NO -osecure_chroot_dir=/ /etc/vsftpd.conf\n")
    copy = f"jk_cp -j {root} /usr/sbin/vsftpd /etc/passwd /etc/group"
    if bed.run(["sh", "-c", "command -v jk_cp"], check=False).returncode != 0:  # an older cached testbed
        copy = f"mkdir -p {root}/etc && cp --parents -L {' '.join(files)} /etc/passwd /etc/group {root}"
    script = (f"mkdir -p {root} && {copy} && printf '%s' '{unit}' > /etc/systemd/system/jk{run}.service && "
              f"systemctl daemon-reload && systemctl start jk{run}.service")
    took = timed(bed, ["sh", "-c", script])
    bed.run(["sh", "-c", f"systemctl stop jk{run}.service; rm -rf {root} /etc/systemd/system/jk{run}.service"])
    return took


def main() -> int:
    with testbed.booted("jailmgr-bench") as bed:
        bed.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", "/srv/ftp.yaml"])
        doc = json.loads(bed.run(["jailmgr", "--json", "render", "/srv/ftp.yaml"]).stdout)["jails"][0]
        files = [b["source"] for b in doc["binds"] if "setpriv" not in b["source"]]
        cold, base = [], []
        for run in range(RUNS):
            base.append(jk_like(bed, files, run))
            cold.append(timed(bed, ["jailmgr", "apply", "-q", "/srv/ftp.yaml"]))
            bed.run(["jailmgr", "destroy", "ftp"])
        c, b = statistics.median(cold), statistics.median(base)
        print(f"cold apply of the ftp jail     {c * 1000:7.0f} ms   jailkit, unit, reload, start {b * 1000:5.0f} ms  "
              f"ratio {c / b:.2f}x")

        bed.run(["mkdir", "-p", "/srv/fleet"])
        for i in range(N):
            bed.path(f"/srv/fleet/b{i:04d}.yaml").write_text(
                f"name: b{i:04d}\nexec: [/usr/bin/true]\nrestart: \"no\"\nenable: false\n"
                "tree: {binaries: [/usr/bin/true]}\n")
        first = timed(bed, ["jailmgr", "apply", "-q", "/srv/fleet"])
        units = [f"jail-b{i:04d}.service" for i in range(N)]
        noop, lists = [], []
        for _ in range(RUNS):
            lists.append(timed(bed, ["systemctl", "list-units", "--all", "--no-legend", "--", *units]))
            noop.append(timed(bed, ["jailmgr", "apply", "-q", "/srv/fleet"]))
        n, base_n = statistics.median(noop), statistics.median(lists)
        print(f"cold apply of {N} jails        {first:7.1f} s")
        print(f"no-op apply of {N} jails       {n * 1000:7.0f} ms   one list-units call {base_n * 1000:5.0f} ms   "
              f"ratio {n / base_n:.1f}x   ({'under' if n < 2 else 'OVER'} the 2 s budget)")
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("apply_bench: must run as root (it boots a container)")
    sys.exit(main())
