"""The operator's terminal and a command in a jail, kept apart (imports nothing from jailmgr).

A command run by `jailmgr exec` is a jail process like any other: the jail
can take it over.  Given the operator's terminal, it could push keystrokes
into it with TIOCSTI (or TIOCLINUX), which the operator's shell would then
run as host root.  So it never gets a descriptor of the host: on a terminal
it gets a new pseudo-terminal of its own, as the controlling terminal of a
new session; otherwise, pipes.  This process, outside the jail, copies bytes
between the two sides, and nothing else.

It copies for as long as the command runs, not as long as its streams are
open: a process the command forked may keep them (to print a fake prompt
and read what the operator types next, or to hold a script's pipe).  When
the command exits (its pidfd says so), our stdin is no longer read, what
its side already holds is copied (at most DRAIN bytes a stream), and our
ends are closed: the pty is hung up, the pipes broken.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import termios
import tty
from dataclasses import field

from .quickdata import dataclass


@dataclass
class Io:
    """The command's side (`child`, for fds 0, 1, 2) and ours (`ours`: what we copy to and from)."""

    terminal: bool
    child: tuple[int, int, int]
    ours_in: int  # where our stdin goes (-1: nowhere)
    ours_out: list[tuple[int, int]] = field(default_factory=list)  # (read from, write to our fd)

    @classmethod
    def create(cls) -> Io:
        if os.isatty(0) and os.isatty(1):
            master, slave = os.openpty()
            os.set_inheritable(master, False)
            _copy_size(0, slave)
            return cls(True, (slave, slave, slave), master, [(master, 1)])
        pipes = [os.pipe() for _ in range(3)]
        for r, w in pipes:
            os.set_inheritable(r, False)
            os.set_inheritable(w, False)
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = pipes
        return cls(False, (in_r, out_w, err_w), in_w, [(out_r, 1), (err_r, 2)])

    def attach_child(self) -> None:
        """In the command's process, in its new session: the std fds become the command's side."""
        if self.terminal:
            fcntl.ioctl(self.child[0], termios.TIOCSCTTY, 0)
        for target, fd in enumerate(self.child):
            os.dup2(fd, target)

    def relay(self, pid: int, exited: int) -> int:
        """Copy until the command itself exits (`exited`: its pidfd), then let go of everything; its wait status."""
        for fd in set(self.child):
            os.close(fd)
        saved = None
        if self.terminal:
            saved = termios.tcgetattr(0)
            tty.setraw(0)
            signal.signal(signal.SIGWINCH, lambda *_: _copy_size(0, self.ours_in))
        try:
            self._copy(exited)
        finally:
            self._close()
            if saved is not None:
                signal.signal(signal.SIGWINCH, signal.SIG_DFL)
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
        _, status = os.waitpid(pid, 0)
        return status

    def _copy(self, exited: int) -> None:
        """Both ways while the command runs; then only what its side already holds, at most DRAIN bytes a stream.

        The end is the command's exit, never the end of its streams: a
        process it left behind may hold them for as long as it likes.  Our
        stdin is read only when the command's side has taken what came
        before (nothing waits on a full pipe or pty), and not at all once
        the command is gone.
        """
        reading = dict(self.ours_out)
        os.set_blocking(self.ours_in, False)
        pending = b""  # read from our stdin, not yet taken by the command
        stdin_open = True
        while True:
            watch = [exited, *reading] + ([0] if stdin_open and not pending else [])
            try:
                ready, writable, _ = select.select(watch, [self.ours_in] if pending else [], [])
            except InterruptedError:
                continue
            if exited in ready:
                break
            if writable:
                pending = self._feed(pending)
            for fd in ready:
                data = _read(fd)
                if data is None:
                    continue
                if fd == 0:
                    pending = self._feed(data) if data else b""
                    stdin_open = bool(data) and self.ours_in >= 0
                elif data:
                    _write_all(reading[fd], data)
                else:
                    del reading[fd]
            if not stdin_open and not pending and not self.terminal:
                self._close_input()  # the command sees the end of its input
        for src, dst in reading.items():
            _drain(src, dst)

    def _feed(self, data: bytes) -> bytes:
        """Give the command what it will take now; the rest.  Its side gone, the data is dropped."""
        if self.ours_in < 0:
            return b""
        try:
            return data[os.write(self.ours_in, data):]
        except BlockingIOError:
            return data
        except OSError as exc:  # EPIPE: nothing reads its stdin any more; EIO: its pty side is closed
            if exc.errno not in (errno.EPIPE, errno.EIO):
                raise
            if not self.terminal:
                self._close_input()
            return b""

    def _close_input(self) -> None:
        if self.ours_in >= 0:
            os.close(self.ours_in)
            self.ours_in = -1

    def _close(self) -> None:
        """Every descriptor of ours the command's side is joined to: closing the pty's master hangs up
        its side for whatever still holds it (reads see end of file, writes fail); a pipe's writers
        get EPIPE."""
        for fd in {self.ours_in, *(src for src, _ in self.ours_out)} - {-1}:
            os.close(fd)
        self.ours_in = -1
        self.ours_out = []


DRAIN = 1 << 20  # the largest pipe an unprivileged process may make (fs.pipe-max-size's default)


def _read(fd: int, size: int = 65536) -> bytes | None:
    """What fd holds now (None: nothing yet); b"" at its end (a pty's master reads EIO once the
    command's side is closed)."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno != errno.EIO:
            raise
        return b""


def _drain(src: int, dst: int) -> None:
    """Copy what src already holds, up to DRAIN bytes; never wait for more."""
    os.set_blocking(src, False)
    left = DRAIN
    while left > 0:
        data = _read(src, min(65536, left))
        if not data:
            return
        _write_all(dst, data)
        left -= len(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BrokenPipeError:
            return  # the other side left: what it didn't read is dropped


def _copy_size(src: int, dst: int) -> None:
    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass
