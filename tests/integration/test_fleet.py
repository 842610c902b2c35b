"""A directory of 20 jails on a real systemd: one reload, no-op applies, prune, a broken jail, a library upgrade.

The tests in this file run in order against one booted container.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests.testbed import Testbed

DIR = "/srv/fleet"
NAMES = [f"j{i:02d}" for i in range(1, 21)]


def jail_text(name: str, greeting: str = "one") -> str:
    return (f"name: {name}\nexec: [/usr/bin/sleep, infinity]\nenvironment: {{GREETING: {greeting}}}\n"
            "tree: {binaries: [/usr/bin/sleep]}\n")


def reloads(bed: Testbed) -> int:
    """How many times PID 1 has reloaded its units (its journal says 'Reloading.', or on 257 'Reloading...'
    between 'Reloading requested from client PID ...' and 'Reloading finished in ... ms.')."""
    out = bed.run(["journalctl", "_PID=1", "-o", "cat", "--no-pager"]).stdout
    return sum(1 for line in out.splitlines()
               if line.startswith("Reloading") and not line.startswith(("Reloading requested", "Reloading finished")))


def settle_reloads(bed: Testbed) -> int:
    time.sleep(0.3)  # the journal may lag PID 1 by a moment
    return reloads(bed)


def main_pids(bed: Testbed, names: list[str]) -> dict[str, str]:
    units = [f"jail-{n}.service" for n in names]
    out = bed.run(["systemctl", "show", "-p", "MainPID", "--value", *units]).stdout.split()
    return dict(zip(names, out, strict=True))


def apply(bed: Testbed, *args: str) -> subprocess.CompletedProcess[str]:
    return bed.run(["jailmgr", "apply", *args, DIR], check=False)


@pytest.fixture(scope="module")
def fleet(bed: Testbed) -> Testbed:
    bed.run(["mkdir", "-p", DIR])
    for name in NAMES:
        bed.path(f"{DIR}/{name}.yaml").write_text(jail_text(name))
    yield bed
    bed.run(["sh", "-c", f"rm -f {DIR}/*.yaml"])
    bed.run(["jailmgr", "apply", "--prune", DIR], check=False)


def test_plan_sees_twenty_new_jails_then_one_apply_starts_them_without_a_reload(fleet: Testbed) -> None:
    plan = fleet.run(["jailmgr", "plan", "--detailed-exitcode", DIR], check=False)
    assert plan.returncode == 2 and all(f"{n}:" in plan.stdout for n in NAMES)
    before = reloads(fleet)
    proc = apply(fleet)
    assert proc.returncode == 0, proc.stderr
    assert settle_reloads(fleet) == before  # new units: their start loads them (systemd.restart)
    states = fleet.run(["systemctl", "is-active", *[f"jail-{n}.service" for n in NAMES]], check=False).stdout
    assert states.split() == ["active"] * 20
    assert fleet.run(["jailmgr", "plan", "--detailed-exitcode", DIR], check=False).returncode == 0


def test_a_no_op_apply_keeps_every_process_and_reloads_nothing(fleet: Testbed) -> None:
    pids = main_pids(fleet, NAMES)
    before = reloads(fleet)
    proc = apply(fleet, "--detailed-exitcode")
    assert proc.returncode == 0 and "nothing to change" in proc.stdout, proc.stdout + proc.stderr
    assert settle_reloads(fleet) == before
    assert main_pids(fleet, NAMES) == pids


def test_one_changed_and_one_removed_then_prune_restarts_only_the_changed_one(fleet: Testbed) -> None:
    pids = main_pids(fleet, NAMES)
    fleet.path(f"{DIR}/j01.yaml").write_text(jail_text("j01", "two"))
    fleet.path(f"{DIR}/j20.yaml").unlink()
    plan = fleet.run(["jailmgr", "--json", "plan", "--prune", DIR]).stdout
    doc = {j["name"]: j for j in json.loads(plan)["jails"]}
    assert doc["j20"]["destroy"] and doc["j01"]["start"] == "restart" and doc["j02"]["changes"] == []
    before = reloads(fleet)
    proc = apply(fleet, "--prune")
    assert proc.returncode == 0, proc.stderr
    assert "j20: no longer defined; destroying" in proc.stdout
    assert settle_reloads(fleet) - before == 1  # a loaded unit changed, another went: one reload for both
    now = main_pids(fleet, NAMES[:19])
    assert now["j01"] != pids["j01"]
    assert {n: p for n, p in now.items() if n != "j01"} == {n: pids[n] for n in NAMES[1:19]}
    assert not fleet.path("/etc/systemd/system/jail-j20.service").exists()
    assert "j20" not in fleet.run(["jailmgr", "list"]).stdout.split()


def test_a_jail_that_cannot_start_does_not_hold_back_the_others(fleet: Testbed) -> None:
    pids = main_pids(fleet, NAMES[:19])
    fleet.path(f"{DIR}/j02.yaml").write_text(jail_text("j02", "two"))
    fleet.path(f"{DIR}/broken.yaml").write_text(
        "name: broken\nexec: [/bin/prog]\ntree: {files: [{path: /bin/prog, content: not a program}]}\n")
    proc = apply(fleet)
    assert proc.returncode == 1
    assert "broken: jail-broken.service did not start" in proc.stderr and "1 of 20 jails failed" in proc.stderr
    now = main_pids(fleet, NAMES[:19])
    assert now["j02"] != pids["j02"]  # its new version runs
    environ = fleet.run(["cat", f"/proc/{now['j02']}/environ"]).stdout
    assert "GREETING=two" in environ
    planned = json.loads(fleet.run(["jailmgr", "--json", "plan", DIR]).stdout)["jails"]
    assert [j["name"] for j in planned if j["restart"]] == ["broken"]  # nobody else is left pending
    again = apply(fleet)  # only what is left is tried again
    assert again.returncode == 1 and "j02" not in again.stdout
    assert main_pids(fleet, NAMES[:19])["j02"] == now["j02"]
    fleet.path(f"{DIR}/broken.yaml").unlink()
    assert apply(fleet, "--prune").returncode == 0


LIB = """int jm_answer(void) { return 42; }\n"""
PROG = """#include <stdio.h>\n#include <unistd.h>\nint jm_answer(void);\n
int main(void) { printf("answer %d\\n", jm_answer()); fflush(stdout); for (;;) pause(); }\n"""


def test_a_library_renamed_by_an_upgrade_still_reaches_the_jail(fleet: Testbed) -> None:
    """The bind is of the loader's path (the soname link), not of the real file it named at apply."""
    work = fleet.path("/srv/libwork")
    work.mkdir(exist_ok=True)
    (work / "jm.c").write_text(LIB)
    (work / "prog.c").write_text(PROG)
    libdir = fleet.path("/usr/lib/x86_64-linux-gnu")  # a directory the loader searches without ld.so.cache
    libdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libjm.so.1", "-o", str(libdir / "libjm.so.1.0"),
                    str(work / "jm.c")], check=True)
    (libdir / "libjm.so.1").unlink(missing_ok=True)
    (libdir / "libjm.so.1").symlink_to("libjm.so.1.0")
    (libdir / "libjm.so").unlink(missing_ok=True)
    (libdir / "libjm.so").symlink_to("libjm.so.1")
    subprocess.run(["gcc", "-o", str(fleet.path("/usr/local/bin/jmprog")), str(work / "prog.c"), f"-L{libdir}",
                    "-ljm"], check=True)
    fleet.run(["ldconfig"])
    fleet.path("/srv/jm.yaml").write_text("name: jm\nexec: [/usr/local/bin/jmprog]\n"
                                          "tree: {binaries: [/usr/local/bin/jmprog]}\n")
    assert fleet.run(["jailmgr", "apply", "/srv/jm.yaml"], check=False).returncode == 0
    unit = fleet.path("/etc/systemd/system/jail-jm.service").read_text()
    assert re.search(r"x86_64-linux-gnu/libjm\.so\.1(?![.0-9])", unit) and "libjm.so.1.0" not in unit
    # The upgrade: a new real file, the soname link moved to it, the old one removed.
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libjm.so.1", "-o", str(libdir / "libjm.so.1.1"),
                    str(work / "jm.c")], check=True)
    (libdir / "libjm.so.1").unlink()
    (libdir / "libjm.so.1").symlink_to("libjm.so.1.1")
    (libdir / "libjm.so.1.0").unlink()
    check = fleet.run(["jailmgr", "check", "jm"], check=False).stdout
    assert re.search(r"still maps \S*/libjm\.so\.1, replaced or removed", check), check  # (its path in the jail)
    fleet.run(["systemctl", "restart", "jail-jm.service"])  # a restart, not an apply
    time.sleep(0.5)
    assert fleet.run(["systemctl", "is-active", "jail-jm.service"]).stdout.strip() == "active"
    assert "answer 42" in fleet.run(["journalctl", "-u", "jail-jm.service", "-o", "cat", "--no-pager"]).stdout
    fleet.run(["jailmgr", "destroy", "jm"])


