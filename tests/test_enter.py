"""The steps of `jailmgr exec`, from the host to execve: golden, like the launcher's argv."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable

import pytest

from jailmgr import enter, linux
from jailmgr.enter import Caps, Facts, Ids, entry_steps

FTP = Facts(
    pid=74, namespaces=("mnt", "pid", "uts", "ipc", "cgroup"),
    cgroup_dirs=("/sys/fs/cgroup/unified/system.slice/jail-ftp.service",
                 "/sys/fs/cgroup/systemd/system.slice/jail-ftp.service"),
    ids=Ids(0, 0, ()), caps=Caps(bounding=0x404C0, permitted=0x404C0, effective=0x404C0),
    rlimits=((7, 1024, 1024),), seccomp_filters=36, workdir="/", environment=(("TZ", "UTC"),),
    argv=("/bin/sh", "-c", "id"))


def describe(facts: Facts, last_cap: int = 40) -> list[str]:
    return [step.describe() for step in entry_steps(facts, last_cap)]


def test_launcher_jail_steps_in_order() -> None:
    kept = {6, 7, 10, 18}  # setgid, setuid, net_bind_service, sys_chroot: 0x404c0
    assert describe(FTP) == [
        "dumpable 0", "setns pid", "fork",
        "join-cgroup /sys/fs/cgroup/unified/system.slice/jail-ftp.service",
        "join-cgroup /sys/fs/cgroup/systemd/system.slice/jail-ftp.service",
        "setsid", "setns cgroup", "setns ipc", "setns uts", "setns mnt", "setrlimit 7 1024 1024",
        *[f"drop-bounding {cap}" for cap in range(41) if cap not in kept],
        "keepcaps 1", "setgroups", "setresgid 0", "setresuid 0", f"capset {0x404C0} {0x404C0} 0", "keepcaps 0",
        "ambient-clear", "no-new-privs", "chdir /", "seccomp 36", "close-fds", "execve /bin/sh -c id"]


def test_user_namespace_is_joined_after_the_limits_and_before_the_ids() -> None:
    facts = Facts(**{**FTP.__dict__, "namespaces": ("mnt", "pid", "user", "net")})
    steps = describe(facts)
    order = [steps.index(s) for s in ("setns pid", "fork", "setsid", "setns net", "setns mnt",
                                      "setrlimit 7 1024 1024", "setns user", "setresuid 0", "chdir /")]
    assert order == sorted(order)


def test_another_user_gets_no_capabilities_but_the_bounding_set() -> None:
    facts = Facts(**{**FTP.__dict__, "user": Ids(107, 65534, (65534,))})
    steps = describe(facts)
    assert "setgroups 65534" in steps and "setresuid 107" in steps and "capset 0 0 0" in steps
    assert "drop-bounding 6" not in steps and "drop-bounding 0" in steps


def test_ambient_capabilities_are_raised_and_nothing_without_a_filter() -> None:
    facts = Facts(**{**FTP.__dict__, "ids": Ids(33, 33, (33,)),
                     "caps": Caps(bounding=1 << 10, permitted=1 << 10, effective=1 << 10, inheritable=1 << 10,
                                  ambient=1 << 10), "seccomp_filters": 0, "namespaces": ()})
    steps = describe(facts)
    assert "ambient-raise 10" in steps and not any(s.startswith(("seccomp", "setns")) for s in steps)
    assert steps[:3] == ["dumpable 0", "fork", "join-cgroup /sys/fs/cgroup/unified/system.slice/jail-ftp.service"]


def test_the_workdir_is_entered_as_the_program_and_before_its_filters() -> None:
    """No path of the jail is looked up while the process holds more than the program: the workdir
    comes after the ids, the capability sets and no_new_privs, and before the filters (which the
    jail's program chose, and which could refuse the lookup)."""
    facts = Facts(**{**FTP.__dict__, "workdir": "/srv/ftp", "user": Ids(107, 65534, (65534,))})
    steps = describe(facts)
    chdir = steps.index("chdir /srv/ftp")
    before = [steps.index(s) for s in ("setns mnt", "drop-bounding 0", "setgroups 65534", "setresgid 65534",
                                       "setresuid 107", "capset 0 0 0", "ambient-clear", "no-new-privs")]
    assert max(before) < chdir < steps.index("seccomp 36") < steps.index("close-fds")
    assert [s for s in steps if s.startswith("chdir")] == ["chdir /srv/ftp"]



def child_calls(facts: Facts, last_cap: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Run the steps after the fork as exec's child does, each call of the privilege drop recorded, not made."""
    calls: list[tuple[object, ...]] = []

    def record(name: str) -> Callable[..., None]:
        return lambda *args: calls.append((name, *args))

    for module, name in [(os, "setsid"), (os, "setgroups"), (os, "setresgid"), (os, "setresuid"),
                         (os, "closerange"), (os, "execvpe"), (resource, "setrlimit"), (linux, "setns"),
                         (linux, "prctl"), (linux, "capset"), (linux, "install_seccomp"), (enter, "_enter_workdir")]:
        monkeypatch.setattr(module, name, record(name))
    monkeypatch.setattr(os, "sysconf", lambda name: 1024)

    class Io:
        def attach_child(self) -> None:
            calls.append(("attach_child",))

    steps = entry_steps(facts, last_cap)
    after_fork = steps[[s.describe() for s in steps].index("fork") + 1:]
    child_steps = [s for s in after_fork if not s.describe().startswith("join-cgroup")]
    ns_fds = {"mnt": 10, "pid": 11, "user": 12, "net": 13}
    enter._child(child_steps, ns_fds, [b"old", b"new"], Io(), {"PATH": "/bin"}, 5)  # type: ignore[arg-type]
    monkeypatch.undo()
    flat = [a for call in calls for arg in call[1:] for a in (arg if isinstance(arg, (tuple, list)) else [arg])]
    assert {type(a) for a in flat} <= {int, str, bytes, dict}, calls  # ids, caps, limits reach the calls as ints
    return calls


def test_the_child_makes_exactly_the_calls_its_steps_say(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = Facts(**{**FTP.__dict__, "namespaces": ("mnt", "pid", "user", "net"), "workdir": "/srv/ftp",
                     "user": Ids(107, 65534, (65534, 33)), "seccomp_filters": 2})
    kept = {6, 7, 10}  # of 0x404C0, below 12
    assert child_calls(facts, 11, monkeypatch) == [
        ("setsid",), ("attach_child",),
        ("setns", 13, linux.CLONE_NEWNET), ("setns", 10, linux.CLONE_NEWNS), ("setrlimit", 7, (1024, 1024)),
        ("setns", 12, linux.CLONE_NEWUSER),
        *[("prctl", linux.PR_CAPBSET_DROP, cap) for cap in range(12) if cap not in kept],
        ("prctl", linux.PR_SET_KEEPCAPS, 1), ("setgroups", [65534, 33]), ("setresgid", 65534, 65534, 65534),
        ("setresuid", 107, 107, 107), ("capset", 0, 0, 0), ("prctl", linux.PR_SET_KEEPCAPS, 0),
        ("prctl", linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL),
        ("prctl", linux.PR_SET_NO_NEW_PRIVS, 1), ("_enter_workdir", "/srv/ftp"),
        ("install_seccomp", b"old"), ("install_seccomp", b"new"),
        ("closerange", 3, 5), ("closerange", 6, 1024),
        ("execvpe", "/bin/sh", ["/bin/sh", "-c", "id"], {"PATH": "/bin"})]


def test_the_child_raises_the_ambient_set_and_keeps_the_programs_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = Facts(**{**FTP.__dict__, "ids": Ids(33, 33, (33, 4)), "namespaces": ("mnt",), "seccomp_filters": 0,
                     "caps": Caps(bounding=1 << 10, permitted=1 << 10, effective=1 << 10, inheritable=1 << 10,
                                  ambient=1 << 10)})
    calls = child_calls(facts, 11, monkeypatch)
    assert calls[calls.index(("prctl", linux.PR_SET_KEEPCAPS, 1)):] == [
        ("prctl", linux.PR_SET_KEEPCAPS, 1), ("setgroups", [33, 4]), ("setresgid", 33, 33, 33),
        ("setresuid", 33, 33, 33), ("capset", 1 << 10, 1 << 10, 1 << 10), ("prctl", linux.PR_SET_KEEPCAPS, 0),
        ("prctl", linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL),
        ("prctl", linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_RAISE, 10),
        ("prctl", linux.PR_SET_NO_NEW_PRIVS, 1), ("_enter_workdir", "/"),
        ("closerange", 3, 5), ("closerange", 6, 1024),
        ("execvpe", "/bin/sh", ["/bin/sh", "-c", "id"], {"PATH": "/bin"})]
