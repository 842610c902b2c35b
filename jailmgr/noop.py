"""`jailmgr apply` when nothing is to be done, decided without loading what a change needs.

Most applies (config management runs them every half hour on every host)
change nothing. Whether that is so is decided from the records and stat()
alone (unchanged.py: the files' bytes, every input's fingerprint, the units,
the trees, systemd's invocation links and one systemctl query for the units
without one), so this path imports neither the jail
file's model, YAML, Jinja2 nor the command line's full parser. Anything
else (a jail to build, a record to warn about, a PATH that is not there)
returns None and the full path runs: it decides and says everything again.

It imports only what needs nothing but os (records.py for the records and
the lock, basepaths.py, unitstate.py, fingerprint.py, safefs.py): Python's
start is most of what it costs (bench/README.md).
"""

from __future__ import annotations

import os
import sys

from . import records, unchanged
from .basepaths import DEFAULT_JAILS_DIR, yaml_files

FLAGS = {"-q", "--quiet"}


def apply(argv: list[str]) -> int | None:
    """The exit status of `apply` when argv asks for a plain apply with nothing to do; None otherwise."""
    if not argv or argv[0] != "apply" or os.geteuid() != 0:
        return None
    args = argv[1:]
    if any(a.startswith("-") and a not in FLAGS for a in args):
        return None  # (--check, --prune, --json, ...: the full path)
    files: list[str] = []
    for raw in [a for a in args if a not in FLAGS] or [os.environ.get("JAILMGR_JAILS_DIR", DEFAULT_JAILS_DIR)]:
        found = yaml_files(raw)
        if found is None:
            return None
        files += found
    if len({os.path.realpath(f) for f in files}) != len(files):
        return None
    fd = records.lock()
    try:
        recorded = records.read_all()  # (None: a record to warn about)
        if recorded is None or not unchanged.all_unchanged(files, recorded):
            return None
    finally:
        os.close(fd)
    if not FLAGS & set(args):
        print("nothing to change", file=sys.stdout)
    return 0
