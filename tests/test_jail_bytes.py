"""Bytes from the jail are data: hostile bytes fed to every parser of what a jail can write.

Process names and argv with 0xff, invalid UTF-8, escapes and bidi
overrides; lines a megabyte long; 16,000 deleted mappings.  Nothing raises,
everything comes out as valid Unicode (JSON that parses), and what is shown
passes termtext with no control character left.  No test here times anything:
bench/stale_bench.py measures stale's growth.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jailmgr import audit, journal, procfs
from jailmgr.termtext import visible, visible_lines

# Lone surrogates, as os.fsdecode makes of a byte that is not UTF-8 (hypothesis leaves them out by default).
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)  # (as Debian's older hypothesis can say it too)
HOSTILE = b"\xff\xfe\x1b]0;owned\x07\x1b[2J\xe2\x80\xae\xc3(\xed\xa0\x80name"  # 0xff, OSC, CSI, RLO, bad UTF-8


def valid_json(value: object) -> object:
    """The value through json and back, with no lone surrogate (strict UTF-8 encoding of the text)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text.encode("utf-8")  # raises on a lone surrogate
    return json.loads(text)


def shown_clean(text: str) -> bool:
    return not any((ord(c) < 0x20 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f or c == "\u202e"
                   for c in visible_lines(text))


# --- text, lines, capped reads ------------------------------------------------------------------------

@given(st.binary(max_size=300))
def test_any_bytes_become_valid_unicode(data: bytes) -> None:
    out = procfs.text(data)
    out.encode("utf-8")
    assert shown_clean(out) and "\x1b" not in visible(out)


@given(st.lists(SURROGATES | st.characters()).map("".join))
def test_a_str_with_lone_surrogates_becomes_valid_unicode(value: str) -> None:
    procfs.text(value).encode("utf-8")


def test_text_is_bounded() -> None:
    assert procfs.text(b"a" * 100_000, 10) == "a" * 10 + "..."
    assert len(procfs.text(b"\xff" * 1_000_000)) <= procfs.FIELD + 3


def test_a_capped_read_stops_at_its_cap_and_drops_the_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"first\n" + b"x" * (4 << 20) + b"\nlast\n")
    data, truncated = procfs.read_capped(str(path), 1 << 20)
    assert truncated and len(data) == 1 << 20
    assert procfs.lines(data, truncated) == [b"first"]
    data, truncated = procfs.read_capped(str(path), 8 << 20)
    assert not truncated and procfs.lines(data)[-1] == b"last"
    assert procfs.lines(b"") == []


# --- /proc/PID/status, cmdline: a real process with a hostile name ------------------------------------

