"""What a jail wrote reaches the operator's terminal as text, never as escape sequences."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from jailmgr import journal
from jailmgr.termtext import visible, visible_lines


def test_escape_sequences_are_written_out() -> None:
    assert visible("\x1b]0;owned\x07title") == "\\x1b]0;owned\\x07title"
    assert visible("a\nb\rc\x9bd") == "a\\x0ab\\x0dc\\x9bd"
    assert visible("evil\u202etxt.exe") == "evil\\u202etxt.exe"
    assert visible("plain text, ünïcode ok") == "plain text, ünïcode ok"
    assert visible_lines("one\ntwo\x1b[2J") == "one\ntwo\\x1b[2J"


@given(st.text())
def test_nothing_unsafe_survives(text: str) -> None:
    shown = visible(text)
    assert not any((ord(c) < 0x20 and c != "\t") or 0x7f <= ord(c) <= 0x9f for c in shown)
    assert "\n" not in shown


def test_a_journal_message_cannot_start_a_line_of_its_own() -> None:
    entry = {"__REALTIME_TIMESTAMP": datetime(2026, 1, 2, 3, 4, 5), "SYSLOG_IDENTIFIER": "vsftpd", "_PID": 7,
             "MESSAGE": "hello\njailmgr: ftp: destroyed\x1b[1A"}
    lines = visible_lines(journal.format_entry(entry)).split("\n")
    assert lines[0] == "Jan 02 03:04:05 vsftpd[7]: hello"
    assert lines[1].startswith(" ") and lines[1].strip() == "jailmgr: ftp: destroyed\\x1b[1A"
