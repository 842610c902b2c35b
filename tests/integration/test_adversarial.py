"""A hostile tree, killed applies and concurrent applies, on a real systemd.

The jail's tree is assumed to be controlled by an attacker (a compromised
service, or anyone who can write there).  Each test plants an attack, runs
jailmgr, and shows the host untouched and the next apply converging.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.testbed import Testbed, ftp_session

JAIL = "/etc/jailmgr/jails.d/ftp.yaml"
ROOT = "/var/lib/jailmgr/jails/ftp/root"
CANARY_DIR = "/srv/victim"


def host_fingerprint(bed: Testbed) -> str:
    """Checksums of host files a confused jailmgr could touch (its own units and state excluded)."""
    script = ("find /etc /usr/bin /usr/sbin /root /srv/victim -xdev -type f -newer /etc/hostname "
              "-o -xdev -type f -name 'victim*' | grep -v -e '^/etc/systemd/system/jail-' | sort | "
              "xargs -r sha256sum; stat -c '%n %a %u %h' /srv/victim/* /root/victim-file")
    return bed.run(["sh", "-c", script]).stdout


def plant_canaries(bed: Testbed) -> None:
    bed.run(["mkdir", "-p", CANARY_DIR])
    bed.path(f"{CANARY_DIR}/victim.txt").write_text("host data\n")
    bed.path("/root/victim-file").write_text("root's secret\n")
    os.chmod(bed.path("/root/victim-file"), 0o600)


def apply_ok(bed: Testbed, *extra: str) -> str:
    proc = bed.run(["jailmgr", "apply", *extra, JAIL], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def no_temporaries(bed: Testbed) -> None:
    found = bed.run(["sh", "-c", "find /etc/systemd/system /var/lib/jailmgr -name '*.jailmgr-tmp.*'"]).stdout
    assert found == ""


@pytest.fixture(scope="module")
def jail(bed: Testbed) -> Testbed:
    bed.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", JAIL])
    plant_canaries(bed)
    apply_ok(bed)
    yield bed
    bed.run(["jailmgr", "destroy", "ftp"], check=False)


@pytest.mark.parametrize("where", ["/etc", "/srv/ftp", "/lib/x86_64-linux-gnu", "/etc/vsftpd.conf",
                                   "/etc/passwd"])
def test_symlink_planted_at_any_level_is_replaced_never_followed(jail: Testbed, where: str) -> None:
    before = host_fingerprint(jail)
    target = jail.path(ROOT + where)
    jail.run(["rm", "-rf", str(ROOT + where)])
    target.symlink_to(CANARY_DIR if not where.endswith((".conf", "passwd")) else f"{CANARY_DIR}/victim.txt")
    apply_ok(jail)
    assert not target.is_symlink()
    assert host_fingerprint(jail) == before
    assert jail.path(f"{CANARY_DIR}/victim.txt").read_text() == "host data\n"
    assert sorted(os.listdir(jail.path(CANARY_DIR))) == ["victim.txt"]
    assert any(line.startswith("230") for line in ftp_session())


def test_hard_link_to_a_host_file_is_replaced_not_written_or_chmodded(jail: Testbed) -> None:
    before = host_fingerprint(jail)
    conf = ROOT + "/etc/vsftpd.conf"
    jail.run(["rm", "-f", conf])
    jail.run(["ln", "/root/victim-file", conf])
    apply_ok(jail)
    assert jail.path("/root/victim-file").read_text() == "root's secret\n"
    assert oct(jail.path("/root/victim-file").stat().st_mode & 0o777) == "0o600"
    assert jail.path(conf).stat().st_nlink == 1
    assert host_fingerprint(jail) == before


def test_fifo_planted_where_a_file_belongs_does_not_block(jail: Testbed) -> None:
    passwd = ROOT + "/etc/passwd"
    jail.run(["rm", "-f", passwd])
    jail.run(["mkfifo", passwd])
    proc = jail.run(["timeout", "30", "jailmgr", "apply", JAIL], check=False)
    assert proc.returncode == 0, proc.stderr
    assert jail.path(passwd).is_file()


def test_mount_under_the_root_is_refused_and_nothing_is_written_through_it(jail: Testbed) -> None:
    before = host_fingerprint(jail)
    empty = ROOT + "/var/empty"
    jail.run(["mount", "--bind", CANARY_DIR, empty])
    try:
        jail.run(["chmod", "0777", empty])  # drift that apply would want to repair
        proc = jail.run(["jailmgr", "apply", JAIL], check=False)
        assert proc.returncode == 1 and "mount point" in proc.stderr
        assert sorted(os.listdir(jail.path(CANARY_DIR))) == ["victim.txt"]
    finally:
        jail.run(["umount", empty])
        jail.run(["chmod", "0755", CANARY_DIR])
    apply_ok(jail)
    assert host_fingerprint(jail) == before


def test_entries_swapped_for_symlinks_during_apply_never_reach_the_host(jail: Testbed) -> None:
    before = host_fingerprint(jail)
    stop = threading.Event()
    ftp_dir = jail.path(ROOT + "/srv/ftp")

    def attacker() -> None:
        while not stop.is_set():
            subprocess.run(["rm", "-rf", str(ftp_dir)], check=False)
            with contextlib.suppress(FileExistsError):  # apply recreated it: swap again next round
                ftp_dir.symlink_to(CANARY_DIR)
            time.sleep(0.001)

    thread = threading.Thread(target=attacker)
    thread.start()
    try:
        for _ in range(10):
            jail.run(["jailmgr", "apply", JAIL], check=False)  # may fail mid-race; must never escape
    finally:
        stop.set()
        thread.join()
    assert sorted(os.listdir(jail.path(CANARY_DIR))) == ["victim.txt"]
    assert jail.path(f"{CANARY_DIR}/victim.txt").read_text() == "host data\n"
    if ftp_dir.is_symlink():
        ftp_dir.unlink()
    apply_ok(jail)
    assert host_fingerprint(jail) == before
    assert any(line.startswith("230") for line in ftp_session())


def test_sigkill_at_many_points_then_one_apply_converges(jail: Testbed) -> None:
    before = host_fingerprint(jail)
    original = jail.path(JAIL).read_text()
    variants = [original, original.replace("welcome to the jailed FTP server", "welcome, second edition")]
    kills = 0
    for i in range(30):
        jail.path(JAIL).write_text(variants[i % 2])
        delay = 0.005 + (i % 15) * 0.012  # 5 ms .. 173 ms: into every step of an apply (about 0.25 s)
        proc = jail.run(["timeout", "-s", "KILL", f"{delay:.2f}", "jailmgr", "apply", "-q", JAIL], check=False)
        kills += proc.returncode in (137, -9)  # timeout reports the KILL; nsenter passes it on
    assert kills >= 20, f"only {kills} applies were killed"
    jail.path(JAIL).write_text(original)
    apply_ok(jail)
    assert jail.run(["systemctl", "is-active", "jail-ftp.service"]).stdout.strip() == "active"
    plan = jail.run(["jailmgr", "plan", "--detailed-exitcode", JAIL], check=False)
    assert plan.returncode == 0, plan.stdout
    welcome = [line for line in ftp_session() if "welcome.txt" in line and "RETR" in line]
    assert welcome == ["RETR welcome.txt -> b'welcome to the jailed FTP server\\n'"]
    no_temporaries(jail)
    assert host_fingerprint(jail) == before


def test_two_concurrent_applies_end_with_every_jail_active(jail: Testbed) -> None:
    for name in ("one", "two", "three"):
        jail.path(f"/etc/jailmgr/jails.d/{name}.yaml").write_text(
            f"name: {name}\nexec: [/usr/bin/sleep, infinity]\ntree: {{binaries: [/usr/bin/sleep]}}\n")
    command = ["nsenter", "-t", str(jail.pid), "-a", "jailmgr", "apply", "/etc/jailmgr/jails.d"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert any("waiting for the lock" in err for _, err in results)
    for name in ("ftp", "one", "two", "three"):
        unit = f"jail-{name}.service"
        assert jail.run(["systemctl", "is-active", unit]).stdout.strip() == "active", name
    for name in ("one", "two", "three"):
        jail.run(["rm", f"/etc/jailmgr/jails.d/{name}.yaml"])
    out = jail.run(["jailmgr", "apply", "--prune", "/etc/jailmgr/jails.d"]).stdout
    assert "one: no longer defined; destroying" in out
    assert jail.run(["jailmgr", "list"]).stdout.split() == ["ftp"]


def test_damaged_state_is_reported_and_rebuilt(jail: Testbed) -> None:
    state = jail.path("/var/lib/jailmgr/state/ftp.json")
    state.write_text('{"name": "ftp", "entries": ')  # truncated
    proc = jail.run(["jailmgr", "apply", JAIL], check=False)
    assert proc.returncode == 0
    assert "damaged" in proc.stderr and "Traceback" not in proc.stderr
    assert jail.run(["jailmgr", "plan", "--detailed-exitcode", JAIL], check=False).returncode == 0


def test_host_paths_are_never_named_in_a_tree_walk(tmp_path: Path) -> None:
    """A guard on the suite itself: the canaries it checks are outside every jail root."""
    assert not CANARY_DIR.startswith(ROOT) and not ROOT.startswith(CANARY_DIR)
