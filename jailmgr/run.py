"""The one gateway for subprocesses: argument lists, a clean environment, clear failures."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from .problems import JailError

VERBOSE = False
_ENV_KEEP = ("PATH", "SYSTEMD_LOG_LEVEL", "SYSTEMD_LOG_COLOR")


def clean_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    # C locale so output parses; no pager, no colour, no questions.
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8", SYSTEMD_PAGER="", SYSTEMD_COLORS="0", PAGER="cat")
    return env


def run(argv: list[str], check: bool = True, ok_codes: tuple[int, ...] = (0,),
        capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run argv (never a shell string) with stdin from /dev/null; raise JailError on failure."""
    if VERBOSE:
        print(f"+ {shlex.join(argv)}", file=sys.stderr)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=capture, text=True, errors="replace",
                              env=clean_env(), check=False)
    except FileNotFoundError as exc:
        raise JailError(f"{argv[0]} not found", hint="is systemd installed and on PATH?") from exc
    if check and proc.returncode not in ok_codes:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()
        tail = f": {detail[-1]}" if detail else ""
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise JailError(f"`{shlex.join(argv)}` failed with {how}{tail}")
    return proc
