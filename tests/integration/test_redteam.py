"""Red team: attacks from inside running jails on the launcher's supervisor and init, the sd_notify relay,
`jailmgr exec` and the cross-jail writable set, on a real systemd.

Each test asserts the safe outcome.  One that fails shows a way in (or a way to stop the host's tools)
that is still open; the ones that pass are kept as regression tests.  The attack program is attack.c
(static), run as each jail's program, as root of the jail unless a shape says otherwise.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.test_boundary import ATTACK, ATTACK_SRC, apply_serving, attack_jail, journal, status, unit_pids
from tests.testbed import Testbed

NATIVE = "user: nobody\nnamespaces: {pid: false, uts: false, cgroup: false}\n"

JAILS = {
    # name: (extra top-level lines, the program's actions, owner of /data)
    "rtinit": ("", "initfds", "root"),
    "rtinitu": ("namespaces: {user: true}\n", "initfds", "root"),
    "rtnotify": ("ready: notify\nstart_timeout: 30\n", "notifyflood=300 notify=READY=1", "root"),
    "rtvfork": ("", "vforkhang", "root"),
    "rtvforkn": (NATIVE, "vforkhang", "nobody"),
}


@pytest.fixture(scope="module")
def red(bed: Testbed) -> Iterator[Testbed]:
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(ATTACK)), str(ATTACK_SRC)], check=True)
    apply_serving(bed, {name: attack_jail(name, *spec) for name, spec in JAILS.items()})
    yield bed
    for name in [*JAILS, "rtvictim", "rtintruder"]:
        bed.run(["jailmgr", "destroy", name], check=False, timeout=60)


def _state(bed: Testbed, pid: int) -> str:
    text = bed.run(["cat", f"/proc/{pid}/status"], check=False).stdout
    found = re.search(r"^State:\s*(\S)", text, re.M)
    return found.group(1) if found else "gone"


# --- the init's pipes and the init itself, from the program (launcher, PID namespace) --------------

@pytest.mark.parametrize("name", ["rtinit", "rtinitu"])
def test_the_program_reaches_neither_the_inits_pipes_nor_the_init(red: Testbed, name: str) -> None:
    """The go pipe and the status pipe are the init's alone: the program holds neither, can't open them
    through /proc/1/fd (the init is non-dumpable), and can't stop or kill the init (PID 1 of its
    namespace) to hold the supervisor's records or signals up."""
    text = journal(red, name, "initfds: done")
    assert "initfds: done" in text, text
    assert not re.search(r"initfd \d+: ok", text), text  # no fd of the init was opened
    assert not re.search(r"own fd \d+: pipe:", text), text  # no pipe leaked into the program
    program = status(red, name)["program_pid"]
    ppid = re.search(r"^PPid:\s*(\d+)", red.run(["cat", f"/proc/{program}/status"]).stdout, re.M)
    assert ppid is not None
    init = int(ppid.group(1))
    assert init in unit_pids(red, name)
    assert _state(red, init) in ("S", "R"), _state(red, init)  # not stopped, not killed
    assert red.run(["systemctl", "is-active", f"jail-{name}.service"], check=False).stdout.strip() == "active"
    # The supervisor heard no forged status: a stop still ends the unit as the program ended (by the stop
    # signal), not with the "x 0" the attack tried to write.
    red.run(["systemctl", "stop", f"jail-{name}.service"])
    result = red.run(["systemctl", "show", "-P", "Result", f"jail-{name}.service"]).stdout.strip()
    assert result == "success", result
    red.run(["systemctl", "start", f"jail-{name}.service"])


# --- the sd_notify relay (launcher, ready: notify, root in the jail) --------------------------------

def test_a_notify_flood_with_descriptors_passes_nothing_on_and_leaks_nothing(red: Testbed) -> None:
    """300 datagrams of lines systemd must not hear from a jail (NOTIFYACCESS=all, FDSTORE=1,
    EXTEND_TIMEOUT_USEC=, MAINPID= after a NUL or a carriage return), 20 descriptors each."""
    text = journal(red, "rtnotify", "serving")
    assert "notifyflood: sent" in text, text
    props = dict(line.split("=", 1) for line in red.run(
        ["systemctl", "show", "jail-rtnotify.service", "-p", "MainPID", "-p", "NotifyAccess", "-p",
         "NFileDescriptorStore", "-p", "StatusText", "-p", "ActiveState"]).stdout.splitlines())
    assert props["ActiveState"] == "active", props
    assert props["NotifyAccess"] == "main", props
    assert props.get("NFileDescriptorStore", "0") == "0", props
    assert "MAINPID" not in props.get("StatusText", ""), props
    main = int(props["MainPID"])
    exe = red.run(["readlink", f"/proc/{main}/exe"]).stdout.strip()
    assert exe.endswith("jailmgr-init"), exe  # the main PID is still the supervisor
    fds = red.run(["ls", f"/proc/{main}/fd"]).stdout.split()
    assert len(fds) < 16, fds  # every descriptor the jail sent was closed


