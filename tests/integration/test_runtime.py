"""runtime: against a real systemd, 252 (Debian 12) and 257 (Debian 13), under the launcher and on systemd's
directives alone: what each key gives the jail, and that it reaches nothing more of the host.

A dynamically linked probe (runtime_probe.c) is each jail's program and, through `jailmgr exec`, says from
inside what the jail has: its syslog(3) line at start must be in the journal under the jail's unit, /dev/shm
of the declared size and not the host's, the host's zone (the container is set to one that is not UTC), the
C.UTF-8 locale.  The same jails with the keys off have no /dev/log to send to and no /dev/shm to use: the
native one's systemd /dev holds the host's /dev/shm unless jailmgr covers it, so the host's file there is
what the test looks for.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.testbed import Testbed

PROBE = "/usr/local/bin/runtime_probe"
PROBE_SRC = Path(__file__).with_name("runtime_probe.c")
ON = "{shm: 8M, timezone: true, locales: true}"  # (syslog is on by default)
OFF = "{syslog: false}"
# A jail without a PID namespace needs a user of its own (no other jail, no host process).
SHAPES = {"launcher": ("nobody", ""), "native": ("news", "namespaces: {pid: false, uts: false, cgroup: false}\n")}
OFF_USERS = {"launcher": "nobody", "native": "uucp"}
ZONE, ZONE_SAYS = "Asia/Tokyo", "JST +0900"  # what the container is set to while the module runs
LATER, LATER_SAYS = "America/Sao_Paulo", "-03 -0300"  # (no summer time there since 2019)
HOST_FILE = "/dev/shm/runtime-host-secret"


@dataclass
class Beds:
    bed: Testbed
    suite: str


def name(shape: str, on: bool) -> str:
    return f"rt-{shape}-{'on' if on else 'off'}"


def jail_file(shape: str, on: bool) -> str:
    user, namespaces = SHAPES[shape]
    user = user if on else OFF_USERS[shape]
    return (f"name: {name(shape, on)}\nexec: [{PROBE}, serve, {name(shape, on)}]\nuser: {user}\n{namespaces}"
            f"tree:\n  binaries: [{PROBE}]\n  users: [{user}]\nruntime: {ON if on else OFF}\n")


def set_zone(bed: Testbed, zone: str) -> None:
    bed.run(["ln", "-sfn", f"/usr/share/zoneinfo/{zone}", "/etc/localtime"])


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def beds(request: pytest.FixtureRequest) -> Iterator[Beds]:
    """The four jails (two shapes, keys on and off) applied in one apply on the suite's container."""
    bed: Testbed = request.getfixturevalue("bed" if request.param == "bookworm" else "trixie")
    subprocess.run(["gcc", "-O2", "-o", str(bed.path(PROBE)), str(PROBE_SRC)], check=True)
    bed.path("/srv/rt").mkdir(parents=True, exist_ok=True)
    paths = []
    for shape in SHAPES:
        for on in (True, False):
            paths.append(f"/srv/rt/{name(shape, on)}.yaml")
            bed.path(paths[-1]).write_text(jail_file(shape, on))
    bed.run(["sh", "-c", f"echo host-only > {HOST_FILE}"])
    set_zone(bed, ZONE)
    try:
        started = time.monotonic()
        proc = bed.run(["jailmgr", "apply", *paths], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        print(f"apply of the four jails on {request.param}: {time.monotonic() - started:.2f} s")
        yield Beds(bed, request.param)
    finally:
        bed.run(["jailmgr", "destroy", *(name(s, o) for s in SHAPES for o in (True, False))], check=False)
        set_zone(bed, "Etc/UTC")
        bed.run(["rm", "-f", HOST_FILE, "/dev/shm/runtime-probe"], check=False)


def probe(beds: Beds, jail: str, *args: str) -> str:
    """What the probe says from inside the running jail (exec: the program's namespaces, ids and filters)."""
    proc = beds.bed.run(["jailmgr", "exec", jail, "--", PROBE, *args], check=False)
    return proc.stdout + proc.stderr


def journal_entries(bed: Testbed, unit: str) -> list[dict[str, str]]:
    out = bed.run(["journalctl", "-u", unit, "-o", "json", "--no-pager"]).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def syslog_lines(bed: Testbed, unit: str, text: str, wait: bool = True) -> list[dict[str, str]]:
    for _ in range(50 if wait else 1):
        found = [e for e in journal_entries(bed, unit) if text in str(e.get("MESSAGE", ""))]
        if found:
            return found
        time.sleep(0.1)
    return []


@pytest.mark.parametrize("shape", SHAPES)
def test_syslog_lines_reach_the_journal_under_the_jails_unit(beds: Beds, shape: str) -> None:
    jail = name(shape, True)
    unit = f"jail-{jail}.service"
    text = beds.bed.path(f"/etc/systemd/system/{unit}").read_text()
    assert "/run/systemd/journal/dev-log" in text
    assert ("BindLogSockets=no" in text) == (shape == "native" and beds.suite == "trixie")
    started = syslog_lines(beds.bed, unit, "runtime-probe: started")
    assert started, journal_entries(beds.bed, unit)[-5:]
    uid = beds.bed.run(["id", "-u", SHAPES[shape][0]]).stdout.strip()
    for entry in started:
        # journald stamps what the jail can't choose: its unit and uid, the syslog transport
        assert entry["_TRANSPORT"] == "syslog" and entry["_SYSTEMD_UNIT"] == unit and entry["_UID"] == uid
        assert entry["SYSLOG_IDENTIFIER"] == jail
    # a line sent by hand from a command exec'd in the jail is the unit's too, whatever tag it claims
    assert "send: ok" in probe(beds, jail, "send", "sshd", "claims-to-be-sshd")
    forged = syslog_lines(beds.bed, unit, "claims-to-be-sshd")
    assert forged and forged[0]["_SYSTEMD_UNIT"] == unit and forged[0]["SYSLOG_IDENTIFIER"] == "sshd"


@pytest.mark.parametrize("shape", SHAPES)
def test_dev_log_is_the_syslog_socket_alone_and_the_jail_cant_replace_it(beds: Beds, shape: str) -> None:
    jail = name(shape, True)
    said = probe(beds, jail, "exists", "/dev/log")
    # (systemd 252 makes /dev/log a symlink to the socket's path in its own /dev; the bind lands there)
    assert said.strip() in ("exists: socket", "exists: symlink to a socket"), said
    for other in ("/run/systemd/journal/socket", "/run/systemd/journal/stdout"):  # journald's other sockets
        assert "exists: refused (No such file or directory)" in probe(beds, jail, "exists", other)
    assert "unlink: refused" in probe(beds, jail, "unlink", "/dev/log")
    assert beds.bed.run(["test", "-S", "/run/systemd/journal/dev-log"], check=False).returncode == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_dev_shm_is_the_jails_own_of_the_declared_size(beds: Beds, shape: str) -> None:
    jail = name(shape, True)
    said = probe(beds, jail, "shm").splitlines()
    assert "size: 8388608" in said and "mode: 1777" in said and "shm_open: ok" in said, said
    assert "flags: nosuid nodev" in said, said
    # not the host's: its file is not there, and the segment made in the jail is not on the host
    assert "exists: refused (No such file or directory)" in probe(beds, jail, "exists", HOST_FILE)
    assert not beds.bed.path("/dev/shm/runtime-probe").exists()
    made = f"/dev/shm/made-by-{jail}"
    assert "make: ok" in probe(beds, jail, "make", made)
    assert beds.bed.run(["test", "-e", made], check=False).returncode == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_the_time_zone_is_the_hosts_and_follows_it_at_the_next_start(beds: Beds, shape: str) -> None:
    jail, unit = name(shape, True), f"jail-{name(shape, True)}.service"
    assert probe(beds, jail, "tz").strip() == f"tz: {ZONE_SAYS}"
    assert probe(beds, name(shape, False), "tz").strip() == "tz: UTC +0000"  # no /etc/localtime: glibc's UTC
    set_zone(beds.bed, LATER)
    try:
        assert probe(beds, jail, "tz").strip() == f"tz: {ZONE_SAYS}"  # (bound at the start: until a restart)
        beds.bed.run(["systemctl", "restart", unit])
        assert probe(beds, jail, "tz").strip() == f"tz: {LATER_SAYS}"
    finally:
        set_zone(beds.bed, ZONE)
        beds.bed.run(["systemctl", "restart", unit])


@pytest.mark.parametrize("shape", SHAPES)
def test_the_c_utf8_locale_loads_with_locales_and_not_without(beds: Beds, shape: str) -> None:
    said = probe(beds, name(shape, True), "locale", "C.UTF-8").splitlines()
    assert said == ["setlocale: C.UTF-8", "codeset: UTF-8"], said
    assert "setlocale: refused" in probe(beds, name(shape, False), "locale", "C.UTF-8")


@pytest.mark.parametrize("shape", SHAPES)
def test_with_the_keys_off_there_is_no_dev_log_nor_dev_shm_to_use(beds: Beds, shape: str) -> None:
    jail, unit = name(shape, False), f"jail-{name(shape, False)}.service"
    assert "connect: refused (No such file or directory)" in probe(beds, jail, "send", jail, "never-sent")
    assert syslog_lines(beds.bed, unit, "runtime-probe: started", wait=False) == []
    said = probe(beds, jail, "shm")
    if shape == "launcher":  # bubblewrap's /dev holds the declared nodes alone
        assert "statvfs: refused (No such file or directory)" in said, said
    else:  # systemd's /dev has the directory: the host's /dev/shm, covered by an empty one nobody can use
        assert "mode: 0000" in said and "shm_open: refused (Permission denied)" in said, said
    assert "exists: refused" in probe(beds, jail, "exists", HOST_FILE)
    assert "make: refused" in probe(beds, jail, "make", "/dev/shm/from-the-jail")
    for path in ("/usr/share/zoneinfo", "/etc/localtime", "/usr/lib/locale"):
        assert "exists: refused (No such file or directory)" in probe(beds, jail, "exists", path)


def test_systemds_dev_holds_no_other_host_mount_a_jail_can_use(beds: Beds) -> None:
    """Without the launcher PrivateDevices= puts more in the jail's /dev than /dev/shm: its /dev/mqueue is the
    jail's own IPC namespace's (PrivateIPC=, ipc: true), not the host's queues, and /dev/hugepages is the
    host's, but root's alone to write."""
    beds.bed.run(["sh", "-c", "touch /dev/mqueue/runtime-host-queue"])
    try:
        for on in (True, False):
            jail = name("native", on)
            assert "exists: refused (No such file or directory)" in probe(
                beds, jail, "exists", "/dev/mqueue/runtime-host-queue")
            assert "make: ok" in probe(beds, jail, "make", f"/dev/mqueue/from-{jail}")  # (its own namespace's)
            assert beds.bed.run(["test", "-e", f"/dev/mqueue/from-{jail}"], check=False).returncode == 1
            assert "make: refused (Permission denied)" in probe(beds, jail, "make", "/dev/hugepages/from-the-jail")
    finally:
        beds.bed.run(["sh", "-c", "rm -f /dev/mqueue/runtime-host-queue"], check=False)
