"""Debian 13 (systemd 257, bubblewrap 0.12): the shipped ftp jail serves, and no jail makes a set-id file.

systemd 257's RestrictSUIDSGID= refuses openat2(), which bubblewrap 0.12 needs, so launcher units there
leave it out and bubblewrap loads the same rules before the program (jailmgr/setid.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from tests.testbed import Testbed, ftp_session

ATTACK_SRC = Path(__file__).with_name("attack.c")


def test_the_ftp_jail_serves_on_debian_13(trixie: Testbed) -> None:
    assert trixie.run(["systemctl", "--version"]).stdout.startswith("systemd 257")
    trixie.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", "/srv/ftp.yaml"])
    proc = trixie.run(["jailmgr", "apply", "/srv/ftp.yaml"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    unit = trixie.path("/etc/systemd/system/jail-ftp.service").read_text()
    assert "RestrictSUIDSGID" not in unit and "--seccomp 3" in unit and "OpenFile=/var/lib/jailmgr/nosetid.bpf" in unit
    seen = ftp_session(upload=b"from the host\n")
    assert seen[1].startswith("230") and seen[-2].startswith("226")
    doc = json.loads(trixie.run(["jailmgr", "--json", "check", "ftp"], check=False).stdout)["jails"][0]
    assert doc["findings"] == [] and doc["exposure"] <= 3.0
    assert trixie.run(["jailmgr", "apply", "--detailed-exitcode", "/srv/ftp.yaml"], check=False).returncode == 0
    trixie.run(["jailmgr", "destroy", "ftp"])


def test_no_set_id_file_from_a_launcher_jail_on_debian_13(trixie: Testbed) -> None:
    subprocess.run(["gcc", "-static", "-O2", "-o", str(trixie.path("/usr/local/bin/attack")), str(ATTACK_SRC)],
                   check=True)
    trixie.path("/srv/suid.yaml").write_text(
        "name: suid\nexec: [/attack, serve]\n"
        "tree:\n  files: [{path: /attack, from: /usr/local/bin/attack, mode: \"0755\"}]\n"
        "  dirs: [{path: /data, writable: true}]\n")
    trixie.run(["jailmgr", "apply", "/srv/suid.yaml"])
    out = trixie.run(["jailmgr", "exec", "suid", "--", "/attack", "setid=/data/suid", "caps"]).stdout
    assert out.count("setid") == 3 and out.count("refused") == 3, out
    assert trixie.run(["find", "/var/lib/jailmgr/jails/suid/root/data", "-perm", "/6000"]).stdout == ""
    trixie.run(["jailmgr", "destroy", "suid"])


def test_a_program_that_is_pid_1_is_launched_on_debian_13(trixie: Testbed) -> None:
    """init: false without uts or cgroup namespaces: the launcher, not systemd 257's PrivatePIDs= (whose
    stop SIGKILLed redis right after its SIGTERM: test_lifecycle.py's Debian 13 case).

    The attack program is PID 1 of a PID namespace of its own; from inside, as the jail's root, it can
    signal only its own processes."""
    attack = trixie.path("/usr/local/bin/attack")
    if not attack.exists():
        subprocess.run(["gcc", "-static", "-O2", "-o", str(attack), str(ATTACK_SRC)], check=True)
    trixie.path("/srv/pid1.yaml").write_text(
        "name: pid1\nexec: [/attack, serve, caps, scan-kill]\nrestart: \"no\"\nstop_timeout: 2\n"
        "namespaces: {pid: true, init: false, uts: false, cgroup: false}\n"
        "tree:\n  files: [{path: /attack, from: /usr/local/bin/attack, mode: \"0755\"}]\n"
        "mounts: [{type: proc}]\n")
    trixie.run(["jailmgr", "apply", "/srv/pid1.yaml"])
    try:
        unit = trixie.path("/etc/systemd/system/jail-pid1.service").read_text()
        assert "PrivatePIDs" not in unit and "jailmgr-init supervise" in unit and "--pid1" in unit
        doc = json.loads(trixie.run(["jailmgr", "--json", "status", "pid1"]).stdout)["jails"][0]
        assert doc["confinement"]["NSpid"].split()[-1] == "1"  # the program is PID 1 there
        assert doc["confinement"]["CapEff"] == "0000000000000000"
        own = {ns["type"] for ns in doc["namespaces"] if not ns["shared_with_host"]}
        assert {"mnt", "pid", "ipc"} <= own
        text = ""
        for _ in range(100):
            text = trixie.run(["journalctl", "-u", "jail-pid1.service", "-o", "cat", "--no-pager"]).stdout
            if "signalable:" in text:
                break
            time.sleep(0.1)
        signalable = [int(p) for p in re.findall(r"signalable:([ 0-9]*)", text)[-1].split()]
        assert signalable == [1], text  # itself, by its own PID-namespace number; nothing of the host
        check = json.loads(trixie.run(["jailmgr", "--json", "check", "pid1"], check=False).stdout)["jails"][0]
        assert check["findings"] == [], check
    finally:
        trixie.run(["jailmgr", "destroy", "pid1"], check=False)
