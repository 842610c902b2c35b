"""What purging the Debian package removes, decided while jailmgr is still installed.

dpkg runs the package's `postrm purge` after jailmgr's own files are gone, so
it can't run `jailmgr destroy`.  The `prerm remove` runs this instead: it
checks every managed jail as destroy does (plan.doom: a record that names a
unit or a root jailmgr would not have made is refused) and writes the list
of what a purge may remove; `postrm purge` only carries the list out (stop,
disable and delete the units, remove each tree without crossing a mount
point, then the records).  A plain `remove` never reads the list: the jails
keep running, and installing jailmgr again deletes it.

    python3 -m jailmgr.purge LIST      # (the prerm) writes LIST, one `kind value` a line

The list's values are words the postrm's shell uses unquoted (units) or as
one quoted argument (roots): only names and paths of a plain alphabet are
written; a jail with another is named as `keep` and left for the operator.
"""

from __future__ import annotations

import os
import re
import sys

from . import model, state
from .plan import doom
from .problems import JailError

UNIT_WORD = re.compile(r"[A-Za-z0-9@._-]+\Z")
PLAIN_PATH = re.compile(r"/[A-Za-z0-9@._+,:/-]*\Z")  # nothing a shell, sed or mountinfo would rewrite


def lines(names: list[str]) -> list[str]:
    """The list for these managed jails: `unit U`, `root PATH`, `record NAME`, `keep NAME: why`."""
    out = []
    notes: list[str] = []
    for name in names:
        try:
            doomed = doom(name, notes.append)
        except (JailError, state.StateProblem, OSError) as exc:  # one jail's damage keeps that jail, not the rest
            out.append(f"keep {name}: {(str(exc).splitlines() or [type(exc).__name__])[0]}")
            continue
        root = doomed.root
        bad = [u for u in doomed.units if not UNIT_WORD.match(u)]
        if bad or not PLAIN_PATH.match(root) or "/../" in root + "/" or root.rstrip("/") in ("", "/"):
            out.append(f"keep {name}: its unit or root is not a plain name or path")
            continue
        out += [f"unit {unit}" for unit in doomed.units]
        out.append(f"root {root}")
        if root == model.default_root(name):
            out.append(f"dir {os.path.dirname(root)}")
        out.append(f"record {name}")
    return out


def write(path: str) -> int:
    """Write the list atomically, readable by root only (it names the jails' trees)."""
    text = "".join(line.replace("\n", " ") + "\n" for line in lines(state.managed()))
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(write(sys.argv[1]))
