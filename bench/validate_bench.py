#!/usr/bin/python3
"""Cost of `jailmgr validate jails.d/ftp.yaml` against starting Python, same run.

Prints the minimum and median wall time of each command over N interleaved
runs, and the ratio of the minimums.
Run: python3 bench/validate_bench.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PY = "/usr/bin/python3"
COMMANDS = {
    "python3 -c pass": [PY, "-c", "pass"],
    "python3 -c 'import yaml'": [PY, "-c", "import yaml"],
    "jailmgr validate ftp.yaml": [PY, "-m", "jailmgr", "validate", "-q", "jails.d/ftp.yaml"],
    "jailmgr render ftp.yaml": [PY, "-m", "jailmgr", "render", "-q", "tests/cases/good/minimal.yaml"],
}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):  # interleaved, so load on the machine falls on every command alike
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - start) * 1000)
    base = min(times["python3 -c pass"])
    print(f"{'':28} {'min':>7}    {'median':>7}   (min / python startup's min)")
    for name, samples in times.items():
        low = min(samples)
        print(f"{name:28} {low:7.1f} ms {statistics.median(samples):7.1f} ms  {low / base:5.2f}x")
    print("(render loads Jinja2 only when a file has a template; minimal.yaml has none)")


if __name__ == "__main__":
    main()
