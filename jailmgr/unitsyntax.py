"""Escape values for systemd unit files (systemd.syntax(7), systemd.service(5)).

Every value that reaches a unit passes through here.  The rules:
- ``%`` starts a specifier everywhere: written ``%%``.
- In Exec lines ``$`` starts a variable: written ``$$``.
- Words are split on whitespace and unquoted with C escapes: a word with
  whitespace, a quote or a backslash (or an empty one) is double-quoted with
  ``\\`` and ``\"`` escaped.
- A lone ``;`` separates commands in Exec lines: written ``\\;``.
- A line ending in ``\\`` would continue on the next line, and a newline
  would start a new directive: values with control characters are refused.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NEEDS_QUOTES = re.compile(r"[\s\"'\\]")


class UnitValueError(ValueError):
    """A value that can't be written into a unit safely."""


def _check(value: str) -> None:
    if _CONTROL.search(value):
        raise UnitValueError(f"{value!r} contains a control character")


def specifiers(value: str) -> str:
    _check(value)
    return value.replace("%", "%%")


def text(value: str) -> str:
    """A free-text value (Description=): no quoting is read, so only specifiers and continuations matter."""
    value = specifiers(value)
    if value.endswith("\\"):
        raise UnitValueError(f"{value!r} ends with a backslash, which would continue the line")
    return value


def quote(word: str) -> str:
    """One word as systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) reads it back."""
    _check(word)
    if word and not _NEEDS_QUOTES.search(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_argv(argv: list[str] | tuple[str, ...], wrap: int = 0) -> str:
    """The value of an ExecStart= line that systemd turns back into exactly argv.

    With `wrap`, a long line is continued (a trailing backslash, which systemd
    reads as a space) before an option word (`--...`) once it passes `wrap`
    characters: only ever between words, never inside a quoted one.
    """
    if not argv or not argv[0].startswith("/"):
        raise UnitValueError("argv[0] must be an absolute path")
    words = []
    for arg in argv:
        arg = specifiers(arg).replace("$", "$$")
        if arg == ";":
            words.append("\\;")
        else:
            words.append(quote(arg))
    if not wrap:
        return " ".join(words)
    lines, current = [], words[0]
    for word in words[1:]:
        if word.startswith("--") and len(current) > wrap:
            lines.append(current)
            current = "    " + word
        else:
            current += " " + word
    lines.append(current)
    return " \\\n".join(lines)


def assignment(name: str, value: str) -> str:
    """One Environment= assignment."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UnitValueError(f"{name!r} is not an environment variable name")
    return quote(specifiers(f"{name}={value}"))


_PATH_OK = re.compile(r"/[^\s\"'\\:\x00-\x1f\x7f]*")


def path(value: str) -> str:
    """A path in a path-list directive: spaces, quotes, backslashes and colons are refused."""
    if not _PATH_OK.fullmatch(value):
        raise UnitValueError(f"{value!r} can't be written into a unit (spaces, quotes, backslashes, colons)")
    return specifiers(value)


_KEY = re.compile(r"[A-Z][A-Za-z]*")
_WRAP = " \\\n    "  # what exec_argv(wrap=...) puts between two words


def line(key: str, value: str) -> str:
    """One directive, `Key=value`: the one gate every line of a unit passes through.

    Whatever built the value (an escaper above, a number, a constant), the
    line must not hold a control character that would start a new directive,
    nor end with a backslash that would swallow the next line.  Only the
    continuations exec_argv makes itself, between two words, pass.
    """
    if not _KEY.fullmatch(key):
        raise UnitValueError(f"{key!r} is not a directive name")
    flat = value.replace(_WRAP, " ") if key.startswith("Exec") else value
    _check(flat)
    if flat.endswith("\\"):
        raise UnitValueError(f"{key}={value!r} ends with a backslash, which would continue the line")
    return f"{key}={value}"


def unit_file(header: list[str], sections: list[tuple[str, list[str]]]) -> str:
    """A whole unit: comment lines, then [Section]s of `Key=value` lines, each through line()."""
    out = []
    for comment in header:
        _check(comment)
        if comment.endswith("\\"):
            raise UnitValueError(f"{comment!r} ends with a backslash")
        out.append(f"# {comment}")
    for i, (name, directives) in enumerate(sections):
        out += [""] if i else []
        out.append(f"[{name}]")
        for directive in directives:
            key, sep, value = directive.partition("=")
            if not sep:
                raise UnitValueError(f"{directive!r} is not a Key=value line")
            out.append(line(key, value))
    return "\n".join(out) + "\n"


def bind(source: str, target: str, options: str = "") -> str:
    if options:
        return f"{path(source)}:{path(target)}:{options}"
    return path(source) if source == target else f"{path(source)}:{path(target)}"
