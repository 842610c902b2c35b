"""Red team, third round: tree.packages, runtime:, the failed-start hints, on a real systemd (Debian 12).

The jail is the adversary (attack.c as its program, root of the jail under the launcher, or a user of
its own on systemd's directives); the jail files are honest.  A small Debian package made here
(rt3pkg, installed with dpkg) plays a daemon's package: a data directory an rw mount of the jail file
names, a directory only root may enter holding files others could read were they reachable, a
conffile the host later makes private.  Each test asserts the safe outcome: a failing one is a way in.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.integration.test_boundary import ATTACK, ATTACK_SRC, journal
from tests.testbed import Testbed

NAMES = ["rt3priv", "rt3conf", "rt3rw", "rt3link", "rt3linknat", "rt3hint", "rt3pty"]
BUILD = "/srv/rt3pkg-build"
SECRET = "/srv/rt3secret"  # a host file only root may read (0600), outside ProtectHome=: no jail may read it
CLOSED = "/srv/rt3closed/secret"  # readable (0644), in a directory only root may enter (0700)

# path in the package -> (mode, content); a directory when content is None
PACKAGE = {
    "/opt/rt3pkg": (0o755, None),
    "/opt/rt3pkg/data": (0o755, None),
    "/opt/rt3pkg/data/default.conf": (0o644, "package default\n"),
    "/usr/share/rt3pkg": (0o755, None),
    "/usr/share/rt3pkg/public.txt": (0o644, "public data\n"),
    "/usr/share/rt3pkg/group.key": (0o640, "rt3 group-only key\n"),
    # Only root may enter it on the host: what is inside is no one else's to read, whatever its own mode.
    "/usr/share/rt3pkg/private": (0o700, None),
    "/usr/share/rt3pkg/private/key.pem": (0o644, "rt3 whole-dir secret\n"),
    "/etc/rt3pkg": (0o755, None),
    "/etc/rt3pkg/rt3pkg.conf": (0o644, "setting=default\n"),
    "/etc/rt3pkg/private": (0o700, None),
    "/etc/rt3pkg/private/conf.key": (0o644, "rt3 etc secret\n"),
    "/var/lib/rt3pkg": (0o755, None),
    "/var/lib/rt3pkg/state.conf": (0o644, "state default\n"),
}
# Links the package ships, as many do from /etc or /usr/share into their state under /var/lib.
LINKS = {"/etc/rt3pkg/state.conf": "/var/lib/rt3pkg/state.conf"}
CONTROL = """\
Package: rt3pkg
Version: 1.0
Architecture: all
Maintainer: red team <red@example.invalid>
Description: a daemon's package, as the red team plays it
"""


def jail_text(name: str, actions: list[str], extra: str = "", packages: str = "[rt3pkg]") -> str:
    argv = ", ".join(f'"{a}"' for a in ["/attack", "serve", *actions])
    return (f"name: {name}\nrestart: \"no\"\nenable: false\nexec: [{argv}]\n"
            "tree:\n  files: [{path: /attack, from: /usr/local/bin/attack, mode: \"0755\"}]\n"
            f"  packages: {packages}\n" + extra)


def _apply(bed: Testbed, name: str, text: str) -> subprocess.CompletedProcess[str]:
    bed.path(f"/srv/{name}.yaml").write_text(text)
    return bed.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False, timeout=120)


def _exec(bed: Testbed, name: str, *actions: str) -> str:
    proc = bed.run(["jailmgr", "exec", name, "--", "/attack", *actions], check=False, timeout=60)
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def red3(bed: Testbed) -> Iterator[Testbed]:
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(ATTACK)), str(ATTACK_SRC)], check=True)
    root = bed.path(BUILD)
    bed.run(["rm", "-rf", BUILD])
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(CONTROL)
    for path, (_, content) in PACKAGE.items():
        target = root / path.lstrip("/")
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    for path, (mode, _) in PACKAGE.items():
        os.chmod(root / path.lstrip("/"), mode)
    for path, target in LINKS.items():
        os.symlink(target, root / path.lstrip("/"))
    bed.run(["dpkg-deb", "--root-owner-group", "--build", BUILD, "/srv/rt3pkg.deb"])
    bed.run(["dpkg", "-i", "/srv/rt3pkg.deb"])
    bed.run(["sh", "-c", f"umask 077 && echo 'rt3 host secret' > {SECRET} && mkdir -p /srv/rt3closed && "
                         f"echo 'rt3 host secret' > {CLOSED} && chmod 0644 {CLOSED}"])
    yield bed
    for name in NAMES:
        bed.run(["jailmgr", "destroy", name], check=False, timeout=60)
    bed.run(["dpkg", "--purge", "rt3pkg"], check=False)
    bed.run(["rm", "-rf", "/opt/rt3pkg", "/etc/rt3pkg", "/var/lib/rt3pkg", BUILD, "/srv/rt3pkg.deb", SECRET,
                  "/srv/rt3closed"],
            check=False)
    bed.run(["userdel", "rt3pty"], check=False)
    bed.run(["userdel", "rt3nat"], check=False)


# --- tree.packages: nothing others may not read on the host ---------------------------------------

def test_a_package_brings_nothing_from_a_directory_only_root_may_enter(red3: Testbed) -> None:
    """packages.private() asks only whether the file itself is readable by others.  A 0644 file in a 0700
    directory is not: no one but root reaches it on the host.  Bound per file (/etc, file by file) its
    parents in the tree are jailmgr's 0755 directories; bound as a whole directory (every entry is the
    package's and readable), the directory keeps its 0700, which root of the jail (uid 0, owner) enters."""
    proc = _apply(red3, "rt3priv", jail_text("rt3priv", []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "serving" in journal(red3, "rt3priv", "serving")
    said = _exec(red3, "rt3priv", "cat=/usr/share/rt3pkg/public.txt", "cat=/usr/share/rt3pkg/group.key",
                 "cat=/usr/share/rt3pkg/private/key.pem", "cat=/etc/rt3pkg/private/conf.key")
    assert 'read "public data"' in said, said  # (the package is there)
    leaked = re.findall(r'cat (\S+): read "(rt3[^"]*)"', said)
    assert not leaked, (f"files no one but root can reach on the host were bound into the jail from "
                        f"tree.packages: {leaked}")


def test_a_conffile_the_host_makes_private_after_the_apply_is_not_bound_again(red3: Testbed) -> None:
    """The host's administrator puts a password in the package's conffile and makes it 0600 (as one does),
    then runs `jailmgr apply` as usual.  The package's files are not inputs of the rendering (only its
    dpkg list and its ELF files are): apply sees nothing changed, the bind stays in the unit, and at the
    next start the jail's root (uid 0, the file's owner) reads the password."""
    proc = _apply(red3, "rt3conf", jail_text("rt3conf", []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'read "setting=default"' in _exec(red3, "rt3conf", "cat=/etc/rt3pkg/rt3pkg.conf")
    red3.run(["sh", "-c", "echo 'password=hunter2' > /etc/rt3pkg/rt3pkg.conf && chmod 0600 /etc/rt3pkg/rt3pkg.conf"])
    try:
        again = red3.run(["jailmgr", "apply", "/srv/rt3conf.yaml"], check=False, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        red3.run(["systemctl", "restart", "jail-rt3conf.service"], check=False)
        journal(red3, "rt3conf", "serving")
        said = _exec(red3, "rt3conf", "cat=/etc/rt3pkg/rt3pkg.conf")
        assert "hunter2" not in said, (f"after the host made /etc/rt3pkg/rt3pkg.conf 0600 and ran apply "
                                       f"(it said {again.stdout.strip()!r}), the jail still reads it at "
                                       f"its next start: {said.strip()!r}")
    finally:
        red3.run(["sh", "-c", "echo 'setting=default' > /etc/rt3pkg/rt3pkg.conf && chmod 0644 "
                              "/etc/rt3pkg/rt3pkg.conf"], check=False)


# --- tree.packages: a package path the jail can write is a bind source root resolves ----------------

def test_a_package_file_below_an_rw_mount_source_is_never_bound_from_where_the_jail_points(red3: Testbed) -> None:
    """The jail file mounts the package's data directory read-write (its state lives there; the author made
    /opt/rt3pkg/data/state).  tree.packages binds the package's /opt/rt3pkg/data/default.conf by its host
    path, and no check compares package bind sources with the jail-writable set (spec.host_resolved has
    the jail file's sources only).  The jail swaps default.conf for a symlink to a host file; at the next
    start (a crash and Restart=, an operator's restart) bubblewrap, as root, follows it."""
    red3.path("/opt/rt3pkg/data/state").write_text("the jail's state\n")
    mounts = ("mounts: [{type: proc}, {type: tmpfs, target: /tmp}, "
              "{type: bind, source: /opt/rt3pkg/data, target: /data, mode: rw}]\n")
    proc = _apply(red3, "rt3rw", jail_text("rt3rw", ["rename=/data/default.conf:/data/default.conf.old",
                                                       f"symlink={SECRET}:/data/default.conf"], mounts))
    try:
        if proc.returncode != 0:  # refused: safe, if it says why
            assert "/opt/rt3pkg/data" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
            return
        assert "symlink: ok" in journal(red3, "rt3rw", "serving")
        red3.run(["systemctl", "restart", "jail-rt3rw.service"], check=False)
        journal(red3, "rt3rw", "serving")
        said = _exec(red3, "rt3rw", "cat=/opt/rt3pkg/data/default.conf")
        assert "rt3 host secret" not in said, (
            f"root followed the jail's symlink /opt/rt3pkg/data/default.conf -> {SECRET} (a package bind "
            f"source below the jail's rw mount) at the next start: {said.strip()!r}")
    finally:
        red3.run(["jailmgr", "destroy", "rt3rw"], check=False, timeout=60)
        red3.run(["sh", "-c", "cd /opt/rt3pkg/data && rm -f default.conf state && "
                              "echo 'package default' > default.conf && rm -f default.conf.old"], check=False)


@pytest.mark.parametrize("shape", ["launcher", "native"])
def test_a_package_link_into_the_jails_state_dir_is_never_followed_to_where_the_jail_points(
        red3: Testbed, shape: str) -> None:
    """No exotic mount this time: the jail file mounts the daemon's state dir /var/lib/rt3pkg read-write,
    as the docs say state should be.  The package ships /etc/rt3pkg/state.conf as a link to
    /var/lib/rt3pkg/state.conf (as packages link their configuration to their state); tree.packages binds
    the link by its path, and at each start root resolves it (bubblewrap, or systemd's
    BindReadOnlyPaths=), through the jail's state dir.  The jail makes state.conf a symlink to a host
    file; at its next start it reads the host file: root's 0600 one as root of a launched jail, one in a
    directory only root may enter as the native jail's user."""
    name, secret, extra = "rt3link", SECRET, ""
    if shape == "native":
        name, secret = "rt3linknat", CLOSED
        red3.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", "rt3nat"], check=False)
        extra = "user: rt3nat\nnamespaces: {pid: false, uts: false, cgroup: false}\n"
    mounts = ("mounts: [{type: proc}, {type: tmpfs, target: /tmp}, "
              "{type: bind, source: /var/lib/rt3pkg, target: /var/lib/rt3pkg, mode: rw}]\n")
    text = jail_text(name, ["rename=/var/lib/rt3pkg/state.conf:/var/lib/rt3pkg/state.old",
                            f"symlink={secret}:/var/lib/rt3pkg/state.conf"], mounts)
    if shape == "native":
        text = text.replace("tree:\n", extra + "tree:\n  users: [rt3nat]\n")
        red3.run(["chown", "rt3nat", "/var/lib/rt3pkg", "/var/lib/rt3pkg/state.conf"])
    proc = _apply(red3, name, text)
    try:
        if proc.returncode != 0:  # refused: safe, if it says why
            assert "/etc/rt3pkg/state.conf" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
            return
        assert 'read "state default"' in _exec(red3, name, "cat=/var/lib/rt3pkg/state.old")
        red3.run(["systemctl", "restart", f"jail-{name}.service"], check=False)
        journal(red3, name, "serving")
        said = _exec(red3, name, "cat=/etc/rt3pkg/state.conf")
        assert "rt3 host secret" not in said, (
            f"root followed the package's link /etc/rt3pkg/state.conf into the jail's state dir, and on to "
            f"the jail's symlink -> {secret}, at the next start: {said.strip()!r}")
    finally:
        red3.run(["jailmgr", "destroy", name], check=False, timeout=60)
        red3.run(["sh", "-c", "cd /var/lib/rt3pkg && rm -f state.conf state.old && "
                              "echo 'state default' > state.conf && chown -R root: /var/lib/rt3pkg"], check=False)


# --- failed-start hints: the jail's lines are data, never advice --------------------------------------

def test_a_jails_own_lines_never_turn_into_advice_to_change_the_host(red3: Testbed) -> None:
    """apply's hints for a failed start are jailmgr's voice.  The bubblewrap rules advise a change on the
    host (chmod o+x a parent directory, make a directory) for the path a journal line names; the line
    may be the jail's own (its stdout is the unit's journal, like bubblewrap's stderr), so the jail
    chooses what the operator is told to open up: search permission on /root/.ssh's parents, a directory
    in /etc/cron.d.  Escapes in a hinted path are shown escaped (termtext)."""
    lines = ["say=bwrap: Can't find source path /root/.ssh/id_rsa: Permission denied",
             "say=bwrap: Can't find source path /etc/cron.d/rt3evil: No such file or directory",
             "say=/tmp/a~[2J~]0;owned: No such file or directory", "exit=1"]
    text = jail_text("rt3hint", lines, "mounts: [{type: proc}, {type: tmpfs, target: /tmp}]\n", packages="[]")
    proc = _apply(red3, "rt3hint", text)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "did not start" in out, out
    assert "\x1b" not in out, out
    hints = [line for line in out.splitlines() if "hint:" in line]
    advice = [h for h in hints if "/root" in h or "/etc/cron.d" in h]
    assert not advice, ("the jail's own journal lines became jailmgr's advice to change host paths the jail "
                        f"file never names: {advice}")


# --- runtime: systemd's /dev without the launcher --------------------------------------------------

def test_a_native_jails_ptys_are_not_made_in_the_hosts_devpts(red3: Testbed) -> None:
    """PrivateDevices= gives a jail on systemd's directives a /dev of systemd's making: /dev/shm is covered
    now, and /dev/mqueue is the jail's own with ipc: true; /dev/pts is the host's devpts, bound, and
    DevicePolicy=closed always lets /dev/ptmx and char-pts through.  Every pty the jail opens is then one
    of the host's (the operators' terminals' devpts, its pty limit): the jail lists them, and can use up
    kernel.pty.max."""
    red3.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", "rt3pty"], check=False)
    before = set(red3.run(["ls", "/dev/pts"]).stdout.split())
    text = jail_text("rt3pty", ["ptmx=64"], packages="[]").replace(
        "tree:\n", "user: rt3pty\nnamespaces: {pid: false, uts: false, cgroup: false}\ntree:\n  users: [rt3pty]\n")
    text += "mounts: [{type: proc}, {type: tmpfs, target: /tmp}]\n"
    proc = _apply(red3, "rt3pty", text)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = journal(red3, "rt3pty", "ptmx:")
    for _ in range(20):
        now = set(red3.run(["ls", "/dev/pts"]).stdout.split())
        if len(now - before) >= 64 or "refused" in said:
            break
        time.sleep(0.1)
    listed = _exec(red3, "rt3pty", "cat=/dev/pts/0")  # (a host terminal's node, if the jail sees the host's)
    made = sorted(now - before, key=lambda n: (len(n), n))
    assert len(made) < 64, (f"the native jail's ptys are the host's: {len(made)} new entries in the host's "
                            f"/dev/pts ({made[:3]}...{made[-3:]}) while it holds them; it said "
                            f"{[line for line in said.splitlines() if 'ptmx' in line]}; /dev/pts/0: "
                            f"{listed.strip()!r}")


def test_dev_shm_is_neither_shared_between_jails_nor_kept_across_a_restart(red3: Testbed) -> None:
    """runtime.shm: what one jail leaves in its /dev/shm is seen by no other jail (launcher or native), and
    not by itself after a restart (a fresh tmpfs at each start)."""
    red3.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", "rt3shm"], check=False)
    texts = {"rt3shm1": jail_text("rt3shm1", ["write=/dev/shm/left-by-rt3shm1"], "runtime: {shm: 4M}\n", "[]"),
             "rt3shm2": jail_text("rt3shm2", ["write=/dev/shm/left-by-rt3shm2"], "runtime: {shm: 4M}\n", "[]")
             .replace("tree:\n", "user: rt3shm\nnamespaces: {pid: false, uts: false, cgroup: false}\n"
                      "tree:\n  users: [rt3shm]\n")}
    try:
        for name, text in texts.items():
            proc = _apply(red3, name, text + "mounts: [{type: proc}, {type: tmpfs, target: /tmp}]\n")
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "write: ok" in journal(red3, name, "serving")
        seen = {name: _exec(red3, name, "cat=/dev/shm/left-by-rt3shm1", "cat=/dev/shm/left-by-rt3shm2")
                for name in texts}
        assert 'cat /dev/shm/left-by-rt3shm2: read' not in seen["rt3shm1"], seen
        assert 'cat /dev/shm/left-by-rt3shm1: read' not in seen["rt3shm2"], seen
        red3.run(["systemctl", "stop", "jail-rt3shm1.service"])
        red3.path("/srv/rt3shm1.yaml").write_text(red3.path("/srv/rt3shm1.yaml").read_text().replace(
            '"write=/dev/shm/left-by-rt3shm1"', '"sleep=0"'))
        proc = red3.run(["jailmgr", "apply", "/srv/rt3shm1.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        journal(red3, "rt3shm1", "serving")
        again = _exec(red3, "rt3shm1", "cat=/dev/shm/left-by-rt3shm1")
        assert "refused (No such file or directory)" in again, again
        on_host = red3.run(["ls", "/dev/shm"]).stdout.split()
        assert not [n for n in on_host if n.startswith("left-by-")], on_host
    finally:
        for name in texts:
            red3.run(["jailmgr", "destroy", name], check=False, timeout=60)
        red3.run(["userdel", "rt3shm"], check=False)
