"""No set-user-ID or set-group-ID files from a jail, where systemd's RestrictSUIDSGID= can't be used.

systemd >= 257 makes RestrictSUIDSGID= refuse openat2() with ENOSYS (its
arguments can't be inspected), and bubblewrap >= 0.11 (Debian 13) opens its
bind sources with openat2() and gives up: "bwrap: Can't open source ...:
Function not implemented".  So launcher units on such systems leave that
directive out, and bubblewrap installs this filter (`--seccomp FD`, the
file opened by the unit's OpenFile=) right before it runs the program: the
same rules, applied after bubblewrap's own set-up.

The rules, as systemd's: chmod, fchmod, fchmodat with S_ISUID or S_ISGID;
open, openat and creat that create (O_CREAT, O_TMPFILE) with those bits;
mknod and mknodat with them: EPERM; openat2: ENOSYS, so libc falls back to
openat, which the filter can read.  Built with libseccomp (python3-seccomp)
as classic BPF for this machine's architecture.
"""

from __future__ import annotations

import errno
import os

from . import paths

FILTER_PATH = paths.NOSETID_FILTER
FD = 3  # the first (and only) OpenFile= of a unit
S_ISUID, S_ISGID = 0o4000, 0o2000
O_CREAT, O_TMPFILE = 0o100, 0o20000000


_BPF: list[bytes] = []


def bpf() -> bytes:
    """The filter, built once per run."""
    if not _BPF:
        _BPF.append(_build())
    return _BPF[0]


def _build() -> bytes:
    import seccomp

    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    flt.set_attr(seccomp.Attr.CTL_NNP, 0)  # (only exported here; bwrap loads it)
    def has(index: int, bits: int) -> seccomp.Arg:
        return seccomp.Arg(index, seccomp.MASKED_EQ, bits, bits)

    for bit in (S_ISUID, S_ISGID):
        for name, mode_arg in (("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("creat", 1), ("mknod", 1),
                               ("mknodat", 2)):
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name, has(mode_arg, bit))
        for create in (O_CREAT, O_TMPFILE):
            for name, flags_arg in (("open", 1), ("openat", 2)):
                flt.add_rule(seccomp.ERRNO(errno.EPERM), name, has(flags_arg, create), has(flags_arg + 1, bit))
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "openat2")
    # (a memfd: tempfile and what it imports, shutil and random, cost an apply 3 ms)
    with os.fdopen(os.memfd_create("jailmgr-setid", os.MFD_CLOEXEC), "w+b") as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()
