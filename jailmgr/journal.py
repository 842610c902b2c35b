"""Read a jail's journal with python-systemd's journal API (never by running journalctl)."""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from . import procfs
from .problems import JailError


def _reader(unit: str, also: tuple[tuple[str, str], ...] = ()) -> Any:
    try:
        from systemd import journal
    except ImportError as exc:
        raise JailError("python3-systemd is not installed", hint="apt install python3-systemd") from exc
    reader = journal.Reader()
    # The service's own lines, and systemd's lines about the unit (start, exit status).
    reader.add_match(_SYSTEMD_UNIT=unit)
    reader.add_disjunction()
    reader.add_match(UNIT=unit)
    for key, value in also:  # (a jail's socket unit, the slice of its instances with accept: true)
        reader.add_disjunction()
        reader.add_match(**{key: value})
    return reader


# The most of a message kept: journald cuts a service's stdout lines at 48 KiB (LineMax=), but what a
# process sends to the journal socket may be far longer.
MESSAGE_LIMIT = 64 << 10


def field(entry: dict[str, Any], key: str, limit: int = procfs.FIELD) -> str:
    """One field of an entry as text.  python-systemd hands back bytes for a field that is not UTF-8
    (a process name with 0xff, a message in another encoding): decoded with replacement here."""
    value = entry.get(key)
    if value is None or isinstance(value, bytes | str):
        return procfs.text(value, limit)
    return str(value)


def format_entry(entry: dict[str, Any]) -> str:
    when = entry.get("__REALTIME_TIMESTAMP")
    stamp = when.strftime("%b %d %H:%M:%S") if isinstance(when, datetime) else "-"
    ident = field(entry, "SYSLOG_IDENTIFIER") or field(entry, "_COMM") or "?"
    pid = field(entry, "_PID")
    who = f"{ident}[{pid}]" if pid else ident
    message = field(entry, "MESSAGE", MESSAGE_LIMIT)
    prefix = f"{stamp} {who}: "
    # A message of several lines continues indented, as journalctl shows it:
    # a jail can't start a line of its own that looks like jailmgr's.
    # (Control characters are written out where the line is printed.)
    return prefix + message.replace("\n", "\n" + " " * len(prefix))


def as_json(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry for --json: its PID a number, the rest text (valid Unicode)."""
    pid = entry.get("_PID")
    return {"time": field(entry, "__REALTIME_TIMESTAMP"), "pid": pid if isinstance(pid, int) else field(entry, "_PID"),
            "identifier": field(entry, "SYSLOG_IDENTIFIER"), "message": field(entry, "MESSAGE", MESSAGE_LIMIT)}


def _last(reader: Any, lines: int) -> list[dict[str, Any]]:
    """The last `lines` entries a reader matches, oldest first."""
    reader.seek_tail()
    entries = []
    for _ in range(lines):
        entry = reader.get_previous()
        if not entry:
            break
        entries.append(entry)
    return list(reversed(entries))


def tail(unit: str, lines: int, also: tuple[tuple[str, str], ...] = ()) -> list[dict[str, Any]]:
    return _last(_reader(unit, also), lines)


def jail_matches(name: str) -> tuple[tuple[str, str], ...]:
    """What a jail's journal holds beside its service's lines: its socket's (systemd's words about it), and
    every line of the instances of its template (accept: true), which systemd runs in a slice named after it
    (system-jail\\x2dNAME.slice: a '-' of the name is escaped)."""
    socket = f"jail-{name}.socket"
    instances = "system-" + f"jail-{name}".replace("-", "\\x2d") + ".slice"
    return (("_SYSTEMD_UNIT", socket), ("UNIT", socket), ("_SYSTEMD_SLICE", instances))


def follow(unit: str, lines: int, stop: Callable[[], bool] = lambda: False,
           also: tuple[tuple[str, str], ...] = ()) -> Iterator[dict[str, Any]]:
    """The last `lines` entries, then new ones as they arrive, until stop() says so."""
    yield from tail(unit, lines, also)
    reader = _reader(unit, also)
    reader.seek_tail()
    reader.get_previous()
    poll = select.poll()
    poll.register(reader.fileno(), reader.get_events())
    while not stop():
        if poll.poll(500) and reader.process() != 0:
            while True:
                entry = reader.get_next()
                if not entry:
                    break
                yield entry


def last_lines(unit: str, lines: int = 8, program: str | None = None, since: float = 0.0,
               wait: float = 1.0) -> list[str]:
    """For error messages: never fails, an empty list when the journal can't be read.

    With `program` (its SyslogIdentifier=), waits up to `wait` seconds for a
    line of its own logged after `since` (epoch seconds): journald may file
    a program's last words after systemd's lines about its exit.
    """
    try:
        entries = tail(unit, lines)
        deadline = time.monotonic() + wait
        while program and not _said(entries, program, since) and time.monotonic() < deadline:
            time.sleep(0.05)
            entries = tail(unit, lines)
        return [format_entry(e) for e in entries]
    except Exception:  # a failing journal must not hide the error being reported
        return []


def _said(entries: list[dict[str, Any]], program: str, since: float) -> bool:
    for entry in entries:
        when = entry.get("__REALTIME_TIMESTAMP")
        if entry.get("SYSLOG_IDENTIFIER") == program and isinstance(when, datetime) and when.timestamp() >= since:
            return True
    return False


def record_action(jail: str, action: str, message: str, **fields: str) -> None:
    """Log one of jailmgr's own actions to the journal, with JAIL= and ACTION= fields.

    Best effort: without python-systemd or a journal (a chroot, a container
    without journald) the action still happens; it is printed anyway.
    """
    try:
        # python-systemd's C extension alone (systemd.journal also imports logging, uuid and more: 7 ms of an
        # apply), which sends each field as is, with newlines and all.
        from systemd._journal import sendv

        sendv(f"MESSAGE={message}", "PRIORITY=6", "SYSLOG_IDENTIFIER=jailmgr", f"JAIL={jail}", f"ACTION={action}",
              *(f"{key.upper()}={value}" for key, value in fields.items()))
    except Exception:  # logging must never turn a done action into a failure
        pass

