"""What every command shares: the exit codes, the output (for people or one JSON document), the root check.

Its own module so that the command modules (cli, cli_ops) import it, never each other.
"""

from __future__ import annotations

import argparse
import os
import sys

from .problems import JailError, Problem
from .termtext import valid, visible, visible_lines

TYPE_CHECKING = False  # typing costs milliseconds at startup; it is only needed by checkers
if TYPE_CHECKING:
    from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class Output:
    """Prints for people, or gathers one JSON document for machines."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = args.json
        self.quiet = args.quiet
        self.verbose = args.verbose
        self.doc: dict[str, Any] = {}

    # Everything printed for people goes through termtext: names, paths and
    # messages may come from a jail.  The JSON document is escaped by json.

    def line(self, text: str = "") -> None:
        if not self.json and not self.quiet:
            print(visible(text))

    def block(self, text: str) -> None:
        """Several lines at once (a unit file, a multi-line journal message)."""
        if not self.json and not self.quiet:
            print(visible_lines(text))

    def detail(self, text: str) -> None:
        if self.verbose and not self.json:
            print(visible(text), file=sys.stderr)

    def warn(self, text: str) -> None:
        print(f"jailmgr: warning: {visible(text)}", file=sys.stderr)
        self.doc.setdefault("warnings", []).append(text)

    def error(self, text: str, hint: str | None = None) -> None:
        print(f"jailmgr: error: {visible_lines(text)}", file=sys.stderr)
        if hint:
            print(f"jailmgr: hint: {visible(hint)}", file=sys.stderr)
        self.doc.setdefault("errors", []).append(text)

    def problems(self, problems: list[Problem]) -> None:
        for problem in problems:
            print(visible(str(problem)), file=sys.stderr)
        self.doc["problems"] = [p.as_dict() for p in problems]

    def finish(self, code: int) -> int:
        if self.json:
            import json

            self.doc.setdefault("ok", code != EXIT_ERROR)
            json.dump(_valid(self.doc), sys.stdout, indent=2, sort_keys=True, default=str)
            sys.stdout.write("\n")
        return code


def _valid(value: Any) -> Any:
    """The document with no lone surrogate in any string (a file name of a jail's tree may hold one)."""
    if isinstance(value, str):
        return valid(value)
    if isinstance(value, dict):
        return {valid(k) if isinstance(k, str) else k: _valid(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid(v) for v in value]
    return value


def require_root(command: str) -> None:
    if os.geteuid() != 0:
        raise JailError(f"'jailmgr {command}' must run as root (it builds trees and manages systemd units)",
                        hint="run it with sudo, or as root")


def read_stdin_as(args: argparse.Namespace) -> None:
    """--stdin-as PATH: PATH's text comes from standard input; PATH joins the paths if it is not there."""
    path = getattr(args, "stdin_as", None)
    if not path:
        return
    from . import spec

    path = os.path.abspath(path)
    spec.STDIN[path] = sys.stdin.read()
    paths = [os.path.abspath(p) for p in (getattr(args, "paths", None) or [])]
    if hasattr(args, "paths") and path not in paths and os.path.dirname(path) not in paths:
        args.paths = [*(args.paths or []), path]
