"""namespaces.time against a real systemd, 252 (Debian 12) and 257 (Debian 13), under the launcher and on
systemd's directives alone (ExecStart=! and jailmgr-init's exec mode).

Each shape runs twice, with the time namespace and without, the same jail otherwise: the one with it reads
an uptime below its age (the host's is larger), `jailmgr exec` sees the same clocks, `status` lists it, and
the program's capability sets, no_new_privs and seccomp mode are those of the one without.  A static probe
(time_probe.c) is the program; run inside as the program (as root under the launcher), it can't set a
clock, make a time namespace of its own, write its offsets or join the host's.
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

PROBE = "/usr/local/bin/time_probe"
PROBE_SRC = Path(__file__).with_name("time_probe.c")
# A jail without a PID namespace needs a user of its own (no other jail, no host process).
# (under the launcher a /proc of the jail's own: its /proc/uptime is there to read; "admin" holds
# CAP_SYS_ADMIN, enough to make a time namespace but for what forbids it; "userns": root of its own user
# namespace, where the time namespace's owner, the host's, gives it nothing)
SHAPES = {"launcher": ("root", "", "mounts: [{type: proc}]\n"),
          "native": ("irc", "pid: false, uts: false, cgroup: false, ", ""),
          "admin": ("root", "", "mounts: [{type: proc}]\nsecurity: {capabilities: [CAP_SYS_ADMIN]}\n"),
          "userns": ("root", "user: true, ", "mounts: [{type: proc}]\n")}
OFF_USERS = {"launcher": "root", "native": "list", "admin": "root", "userns": "root"}
CAP_SYS_TIME = 25


@dataclass
class Beds:
    bed: Testbed
    suite: str
    applied_at: float  # time.monotonic() just before the apply (the host's clock: this process's)


def name(shape: str, on: bool) -> str:
    return f"tn-{shape}-{'on' if on else 'off'}"


def jail_file(shape: str, on: bool) -> str:
    user, namespaces, mounts = SHAPES[shape]
    user = user if on else OFF_USERS[shape]
    users = f"  users: [{user}]\n" if user != "root" else ""
    return (f"name: {name(shape, on)}\nexec: [{PROBE}, serve]\nuser: {user}\n"
            f"namespaces: {{{namespaces}time: {'true' if on else 'false'}}}\n"
            f"tree:\n  binaries: [{PROBE}]\n{users}{mounts}")


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def beds(request: pytest.FixtureRequest) -> Iterator[Beds]:
    """The eight jails (four shapes, with and without the time namespace) applied in one apply."""
    bed: Testbed = request.getfixturevalue("bed" if request.param == "bookworm" else "trixie")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(PROBE)), str(PROBE_SRC)], check=True)
    bed.path("/srv/tn").mkdir(parents=True, exist_ok=True)
    paths = []
    for shape in SHAPES:
        for on in (True, False):
            paths.append(f"/srv/tn/{name(shape, on)}.yaml")
            bed.path(paths[-1]).write_text(jail_file(shape, on))
    try:
        applied_at = time.monotonic()
        proc = bed.run(["jailmgr", "apply", *paths], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield Beds(bed, request.param, applied_at)
    finally:
        bed.run(["jailmgr", "destroy", *(name(s, o) for s in SHAPES for o in (True, False))], check=False)


def status(beds: Beds, jail: str) -> dict:
    return json.loads(beds.bed.run(["jailmgr", "--json", "status", jail]).stdout)["jails"][0]


def program_pid(beds: Beds, jail: str) -> int:
    pid = status(beds, jail)["program_pid"]
    assert pid, status(beds, jail)
    return int(pid)


def said(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def in_jail(beds: Beds, jail: str, *args: str) -> dict[str, str]:
    """What the probe says, run by `jailmgr exec` (the program's namespaces, ids, capability sets, filters)."""
    proc = beds.bed.run(["jailmgr", "exec", jail, "--", PROBE, *args], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return said(proc.stdout)


def journal(beds: Beds, jail: str) -> dict[str, str]:
    """What the program itself printed at its start (its clocks then)."""
    for _ in range(50):
        out = beds.bed.run(["journalctl", "-u", f"jail-{jail}.service", "-o", "cat", "--no-pager"]).stdout
        if "timens: " in out:
            return said(out[out.rindex("serve: started"):])
        time.sleep(0.1)
    raise AssertionError(f"jail-{jail}.service printed no clocks: {out}")


def host_uptime(beds: Beds) -> float:
    return float(beds.bed.run(["cat", "/proc/uptime"]).stdout.split()[0])


@pytest.mark.parametrize("shape", SHAPES)
def test_the_jails_uptime_is_its_age_and_the_hosts_is_hidden(beds: Beds, shape: str) -> None:
    jail = name(shape, True)
    text = beds.bed.path(f"/etc/systemd/system/jail-{jail}.service").read_text()
    assert ("bwrap" in text) == (shape != "native")
    assert ("ExecStart=!/run/host/jailmgr-init exec --time" in text) == (shape == "native")
    seen = [journal(beds, jail), in_jail(beds, jail, "clocks")]  # the program at its start, and exec now
    age = time.monotonic() - beds.applied_at  # the jails started after applied_at
    host = host_uptime(beds)
    print(f"{beds.suite} {shape}: jail at its start {seen[0]['boottime']} s, by exec {seen[1]['boottime']} s, "
          f"its age under {age:.3f} s, host uptime {host:.1f} s")
    for clocks in seen:
        for clock in ("boottime", "monotonic"):
            # (the probe prints milliseconds, rounded down)
            assert float(clocks[clock]) <= age < host, (clocks, age, host)
    uptime = seen[1]["uptime"]
    if shape != "native":  # the jail's /proc (a proc mount)
        assert float(uptime) <= age, (uptime, age)
    else:  # ProcSubset=pid: no /proc/uptime at all
        assert uptime.startswith("absent"), uptime
    # the program and the command exec'd beside it are in one time namespace, not the host's
    pid = program_pid(beds, jail)
    ns = beds.bed.run(["readlink", f"/proc/{pid}/ns/time"]).stdout.strip()
    assert seen[0]["timens"] == seen[1]["timens"] == ns != beds.bed.run(["readlink", "/proc/1/ns/time"]).stdout.strip()
    # without the key the jail's clocks are the host's
    off = in_jail(beds, name(shape, False), "clocks")
    assert float(off["boottime"]) > age


@pytest.mark.parametrize("shape", SHAPES)
def test_status_lists_the_time_namespace(beds: Beds, shape: str) -> None:
    for on in (True, False):
        kinds = {ns["type"]: ns["shared_with_host"] for ns in status(beds, name(shape, on))["namespaces"]}
        assert kinds["time"] is (not on), kinds
    shown = beds.bed.run(["jailmgr", "status", name(shape, True)]).stdout
    assert any(line.split()[:1] == ["time"] and "own" in line.split() for line in shown.splitlines()), shown


def _confinement(beds: Beds, jail: str) -> dict[str, str]:
    fields = said(beds.bed.run(["cat", f"/proc/{program_pid(beds, jail)}/status"]).stdout.replace(":\t", ": "))
    # (Seccomp_filters differs, by 2 fewer on 252 and 257: ProtectClock='s own filters are gone, their rules in
    # SystemCallFilter=, and jailmgr-init's is one more; what they allow is what is compared)
    print(f"{beds.suite} {jail}: Seccomp_filters {fields.get('Seccomp_filters')}")
    return {k: fields[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_programs_confinement_is_as_without_the_time_namespace(beds: Beds, shape: str) -> None:
    on, off = _confinement(beds, name(shape, True)), _confinement(beds, name(shape, False))
    assert on == off, (on, off)
    assert not int(on["CapBnd"], 16) >> CAP_SYS_TIME & 1
    assert on["Seccomp"] == "2" and on["NoNewPrivs"] == "1"


@pytest.mark.parametrize("shape", SHAPES)
def test_the_jail_cant_set_a_clock_nor_make_or_leave_its_time_namespace(beds: Beds, shape: str) -> None:
    """As the program (root under the launcher): every way to a clock of its choosing is refused, with
    CAP_SYS_ADMIN too (admin: a time namespace of its own is forbidden, as without the key)."""
    before = beds.bed.run(["readlink", f"/proc/{program_pid(beds, name(shape, True))}/ns/time"]).stdout
    for on in (True, False):
        tried = in_jail(beds, name(shape, on), "attack")
        assert tried["bounding_sys_time"] == "absent", tried
        for attempt in ("clock_settime", "settimeofday", "adjtimex", "unshare_time", "offsets_new", "offsets_own",
                        "setns_pid1_time"):
            assert tried[attempt].startswith("refused"), (on, attempt, tried)
    after = beds.bed.run(["readlink", f"/proc/{program_pid(beds, name(shape, True))}/ns/time"]).stdout
    assert before == after
    assert float(in_jail(beds, name(shape, True), "clocks")["boottime"]) <= time.monotonic() - beds.applied_at
