"""The few Linux calls Python 3.11's os module lacks, through ctypes (imports nothing from jailmgr).

setns, prctl, capset, openat2, and ptrace's PTRACE_SECCOMP_GET_FILTER, which reads a
process's seccomp filters from the kernel (not from its memory) so that
`jailmgr exec` can give a command exactly the filters the jail's program has.
Every call raises OSError with the errno on failure.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import struct
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NS_FLAGS = {"mnt": CLONE_NEWNS, "cgroup": CLONE_NEWCGROUP, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC,
            "user": CLONE_NEWUSER, "pid": CLONE_NEWPID, "net": CLONE_NEWNET, "time": CLONE_NEWTIME}

PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SECCOMP_GET_FILTER = 0x420C
WALL = 0x40000000  # __WALL: wait for a tracee that is not our child

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

SYS_OPENAT2 = 437  # the same number on every architecture (the unified syscall table)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """This thread's effective, permitted and inheritable sets (64-bit masks)."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data))


def open_in_root(path: str, flags: int) -> int:
    """Open `path` as if "/" of this process were the root of every lookup (openat2 RESOLVE_IN_ROOT).

    "..", absolute symlinks and the path itself never leave the process's
    root, and magic links (/proc/*/root, /proc/*/cwd, /proc/*/fd/*) are
    refused with ELOOP: what a jail can plant in its tree resolves inside it
    or not at all.  EAGAIN (a rename raced the lookup) is retried a few times.
    """
    how = struct.pack("QQQ", flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    buf = ctypes.create_string_buffer(how, len(how))
    name = os.fsencode(path)
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for _ in range(8):
            fd = _libc.syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_int(root), ctypes.c_char_p(name), buf,
                               ctypes.c_size_t(len(how)))
            if fd >= 0 or ctypes.get_errno() != errno.EAGAIN:
                break
        return _check(fd)
    finally:
        os.close(root)


def cap_last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        return int(f.read())


def _read_filters(pid: int, count: int) -> list[bytes]:
    _check(_libc.ptrace(PTRACE_SEIZE, pid, None, None))
    try:
        _check(_libc.ptrace(PTRACE_INTERRUPT, pid, None, None))
        os.waitpid(pid, WALL)
        filters = []
        for index in range(count):
            length = _check(_libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(index), None))
            buf = ctypes.create_string_buffer(length * 8)
            _check(_libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(index), buf))
            filters.append(buf.raw)
        return filters  # index 0 is the oldest (kernel/seccomp.c, get_nth_filter): install in index order
    finally:
        _libc.ptrace(PTRACE_DETACH, pid, None, None)


FILTER_TIMEOUT = 5.0  # seconds the program has to stop for PTRACE_INTERRUPT


def seccomp_filters(pid: int, count: int, timeout: float = FILTER_TIMEOUT) -> list[bytes]:
    """The seccomp filters of a process, oldest first, as classic BPF (8 bytes an instruction).

    The process is seized and stopped for the few calls this takes (it sees
    no signal), then let go.  Needs CAP_SYS_ADMIN and a caller that is not
    itself under seccomp.  The tracer is a child of this process: a program
    can refuse to stop (it sits in vfork(), which only a fatal signal wakes),
    and a child that waits for it forever is killed after `timeout`, which
    lets the program go (TimeoutError, nothing else happened).
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:  # pragma: no cover - the tracer
        code = 0
        try:
            os.close(read_end)
            for program in _read_filters(pid, count):
                os.write(write_end, struct.pack("I", len(program)) + program)
        except OSError as exc:
            os.write(write_end, struct.pack("I", 0xFFFFFFFF) + struct.pack("i", exc.errno or 0))
            code = 1
        os._exit(code)
    os.close(write_end)
    data = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(child, signal.SIGKILL)
                raise TimeoutError(errno.ETIMEDOUT, f"the program did not stop for ptrace within {timeout:.0f} s "
                                   "(it waits in vfork() or in the kernel)")
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
        os.waitpid(child, 0)
    filters, at = [], 0
    while at + 4 <= len(data):
        (length,) = struct.unpack_from("I", data, at)
        at += 4
        if length == 0xFFFFFFFF:
            (err,) = struct.unpack_from("i", data, at)
            raise OSError(err, os.strerror(err))
        filters.append(bytes(data[at:at + length]))
        at += length
    if len(filters) != count:
        raise OSError(errno.EIO, f"read {len(filters)} of the program's {count} seccomp filters")
    return filters


def install_seccomp(program: bytes) -> None:
    """Add one classic-BPF filter to this thread (needs no_new_privs or CAP_SYS_ADMIN)."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(buf))
    raw = ctypes.create_string_buffer(fprog, len(fprog))
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(raw))
