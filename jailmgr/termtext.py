"""Text for a terminal: what a jail wrote is shown, never obeyed.

Journal messages, process names, file names in a jail's tree and anything
else a jail controls may hold escape sequences that retitle or clear the
operator's terminal, move the cursor over jailmgr's own lines, or (with
bidirectional-override characters) make text read differently from what it
is.  Every line jailmgr prints passes through `visible`, which writes such
characters as ``\\xNN`` / ``\\uNNNN``, as journalctl does with unprintable
fields.

A file name from a jail's tree reaches jailmgr as Python decodes file names:
a byte that is not UTF-8 becomes a lone surrogate (surrogateescape), which
no terminal can be written and no JSON reader need accept.  `visible`
writes it as the byte it was (``\\xff``); `valid` makes it U+FFFD, for the
JSON document.
"""

from __future__ import annotations

import re

# C0 and C1 controls but tab, DEL, the Unicode bidirectional overrides/isolates, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_BUT_NEWLINE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xdc80 <= code <= 0xdcff:  # a byte surrogateescape kept: written as that byte
        return f"\\x{code - 0xdc00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """One line, with every control character written out."""
    return _UNSAFE.sub(_escape, text)


def visible_lines(text: str) -> str:
    """Several lines: newlines kept, every other control character written out."""
    return _UNSAFE_BUT_NEWLINE.sub(_escape, text)


def valid(text: str) -> str:
    """`text` with every lone surrogate made U+FFFD: valid Unicode, as JSON must be."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)
