"""The command's entry point: a plain `apply` with nothing to do is answered before the command line is built.

(noop.py: decided from records and stat() alone; anything else, or anything
unexpected on that path, goes to cli.py, which decides and says it all.)
"""

from __future__ import annotations

import sys


def run() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if argv[:1] == ["apply"]:
        from .noop import apply

        try:
            code = apply(argv)
        except KeyboardInterrupt:
            print("jailmgr: interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception:
            code = None
        if code is not None:
            sys.exit(code)
    from .cli import run as full

    full()