def test_host_failures_name_the_jail_the_path_and_what_to_do(fleet: Testbed) -> None:
    fleet.path(f"{DIR}/j03.yaml").write_text(jail_text("j03", "three"))
    fleet.run(["sh", "-c", "mount --bind /etc/systemd/system /etc/systemd/system && "
                           "mount -o remount,bind,ro /etc/systemd/system"])
    try:
        proc = apply(fleet)
    finally:
        fleet.run(["umount", "/etc/systemd/system"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert ("j03: cannot update unit /etc/systemd/system/jail-j03.service: Read-only file system "
            "(the file system is mounted read-only)") in proc.stderr
    assert ".jailmgr-tmp." not in proc.stderr
    # A full disk under a jail's tree.
    fleet.run(["mkdir", "-p", "/srv/tiny"])
    fleet.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", "/srv/tiny"])
    try:
        fleet.path("/srv/big.yaml").write_text(
            "name: big\nroot: /srv/tiny/root\nexec: [/usr/bin/sleep, infinity]\n"
            "tree: {binaries: [/usr/bin/sleep], libraries: copy}\n")
        full = fleet.run(["jailmgr", "apply", "/srv/big.yaml"], check=False)
        assert full.returncode == 1 and "Traceback" not in full.stderr
        assert re.search(r"big: cannot create file /srv/tiny/root/\S+: No space left on device "
                         r"\(free some space there\)", full.stderr), full.stderr
    finally:
        fleet.run(["jailmgr", "destroy", "big"], check=False)
        fleet.run(["umount", "/srv/tiny"])
    assert apply(fleet).returncode == 0  # the next apply finishes what was left
