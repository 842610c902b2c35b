"""The steps of `jailmgr exec`, from the host to execve: golden, like the launcher's argv."""

from __future__ import annotations

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
