"""Errors as values: every problem carries the place it was found."""

from __future__ import annotations

import re

from .quickdata import dataclass

_LAST_PART = re.compile(r"(\.[^.\[]*|\[[0-9]+\])$")


def parent_key(key: str) -> str:
    """`tree.files[0].path` -> `tree.files[0]` -> `tree.files` -> `tree` -> ``."""
    shorter = _LAST_PART.sub("", key)
    return "" if shorter == key else shorter


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a jail file, printed as ``FILE:LINE:COL: key.path: message[; hint: what to do]``."""

    file: str
    line: int
    col: int
    key: str
    message: str
    hint: str = ""  # what to do about it, when the message alone does not say (the host's own name, the fix)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        said = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{said}; hint: {self.hint}" if self.hint else said

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"file": self.file, "line": self.line, "column": self.col,
                                    "key": self.key, "message": self.message}
        if self.hint:
            found["hint"] = self.hint
        return found


class JailError(Exception):
    """A failure to report to the user once, without a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class InvalidJails(JailError):
    """One or more jail files are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in jail files")
        self.problems = problems
