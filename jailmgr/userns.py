"""Run a command as root of a new user namespace whose ids map to an unprivileged host range.

    python3 -I -m jailmgr.userns BASE COUNT -- COMMAND...

The unit's ExecStart for `namespaces.user: true`, in front of the launcher:
root (and every uid below COUNT) in the jail is BASE+uid on the host, so a
process that escapes the jail is nobody there.  systemd 252's PrivateUsers=
maps root to root, and util-linux's unshare needs newuidmap for a range.

A user namespace's maps must be written by a process in the parent
namespace, so this process forks a helper first, then unshares; the helper
(still in the host namespace, as root) writes the maps and exits; this
process becomes uid 0 of the new namespace and execs COMMAND, keeping its
PID (systemd's main PID).

Before COMMAND runs, a seccomp filter (libseccomp, Debian's python3-seccomp)
refuses to make further user namespaces: root of this one has every
capability over namespaces it would own, and a nested user namespace opens a
large kernel surface (RestrictNamespaces= can't say this: the unit must be
allowed the one this helper makes).  clone3 is refused with ENOSYS, as systemd
does, so libc falls back to clone, whose flags the filter can read.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

CLONE_NEWUSER = 0x10000000


def _die(message: str) -> None:
    print(f"jailmgr-userns: {message}", file=sys.stderr)
    sys.exit(125)


def no_nested_user_namespaces() -> None:
    """From here on, unshare(), clone() with CLONE_NEWUSER fail with EPERM; clone3() with ENOSYS."""
    import seccomp

    new_user = seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)
    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    # Root of the new namespace may load a filter without no_new_privs; the
    # jail file decides no_new_privileges, not this helper.
    flt.set_attr(seccomp.Attr.CTL_NNP, 0)
    flt.add_rule(seccomp.ERRNO(errno.EPERM), "unshare", new_user)
    flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone", new_user)
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    flt.load()


def main(argv: list[str]) -> None:
    if len(argv) < 5 or argv[3] != "--":
        _die("usage: python3 -m jailmgr.userns BASE COUNT -- COMMAND...")
    base, count, command = int(argv[1]), int(argv[2]), argv[4:]
    if base <= 0 or not 0 < count <= 65536:
        _die("BASE must be above 0 and COUNT at most 65536")
    ready_r, ready_w = os.pipe()
    me = os.getpid()
    helper = os.fork()
    if helper == 0:
        os.close(ready_w)
        if os.read(ready_r, 1) != b"u":
            os._exit(1)
        try:
            for kind in ("uid_map", "gid_map"):
                with open(f"/proc/{me}/{kind}", "w", encoding="ascii") as f:
                    f.write(f"0 {base} {count}\n")
        except OSError as exc:
            print(f"jailmgr-userns: writing the id maps: {exc}", file=sys.stderr)
            os._exit(1)
        os._exit(0)
    os.close(ready_r)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        _die(f"unshare(CLONE_NEWUSER): {os.strerror(ctypes.get_errno())}")
    os.write(ready_w, b"u")
    os.close(ready_w)
    _, status = os.waitpid(helper, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        _die("the id maps could not be written")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    try:
        no_nested_user_namespaces()
    except (ImportError, OSError, RuntimeError) as exc:
        _die(f"cannot refuse nested user namespaces: {exc}")
    try:
        os.execv(command[0], command)
    except OSError as exc:
        _die(f"{command[0]}: {exc.strerror}")


if __name__ == "__main__":
    main(sys.argv)
