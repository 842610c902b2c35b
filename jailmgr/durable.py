"""When what jailmgr writes reaches the disk: each file at once, or a whole apply's files together.

A file written alone (a unit, a record, a tree file) is fsync'd, with its
directory, before it counts as written.  An apply of many jails wrote 22
files a jail that way, and their fsyncs were a quarter of a 500-jail apply
(20 of 89 s here).  Inside `batch()` the writes are only noted, and
`flush()` makes them durable with one syncfs(2) per file system written, at
the points where order matters: the records' restart intents before any
tree changes, the trees and units before any start, the final records at
the end.  A crash before a flush loses only writes that the next apply
redoes, since no record claimed them yet.
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False  # (typing costs milliseconds at startup; only the checkers need it)
if TYPE_CHECKING:
    from collections.abc import Iterator

_pending: dict[int, int] | None = None  # while batched: st_dev -> an open descriptor on that file system


def batched() -> bool:
    return _pending is not None


def sync_dir(fd: int) -> None:
    """A directory's new entries (and the files just written in it) are durable: now, or at the next flush."""
    if _pending is None:
        os.fsync(fd)
        return
    dev = os.fstat(fd).st_dev
    if dev not in _pending:
        _pending[dev] = os.dup(fd)


def _syncfs(fd: int) -> None:
    import ctypes  # (only a batched apply pays its import)

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syncfs: {os.strerror(err)}")


def flush() -> None:
    """Make every write noted so far durable, one syncfs per file system."""
    if not _pending:
        return
    try:
        for fd in _pending.values():
            _syncfs(fd)
    finally:
        for fd in _pending.values():
            os.close(fd)
        _pending.clear()


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Writes inside are made durable by flush() (called on the way out too), not one by one."""
    global _pending
    if _pending is not None:  # (nested: the outer batch flushes)
        yield
        return
    _pending = {}
    try:
        yield
        flush()
    finally:
        with contextlib.suppress(OSError):
            flush()
        _pending = None
