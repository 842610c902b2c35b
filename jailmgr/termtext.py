"""Text for a terminal: what a jail wrote is shown, never obeyed.

Journal messages, process names, file names in a jail's tree and anything
else a jail controls may hold escape sequences that retitle or clear the
operator's terminal, move the cursor over jailmgr's own lines, or (with
bidirectional-override characters) make text read differently from what it
is.  Every line jailmgr prints passes through `visible`, which writes such
characters as ``\\xNN`` / ``\\uNNNN``, as journalctl does with unprintable
fields.
"""

from __future__ import annotations

import re

# C0 and C1 controls but tab, DEL, and the Unicode bidirectional overrides/isolates.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """One line, with every control character written out."""
    return _UNSAFE.sub(_escape, text)


def visible_lines(text: str) -> str:
    """Several lines: newlines kept, every other control character written out."""
    return _UNSAFE_BUT_NEWLINE.sub(_escape, text)