@pytest.fixture
def hostile_process() -> subprocess.Popen[bytes]:
    """A child that renames itself (/proc/self/comm, as prctl(PR_SET_NAME)) to bytes with 0xff and an
    escape, with the same bytes in its argv."""
    code = ("import sys, time\nopen('/proc/self/comm', 'wb').write(sys.argv[1].encode('utf-8', 'surrogateescape'))\n"
            "print('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([HOSTILE[:15], "-c", code, HOSTILE[:15]], executable=sys.executable,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    yield proc
    proc.kill()
    proc.wait()


def test_a_process_named_with_0xff_is_read_without_error(hostile_process: subprocess.Popen[bytes]) -> None:
    pid = hostile_process.pid
    assert b"\xff" in Path(f"/proc/{pid}/status").read_bytes()  # the hostile name is really there
    fields = procfs.status_fields(pid, ("Name", "Uid", "CapBnd", "NoNewPrivs"))
    assert "\ufffd" in fields["Name"] and fields["Uid"] and fields["CapBnd"]
    assert "\ufffd" in procfs.command(pid) and "\x1b" not in visible(procfs.command(pid))
    seen = procfs.observe(pid, launched=False)
    assert seen.confinement["CapBnd"] and pid in seen.pids
    valid_json(dataclasses.asdict(seen))
    assert procfs.processes()[pid].ppid > 0


def test_status_with_every_kind_of_hostile_name() -> None:
    for name in (HOSTILE, b"\xff" * 64, b"a:b:c", b"\x00\x01", b")) (", b"x" * 100_000):
        status = b"Name:\t" + name + b"\nUid:\t0\t0\t0\t0\nCapBnd:\t000001ffffffffff\nNoNewPrivs:\t1\n"
        fields = procfs.parse_status(status, ("Name", "Uid", "CapBnd", "NoNewPrivs"))
        assert fields["Uid"] == "0\t0\t0\t0" and fields["NoNewPrivs"] == "1"
        valid_json(fields)


# --- maps: deleted mappings ---------------------------------------------------------------------------

def maps_line(path: bytes, deleted: bool = True, at: int = 0) -> bytes:
    start = 0x7f0000000000 + at * 0x1000
    tail = b" (deleted)" if deleted else b""
    return b"%x-%x r--p 00000000 00:1a 4242                       %s%s\n" % (start, start + 0x1000, path, tail)


def test_deleted_mappings_are_found_once_each_in_order() -> None:
    data = b"".join([maps_line(b"/usr/lib/libc.so.6", at=0), maps_line(b"/usr/lib/libc.so.6", at=1),
                     maps_line(b"/usr/lib/libz.so.1", deleted=False, at=2), maps_line(b"/memfd:x", at=3),
                     maps_line(b"/dev/zero", at=4), maps_line(b"/SYSV00000000", at=5),
                     maps_line(b"/lib/" + HOSTILE, at=6), b"7f-80 rw-p 00000000 00:00 0 [heap]\n",
                     b"garbage\xff (deleted)\n", maps_line(b"/usr/lib/libssl.so.3", at=7)])
    found = audit.parse_deleted(data)
    assert found[0] == "/usr/lib/libc.so.6" and found[-1] == "/usr/lib/libssl.so.3" and len(found) == 3
    assert "\ufffd" in found[1]
    valid_json(found)


def test_16000_long_deleted_mappings_and_a_huge_line() -> None:
    stem = b"/usr/lib/x86_64-linux-gnu/" + b"l" * 180
    lines = [maps_line(stem + b"-%06d.so" % i, at=i) for i in range(16000)]
    lines.insert(8000, maps_line(b"/" + b"h" * (1 << 20), at=99999))  # far longer than PATH_MAX
    data = b"".join(lines * 2)  # every file mapped twice
    found = audit.parse_deleted(data)
    assert len(found) == 16001 and found[0].endswith("-000000.so") and found[-1].endswith("-015999.so")
    # A read the cap cut: the cut line is not taken for a whole one.
    cut = data[:len(data) // 3]
    assert all(len(p) in (len(stem) + 10, procfs.FIELD + 3) for p in audit.parse_deleted(cut, truncated=True))


def test_stale_files_of_a_process_that_maps_deleted_files(tmp_path: Path) -> None:
    import mmap
    import os

    maps = []
    for i in range(50):
        path = tmp_path / f"gone{i}.so"
        path.write_bytes(b"\0" * mmap.PAGESIZE)
        with open(path, "rb") as f:
            maps.append(mmap.mmap(f.fileno(), mmap.PAGESIZE, prot=mmap.PROT_READ))
        path.unlink()
    try:
        found = audit.stale_files([os.getpid()])
        assert {str(tmp_path / f"gone{i}.so") for i in range(50)} <= set(found)
    finally:
        for m in maps:
            m.close()


# --- mountinfo ------------------------------------------------------------------------------------

def test_mountinfo_with_hostile_names_and_broken_lines() -> None:
    data = (b"22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
            b"23 22 0:22 / /data/" + HOSTILE + b" rw,nosuid - tmpfs tmpfs rw\n"
            b"short line\n"
            b"24 22 0:23 / /proc ro,nosuid master:2 - proc proc rw\n"
            b"25 22 0:24 / /x rw no separator here\n"
            b"26 22 0:25 / /y rw -\n" + b"x" * 1_000_000 + b"\n")
    mounts = audit.parse_mountinfo(data)
    assert mounts[0].point == "/" and mounts[-1].point == "/proc" and len(mounts) == 3
    assert "\ufffd" in mounts[1].point and mounts[1].fstype == "tmpfs"
    assert audit._writable_mounts(mounts)[0] == "/ (ext4)"
    assert audit._proc_sys(1, mounts) == "read-only"
    assert all(shown_clean(line) for line in audit._writable_mounts(mounts))


# --- the journal ------------------------------------------------------------------------------------

def test_journal_fields_in_bytes_are_text() -> None:
    """python-systemd returns bytes for a field that is not UTF-8: the name, the message, anything."""
    entry = {"__REALTIME_TIMESTAMP": datetime(2026, 1, 2, 3, 4, 5), "_COMM": HOSTILE, "_PID": 7,
             "MESSAGE": b"hi \xff\x1b[2J" + b"m" * 1_000_000}
    line = journal.format_entry(entry)
    assert line.startswith("Jan 02 03:04:05 \ufffd") and "b'" not in line
    assert len(line) < journal.MESSAGE_LIMIT + 200 and shown_clean(line)
    doc = valid_json(journal.as_json(entry))
    assert isinstance(doc, dict) and doc["pid"] == 7 and doc["message"].startswith("hi \ufffd")
    assert journal.as_json({"SYSLOG_IDENTIFIER": b"\xff"})["identifier"] == "\ufffd"


# --- one way in ----------------------------------------------------------------------------------------

# Files of /proc opened outside procfs: what only the kernel writes, never a jail.
KERNEL_ONLY = {("audit", "/proc/stat"), ("linux", "/proc/sys/kernel/cap_last_cap"),
               ("safefs", "/proc/self/fdinfo/{}"), ("enter", "/proc/{}/{}_map"), ("enter", "/proc/{}/limits"),
               ("enter", "/proc/{}/ns/{}"), ("userns", "/proc/{}/{}"), ("preflight", "/proc"),
               ("safefs", "/proc/self/fd/{}")}  # (safefs.open_regular: its own O_PATH descriptor, reopened)


def _proc_opens() -> set[tuple[str, str]]:
    found = set()
    for path in Path(procfs.__file__).parent.glob("*.py"):
        if path.stem == "procfs":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                    in ("open", "listdir", "read_text", "read_bytes"):
                first = node.args[0]
                text = first.value if isinstance(first, ast.Constant) else "".join(
                    v.value if isinstance(v, ast.Constant) else "{}" for v in getattr(first, "values", []))
                if isinstance(text, str) and text.startswith("/proc"):
                    found.add((path.stem, text))
    return found


def test_only_procfs_reads_what_a_jail_writes_in_proc() -> None:
    assert _proc_opens() - KERNEL_ONLY == set()


def test_nothing_decodes_strictly_what_comes_from_outside() -> None:
    """No `encoding=` without `errors=` where /proc or the journal is read."""
    strict = []
    for stem in ("procfs", "audit", "journal", "cli_ops", "apply"):
        for node in ast.walk(ast.parse((Path(procfs.__file__).parent / f"{stem}.py").read_text())):
            if isinstance(node, ast.Call):
                words = {k.arg for k in node.keywords}
                if "encoding" in words and "errors" not in words and not any(
                        isinstance(k.value, ast.Constant) and k.value.value == "ascii" for k in node.keywords):
                    strict.append(f"{stem}:{node.lineno}")
    assert strict == []


# --- file names of a jail's tree: surrogateescape never reaches the terminal or the JSON ------------------

@given(st.lists(SURROGATES | st.characters()).map("".join))
def test_shown_text_is_always_printable_utf8(value: str) -> None:
    visible(value).encode("utf-8")
    visible_lines(value).encode("utf-8")


def test_a_name_with_a_byte_that_is_not_utf8_is_shown_as_that_byte_and_is_json_as_replacement(
        capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import os

    from jailmgr.output import Output

    name = os.fsdecode(b"/data/raw\xff\x1b[2Jname")  # as os.scandir hands it over
    assert visible(f"{name}: world-writable") == "/data/raw\\xff\\x1b[2Jname: world-writable"
    out = Output(argparse.Namespace(json=True, quiet=False, verbose=False))
    out.doc["jails"] = [{"findings": [f"{name}: world-writable"], name: 1}]
    out.finish(0)
    text = capsys.readouterr().out
    text.encode("utf-8")
    doc = json.loads(text)
    assert doc["jails"][0]["findings"] == ["/data/raw\ufffd\x1b[2Jname: world-writable"]
    assert "\\udcff" not in text
