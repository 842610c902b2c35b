"""The operator's terminal and a command in a jail, kept apart (imports nothing from jailmgr).

A command run by `jailmgr exec` is a jail process like any other: the jail
can take it over.  Given the operator's terminal, it could push keystrokes
into it with TIOCSTI (or TIOCLINUX), which the operator's shell would then
run as host root.  So it never gets a descriptor of the host: on a terminal
it gets a new pseudo-terminal of its own, as the controlling terminal of a
new session; otherwise, pipes.  This process, outside the jail, copies bytes
between the two sides, and nothing else.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import sys
import termios
import tty
from dataclasses import dataclass, field


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

    def relay(self, pid: int) -> int:
        """Copy until the command is gone; its wait status."""
        for fd in set(self.child):
            os.close(fd)
        saved = None
        if self.terminal:
            saved = termios.tcgetattr(0)
            tty.setraw(0)
            signal.signal(signal.SIGWINCH, lambda *_: _copy_size(0, self.ours_in))
        try:
            self._copy()
        finally:
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
        _, status = os.waitpid(pid, 0)
        return status

    def _copy(self) -> None:
        reading = {src: dst for src, dst in self.ours_out}
        stdin_open = True
        while reading:
            watch = list(reading) + ([0] if stdin_open else [])
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError as exc:  # a pty's master reads EIO once the command's side is closed
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if fd == 0:
                    if data:
                        _write_all(self.ours_in, data)
                    else:
                        stdin_open = False
                        if not self.terminal:
                            os.close(self.ours_in)  # the command sees end of file
                    continue
                if data:
                    _write_all(reading[fd], data)
                    if reading[fd] == 1:
                        sys.stdout.flush()
                else:
                    os.close(fd)
                    del reading[fd]
        if stdin_open and not self.terminal:
            os.close(self.ours_in)


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