# --- exec against a program that can't be interrupted (launcher and native) ------------------------

@pytest.mark.parametrize("name", ["rtvfork", "rtvforkn"])
def test_exec_is_not_held_forever_by_a_program_that_sits_in_vfork(red: Testbed, name: str) -> None:
    """`jailmgr exec` reads the program's seccomp filters by seizing and interrupting it, then waits for it
    to stop.  A program that sits in vfork() (its child never execs) waits killable only: a ptrace
    interrupt never stops it, and exec must not wait for it for ever (nor leave it seized)."""
    assert "vforking" in journal(red, name, "vforking")
    try:
        proc = red.run(["jailmgr", "exec", name, "--", "/attack", "caps"], check=False, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"jailmgr exec {name} still waits after 30 s: the jail's program holds the host's tool "
                    "(ptrace interrupt + waitpid on a vfork parent, linux.seccomp_filters)")
    # Either it ran the command confined, or it refused clearly: both end.
    assert proc.returncode == 0 or "exec in" in proc.stderr, proc.stdout + proc.stderr
    program = status(red, name)["program_pid"]
    assert "TracerPid:\t0" in red.run(["cat", f"/proc/{program}/status"]).stdout  # not left seized


# --- the cross-jail writable set -----------------------------------------------------------------

VICTIM = """\
name: rtvictim
restart: "no"
enable: false
exec: [/opt/bin/attack, serve]
tree:
  files: [{path: /opt/bin/attack, from: /usr/local/bin/attack, mode: "0755"}]
  dirs: [{path: /opt}, {path: /opt/bin}, {path: /opt/data}]
mounts: [{source: /srv/rtshared, target: /opt/data, mode: ro}]
"""
INTRUDER = """\
name: rtintruder
restart: "no"
enable: false
exec: [/attack, serve]
tree:
  files: [{path: /attack, from: /usr/local/bin/attack, mode: "0755"}]
  dirs: [{path: /victim}]
mounts: [{source: /var/lib/jailmgr/jails/rtvictim/root/opt, target: /victim, mode: rw}]
"""


def test_an_rw_mount_into_another_jails_tree_is_refused(red: Testbed) -> None:
    """An rw mount whose source lies inside another jail's tree hands this jail the other's read-only
    part: its program (/opt/bin) and the way to its mount targets (/opt/data), which the other's
    launcher resolves as root at each start.  apply refuses the same thing for a jail's own tree and
    for another jail's writable dirs; a path strictly inside another jail's root must be refused too."""
    red.path("/srv/rtshared").mkdir(exist_ok=True)
    red.path("/srv/rtvictim.yaml").write_text(VICTIM)
    red.path("/srv/rtintruder.yaml").write_text(INTRUDER)
    proc = red.run(["jailmgr", "apply", "/srv/rtvictim.yaml"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = red.run(["jailmgr", "apply", "/srv/rtintruder.yaml"], check=False)
    if proc.returncode != 0:
        assert "rtvictim" in proc.stderr, proc.stderr  # refused, naming the other jail: safe
        return
    # Accepted: the intruder now swaps the victim's program and the way to its mount target.
    journal(red, "rtintruder", "serving")
    out = red.run(["jailmgr", "exec", "rtintruder", "--", "/attack", "write=/victim/bin/planted",
                   "rename=/victim/data:/victim/data.old", "symlink=../../../../../../../etc:/victim/data"],
                  check=False).stdout
    victim_root = red.path("/var/lib/jailmgr/jails/rtvictim/root")
    swapped = (victim_root / "opt/bin/planted").exists()
    linked = (victim_root / "opt/data").is_symlink()
    # The victim's next start: its launcher (root) mounts /srv/rtshared at /opt/data, through the symlink.
    red.run(["systemctl", "restart", "jail-rtvictim.service"], check=False)
    journal(red, "rtvictim", "serving")
    program = status(red, "rtvictim")["program_pid"]
    landed = [line.split()[4] for line in red.run(["cat", f"/proc/{program}/mountinfo"], check=False).stdout
              .splitlines() if "rtshared" in line]
    state = red.run(["systemctl", "is-active", "jail-rtvictim.service"], check=False).stdout.strip()
    said = red.run(["journalctl", "-u", "jail-rtvictim.service", "-o", "cat", "-n", "3", "--no-pager"],
                   check=False).stdout
    pytest.fail(f"apply accepted an rw mount of another jail's tree; from inside it the intruder {out!r}:\n"
                f"a file planted in the victim's read-only /opt/bin: {swapped}; its mount target a symlink "
                f"root resolves at its next start: {linked}; at that start /srv/rtshared was mounted at {landed} "
                f"in the victim, which is {state}: {said!r}")
