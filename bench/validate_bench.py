#!/usr/bin/python3
"""Cost of `jailmgr validate jails.d/ftp.yaml` against starting Python, same run.

Prints the median wall time of each command over N runs and the ratios.
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


def median_ms(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    results = {name: median_ms(argv, runs) for name, argv in COMMANDS.items()}
    base = results["python3 -c pass"]
    for name, ms in results.items():
        print(f"{name:28} {ms:7.1f} ms  {ms / base:5.2f}x python startup")
    print("(render loads Jinja2 only when a file has a template; minimal.yaml has none)")


if __name__ == "__main__":
    main()
