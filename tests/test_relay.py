"""The relay of `jailmgr exec` ends with the command, not with whatever holds its streams."""

from __future__ import annotations

import contextlib
import errno
import os
import select
from collections.abc import Iterator

import pytest

from jailmgr.relay import Io


@pytest.fixture()
def quiet_stdin() -> Iterator[None]:
    """The relay reads the operator's stdin (fd 0): /dev/null here, so it reads nothing of pytest's."""
    saved = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def _pipes_io(out_to: int) -> Io:
    (in_r, in_w), (out_r, out_w), (err_r, err_w) = (os.pipe() for _ in range(3))
    return Io(False, (in_r, out_w, err_w), in_w, [(out_r, out_to), (err_r, out_to)])


def _left_behind(io: Io, go: int, report: int) -> None:
    """A process the command forked: it keeps the command's pipes, waits for `go` (or 10 s), then
    writes once more and says what happened."""
    if not select.select([go], [], [], 10)[0]:
        os.write(report, b"never let go")
        os._exit(0)
    try:
        os.write(io.child[1], b"written after exec returned\n")
        os.write(report, b"written")
    except OSError as exc:
        os.write(report, errno.errorcode[exc.errno].encode())
    os._exit(0)


def test_the_relay_returns_when_the_command_exits_and_breaks_the_pipes(quiet_stdin: None) -> None:
    shown_r, shown_w = os.pipe()  # the operator's stdout and stderr
    io = _pipes_io(shown_w)
    go_r, go_w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command: it holds its side only, as exec's child does after closing the rest
        for fd in (go_w, report_r, shown_r, shown_w, io.ours_in, *(src for src, _ in io.ours_out)):
            os.close(fd)
        if os.fork() == 0:
            _left_behind(io, go_r, report_w)
        os.write(io.child[1], b"the command's last words\n")
        os._exit(3)
    os.close(go_r)
    os.close(report_w)
    exited = os.pidfd_open(pid)
    try:
        status = io.relay(pid, exited)
    finally:
        os.close(exited)
    with contextlib.suppress(BrokenPipeError):  # it gave up waiting: the relay held on as long as it lived
        os.write(go_w, b"g")  # only now may the left-behind process write again
    report = os.read(report_r, 100)
    os.close(shown_w)
    shown = b""
    while chunk := os.read(shown_r, 65536):
        shown += chunk
    assert os.waitstatus_to_exitcode(status) == 3
    assert shown == b"the command's last words\n"
    assert report == b"EPIPE"  # the pipe was closed when exec returned, not when its last writer left
