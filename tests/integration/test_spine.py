"""The main job on a real systemd: apply the ftp jail, serve FTP, no-op apply, destroy.

The tests in this file run in order against one booted container.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import pytest

from tests.testbed import Testbed, ftp_session

JAIL = "/etc/jailmgr/jails.d/ftp.yaml"
ROOT = "/var/lib/jailmgr/jails/ftp/root"
# systemd 252 creates these mount points inside a RootDirectory= when the service starts.
SYSTEMD_MOUNT_POINTS = {"/root", "/sys", "/sbin", "/run/systemd", "/run/systemd/incoming"}


def jailmgr(bed: Testbed, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return bed.run(["jailmgr", *args], check=check)


def main_pid(bed: Testbed) -> int:
    return int(bed.run(["systemctl", "show", "-P", "MainPID", "jail-ftp.service"]).stdout.strip())


def wait_active(bed: Testbed, unit: str = "jail-ftp.service") -> None:
    for _ in range(50):
        if bed.run(["systemctl", "is-active", unit], check=False).stdout.strip() == "active":
            return
        time.sleep(0.1)
    status = bed.run(["systemctl", "status", "--no-pager", "-n", "20", unit], check=False)
    pytest.fail(f"{unit} is not active:\n{status.stdout}")


def test_bad_input_changes_nothing(bed: Testbed) -> None:
    bed.path("/srv/bad.yaml").write_text("name: bad\nexec: [/usr/sbin/vsftpd]\nlimits: {memory: lots}\n")
    proc = jailmgr(bed, "apply", "/srv/bad.yaml", check=False)
    assert proc.returncode == 1
    assert "/srv/bad.yaml:3:18: limits.memory: 'lots' is not a size (e.g. 256M)" in proc.stderr
    assert not bed.path("/etc/systemd/system/jail-bad.service").exists()
    assert not bed.path("/var/lib/jailmgr/jails/bad").exists()
    assert not bed.path("/var/lib/jailmgr/state/bad.json").exists()


def test_non_root_is_refused(bed: Testbed) -> None:
    proc = bed.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "jailmgr", "list"],
                   check=False)
    assert proc.returncode == 1 and "must run as root" in proc.stderr


def test_apply_builds_the_tree_and_starts_the_service(bed: Testbed) -> None:
    bed.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", JAIL])
    proc = jailmgr(bed, "apply", JAIL)
    assert "ftp: " in proc.stdout and "starting jail-ftp.service" in proc.stdout
    wait_active(bed)
    status = json.loads(jailmgr(bed, "--json", "status", "ftp").stdout)["jails"][0]
    pid = status["program_pid"]
    assert bed.run(["cat", f"/proc/{pid}/comm"]).stdout.strip() == "vsftpd"
    # The running vsftpd's root is the jail's tree.  The tree is the root of the
    # jail's private mount namespace, so readlink /proc/PID/root says "/"; the
    # directory behind it is the jail root (same device and inode).
    same = bed.run(["stat", "-L", "-c", "%d:%i", f"/proc/{pid}/root/", ROOT]).stdout.split()
    assert same[0] == same[1]
    assert bed.run(["test", "-e", f"/proc/{pid}/root/etc/hostname"], check=False).returncode != 0
    assert bed.path(f"{ROOT}/etc/vsftpd.conf").exists()
    assert status["active"] == "active" and status["main_pid"] == main_pid(bed)
    assert jailmgr(bed, "list").stdout.split() == ["ftp"]


def test_tree_is_small_and_exactly_what_render_shows(bed: Testbed) -> None:
    rendered = json.loads(jailmgr(bed, "--json", "render", JAIL).stdout)["jails"][0]
    wanted = {e["path"]: e for e in rendered["tree"]}
    built = {}
    root = bed.path(ROOT)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            built["/" + os.path.relpath(full, root)] = os.lstat(full)
    assert set(built) - SYSTEMD_MOUNT_POINTS == set(wanted)
    for path, entry in wanted.items():
        st = built[path]
        assert f"{st.st_mode & 0o7777:04o}" == entry["mode"], path
    data_bytes = sum(st.st_size for st in built.values() if stat.S_ISREG(st.st_mode))
    disk = subprocess.run(["du", "-sk", str(root)], capture_output=True, text=True, check=True).stdout.split()[0]
    print(f"\nftp tree: {len(built)} entries, {data_bytes} bytes of file data, {disk} KiB on disk")
    assert data_bytes < 100 * 1024


def test_ftp_session_downloads_and_uploads(bed: Testbed) -> None:
    bed.path("/srv/ftp-data/hello.txt").write_text("hello from the host\n")
    seen = ftp_session(upload=b"bytes uploaded through the jail\n")
    assert seen[0].startswith("220") and seen[1].startswith("230")
    assert "LIST / -> ['pub', 'upload', 'welcome.txt']" in seen
    assert "RETR pub/hello.txt -> b'hello from the host\\n'" in seen
    assert "RETR welcome.txt -> b'welcome to the jailed FTP server\\n'" in seen
    assert bed.path("/var/lib/ftp-upload/from-client.bin").read_bytes() == b"bytes uploaded through the jail\n"


def test_second_apply_changes_nothing_and_keeps_the_main_pid(bed: Testbed) -> None:
    before = main_pid(bed)
    unit_mtime = bed.path("/etc/systemd/system/jail-ftp.service").stat().st_mtime_ns
    proc = jailmgr(bed, "apply", "--detailed-exitcode", JAIL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to change" in proc.stdout
    assert main_pid(bed) == before
    assert bed.path("/etc/systemd/system/jail-ftp.service").stat().st_mtime_ns == unit_mtime
    assert jailmgr(bed, "plan", "--detailed-exitcode", JAIL, check=False).returncode == 0


def test_drift_is_planned_and_repaired(bed: Testbed) -> None:
    conf = bed.path(f"{ROOT}/etc/vsftpd.conf")
    original = conf.read_bytes()
    conf.write_bytes(original + b"anon_upload_enable=NO\n")
    plan = jailmgr(bed, "plan", "--detailed-exitcode", JAIL, check=False)
    assert plan.returncode == 2 and "~ file       /etc/vsftpd.conf" in plan.stdout
    before = main_pid(bed)
    jailmgr(bed, "apply", JAIL)
    wait_active(bed)
    assert conf.read_bytes() == original
    assert main_pid(bed) != before  # the tree changed: the service was restarted


def test_exec_argv_survives_a_real_systemd(bed: Testbed) -> None:
    """Escaping checked against systemd itself: the program gets exactly the argv of the jail file."""
    argv = ["/usr/bin/printf", "[%s]\\n", "100%", "$HOME", "${X}", "a b", 'say "hi"', "back\\slash", ";", "",
            "it's", "%n%%"]
    bed.path("/srv/argv.yaml").write_text(
        "name: argv\nrestart: no\nenable: false\n"
        f"exec: {json.dumps(argv)}\n"
        "tree: {binaries: [/usr/bin/printf]}\n")
    jailmgr(bed, "apply", "/srv/argv.yaml")
    time.sleep(0.3)
    out = bed.run(["journalctl", "-u", "jail-argv.service", "-o", "cat", "--no-pager"]).stdout
    printed = [line[1:-1] for line in out.splitlines() if line.startswith("[") and line.endswith("]")]
    assert printed == argv[2:]
    shown = bed.run(["systemctl", "show", "-P", "ExecStart", "jail-argv.service"]).stdout
    # systemctl show gives argv as loaded, before $VARIABLE expansion at exec time;
    # under the launcher the jail's argv ends bwrap's (after setpriv's "--").
    assert f" -- {' '.join(a.replace('$', '$$') for a in argv)} ;" in shown
    jailmgr(bed, "destroy", "argv")


def test_destroy_removes_unit_tree_and_state_but_keeps_bound_data(bed: Testbed) -> None:
    pid = main_pid(bed)
    assert pid > 0
    proc = jailmgr(bed, "destroy", "ftp")
    assert "ftp: destroyed" in proc.stdout
    assert not bed.path("/etc/systemd/system/jail-ftp.service").exists()
    assert not bed.path("/var/lib/jailmgr/jails/ftp").exists()
    assert not bed.path("/var/lib/jailmgr/state/ftp.json").exists()
    assert bed.run(["systemctl", "is-active", "jail-ftp.service"], check=False).stdout.strip() != "active"
    assert bed.path("/var/lib/ftp-upload/from-client.bin").read_bytes() == b"bytes uploaded through the jail\n"
    assert bed.path("/srv/ftp-data/hello.txt").exists()
    assert jailmgr(bed, "list").stdout.strip() == ""


def test_destroy_never_enters_a_mount_left_under_the_root(bed: Testbed) -> None:
    jailmgr(bed, "apply", JAIL)
    wait_active(bed)
    bed.run(["mkdir", "-p", "/srv/precious"])
    bed.path("/srv/precious/keep.txt").write_text("do not delete\n")
    # A bind mount made by hand under the jail root, on the same filesystem (same st_dev).
    bed.run(["mount", "--bind", "/srv/precious", f"{ROOT}/srv/ftp/pub"])
    proc = jailmgr(bed, "destroy", "ftp", check=False)
    bed.run(["umount", f"{ROOT}/srv/ftp/pub"])
    assert proc.returncode == 1
    assert "a mount point; left in place" in proc.stdout
    assert bed.path("/srv/precious/keep.txt").read_text() == "do not delete\n"
    # Once the mount is gone, destroy finishes the job.
    jailmgr(bed, "destroy", "ftp")
    assert not bed.path("/var/lib/jailmgr/jails/ftp").exists()
