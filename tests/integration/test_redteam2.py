"""Red team, second round: attacks from inside running jails on other jails' lifecycle, on the paths root
resolves at the next start, and on the launcher's supervisor, on a real systemd.

Each test asserts the safe outcome.  One that fails shows a way in that is still open; the ones that pass
are kept as regression tests.  The attack program is attack.c (static), run as each jail's program (or by
`jailmgr exec`, confined as the program).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from jailmgr.model import userns_base
from tests.integration.test_boundary import ATTACK, ATTACK_SRC, attack_jail, journal, status
from tests.testbed import Testbed

NAMES = ["rt2native", "rt2userns", "rt2run"]


@pytest.fixture(scope="module")
def red2(bed: Testbed) -> Iterator[Testbed]:
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(ATTACK)), str(ATTACK_SRC)], check=True)
    yield bed
    for name in NAMES:
        bed.run(["jailmgr", "destroy", name], check=False, timeout=60)
    bed.run(["userdel", "rt2collide"], check=False)


def _apply(bed: Testbed, name: str, text: str) -> subprocess.CompletedProcess[str]:
    bed.path(f"/srv/{name}.yaml").write_text(text)
    return bed.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False, timeout=120)


def _active(bed: Testbed, name: str) -> str:
    return bed.run(["systemctl", "is-active", f"jail-{name}.service"], check=False).stdout.strip()


# --- a native jail whose uid lies in a user-namespace jail's host id block -------------------------

def test_a_native_jail_cannot_kill_a_user_namespace_jail_whose_ids_hold_its_uid(red2: Testbed) -> None:
    """A native jail (no PID namespace) must have a uid no other jail's processes use (check_own_uids).
    A `user: true` jail's processes run as host uids BASE..BASE+65535 (root of the jail is BASE).  The
    check compares program uids only, and only for the jail being applied when it is native: a native
    jail applied first, with a host user whose uid is BASE, is not refused when the user-namespace jail
    is applied next, and from then on it SIGKILLs the other jail's program by PID (its /proc hides it, but
    kill(pid, 0) finds the PIDs it may signal; kill() needs only
    a matching uid, whatever the target's user namespace): the other jail loses what it had not saved."""
    base = userns_base("rt2userns")
    red2.run(["useradd", "--system", "--no-create-home", "-u", str(base), "-s", "/usr/sbin/nologin",
              "rt2collide"], check=False)
    native = attack_jail("rt2native", "user: rt2collide\nnamespaces: {pid: false, uts: false, cgroup: false}\n",
                         "", "rt2collide").replace("users: [nobody]", "users: [nobody, rt2collide]")
    proc = _apply(red2, "rt2native", native)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "serving" in journal(red2, "rt2native", "serving")
    proc = _apply(red2, "rt2userns", attack_jail("rt2userns", "namespaces: {user: true}\n", "", "root"))
    if proc.returncode != 0:
        assert "rt2native" in proc.stdout + proc.stderr, proc.stdout + proc.stderr  # refused, naming it: safe
        return
    assert "serving" in journal(red2, "rt2userns", "serving")
    victim = status(red2, "rt2userns")["program_pid"]
    out = red2.run(["jailmgr", "exec", "rt2native", "--", "/attack", f"killuid={base}",
                    f"sigkill={victim}"], check=False,
                   timeout=60).stdout
    killed = re.findall(r"(?:killuid|sigkill) (\d+): ok", out)
    alive = red2.run(["test", "-d", f"/proc/{victim}"], check=False).returncode == 0
    assert alive and not killed and _active(red2, "rt2userns") == "active", (
        f"apply accepted jail rt2userns (host ids {base}-{base + 65535}) beside native jail rt2native (uid "
        f"{base}); from inside rt2native, SIGKILL reached PIDs {killed} (rt2userns's program was {victim}, "
        f"alive: {alive}); rt2userns is {_active(red2, 'rt2userns')}")


# --- a tree file below a writable dir under /run: bwrap binds it as root, from where the jail points ----

RUNJAIL = """\
name: rt2run
restart: "no"
enable: false
exec: [/attack, serve, ACTIONS]
tree:
  files:
    - {path: /attack, from: /usr/local/bin/attack, mode: "0755"}
    - {path: /run/w/conf, content: "declared\\n"}
  dirs: [{path: /run/w, writable: true}]
mounts: [{type: proc}, {type: tmpfs, target: /tmp}]
"""


def test_a_tree_file_below_a_writable_dir_in_run_is_never_bound_from_where_the_jail_points(red2: Testbed) -> None:
    """The launcher binds the tree's entries under /run over its /run tmpfs (launcher._under_run), each
    from root + path, resolved by bubblewrap as root on the host (realpath).  A declared file inside a
    writable dir there is such an entry, but its path is the jail's to change: it swaps the file for a
    symlink to a host file, and at the next start root resolves it and mounts the host file into the
    jail's mount namespace (then covered by the writable dir's own bind; the jail's mountinfo names it)."""
    red2.path("/srv/rt2secret").write_text("host secret\n")
    proc = _apply(red2, "rt2run", RUNJAIL.replace("ACTIONS", "rename=/run/w/conf:/run/w/conf.old, "
                                                  "symlink=/srv/rt2secret:/run/w/conf"))
    if proc.returncode != 0:
        assert "/run/w" in proc.stdout + proc.stderr, proc.stdout + proc.stderr  # refused at validate: safe
        return
    text = journal(red2, "rt2run", "serving")
    assert "symlink: ok" in text, text
    # The next start (a crash and Restart=, an operator's restart): the launcher resolves root + /run/w/conf.
    red2.run(["systemctl", "restart", "jail-rt2run.service"], check=False)
    journal(red2, "rt2run", "serving")
    program = status(red2, "rt2run").get("program_pid") or 0
    mounts = red2.run(["cat", f"/proc/{program}/mountinfo"], check=False).stdout if program else ""
    landed = [line for line in mounts.splitlines() if "rt2secret" in line.split()[3:5]
              or line.split()[3] == "/srv/rt2secret"]
    said = red2.run(["journalctl", "-u", "jail-rt2run.service", "-o", "cat", "-n", "5", "--no-pager"],
                    check=False).stdout
    assert not landed, (f"root resolved a symlink the jail planted in its writable /run/w at the next start: "
                        f"the host's /srv/rt2secret is mounted in the jail: {landed}; journal: {said!r}")
