"""libraries: copy, writable dirs and the read-only tree, on a real systemd."""

from __future__ import annotations

import json
import time

from tests.testbed import Testbed

PROBE = """\
name: probe
restart: "no"
enable: false
exec:
  - /usr/bin/dash
  - -c
  - >-
    echo start; touch /data/ok && echo data-writable;
    touch /etc/bad 2>/dev/null || echo etc-readonly;
    ls /dev | tr '\\n' ' '; echo; echo done
tree:
  binaries: [/usr/bin/dash, /usr/bin/touch, /usr/bin/ls, /usr/bin/tr]
  libraries: copy
  dirs: [{path: /data, mode: "0755", writable: true}]
  devices: [null, urandom]
"""


def journal(bed: Testbed, unit: str) -> list[str]:
    for _ in range(50):
        lines = bed.run(["journalctl", "-u", unit, "-o", "cat", "--no-pager"]).stdout.splitlines()
        if "done" in lines:
            return lines
        time.sleep(0.1)
    return lines


def test_copy_mode_writable_dir_and_read_only_tree(bed: Testbed) -> None:
    bed.path("/srv/probe.yaml").write_text(PROBE)
    bed.run(["jailmgr", "apply", "/srv/probe.yaml"])
    lines = journal(bed, "jail-probe.service")
    assert "data-writable" in lines
    assert "etc-readonly" in lines
    # Only the declared device nodes, and log: journald's syslog socket (runtime.syslog, on by
    # default); mqueue is the POSIX message queue mount that PrivateIPC= puts under /dev (a
    # directory, not a device).
    listing = next(line for line in lines if "null" in line)
    assert set(listing.split()) - {"mqueue"} == {"null", "urandom", "log"}
    root = bed.path("/var/lib/jailmgr/jails/probe/root")
    # copy mode: the libraries are real files in the tree, not mount points
    assert (root / "lib/x86_64-linux-gnu/libc.so.6").stat().st_size > 1_000_000
    assert (root / "data/ok").exists() and not (root / "etc/bad").exists()
    unit = bed.path("/etc/systemd/system/jail-probe.service").read_text()
    assert "BindReadOnlyPaths=/usr/lib/x86_64-linux-gnu/libc.so.6" not in unit
    bed.run(["jailmgr", "destroy", "probe"])
    assert not root.exists()


def test_logs_reads_the_journal_and_a_failed_start_shows_it(bed: Testbed) -> None:
    bed.path("/srv/probe.yaml").write_text(PROBE)
    bed.run(["jailmgr", "apply", "/srv/probe.yaml"])
    journal(bed, "jail-probe.service")
    logs = bed.run(["jailmgr", "logs", "probe", "-n", "20"]).stdout
    assert "dash[" in logs and ": data-writable" in logs
    followed = bed.run(["timeout", "2", "jailmgr", "logs", "probe", "-f", "-n", "5"], check=False)
    assert followed.returncode == 124 and ": done" in followed.stdout  # -f keeps reading until stopped
    bed.run(["jailmgr", "destroy", "probe"])
    # jailmgr's own actions are in the journal with structured fields.
    own = bed.run(["journalctl", "JAIL=probe", "-o", "json", "--no-pager"]).stdout.splitlines()
    acts = [json.loads(line)["ACTION"] for line in own]
    assert acts[:3] == ["build", "start", "destroy"]
    # A program that can't be executed: apply fails, and says why from the journal.
    bed.path("/srv/broken.yaml").write_text(
        "name: broken\nexec: [/bin/prog]\nenable: false\nrestart: \"no\"\n"
        "tree: {files: [{path: /bin/prog, content: not a program, mode: \"0644\"}]}\n")
    proc = bed.run(["jailmgr", "apply", "/srv/broken.yaml"], check=False)
    assert proc.returncode == 1
    assert "jail-broken.service did not start" in proc.stderr
    # setpriv, under the launcher, could not execute it: 126, as a shell says
    assert "exited before it was ready: exit-code (exit status 126)" in proc.stderr
    assert "/bin/prog" in proc.stderr  # the journal lines shown say which file
    bed.run(["jailmgr", "destroy", "broken"])


def test_a_moved_root_takes_the_tree_along(bed: Testbed) -> None:
    bed.path("/srv/probe.yaml").write_text(PROBE)
    bed.run(["jailmgr", "apply", "/srv/probe.yaml"])
    old = bed.path("/var/lib/jailmgr/jails/probe/root")
    assert old.is_dir()
    bed.path("/srv/probe.yaml").write_text(PROBE.replace("name: probe\n", "name: probe\nroot: /srv/jails/probe\n"))
    plan = bed.run(["jailmgr", "plan", "/srv/probe.yaml"]).stdout
    assert "- tree       /var/lib/jailmgr/jails/probe/root" in plan
    out = bed.run(["jailmgr", "apply", "/srv/probe.yaml"]).stdout
    assert "removed the old tree /var/lib/jailmgr/jails/probe/root" in out
    assert not old.exists() and bed.path("/srv/jails/probe/etc/passwd").exists()
    assert "data-writable" in journal(bed, "jail-probe.service")
    bed.run(["jailmgr", "destroy", "probe"])
    assert not bed.path("/srv/jails/probe").exists()


def test_a_stop_during_the_launchers_set_up_does_not_hang(bed: Testbed) -> None:
    """Restarts back to back (a stop can land while bubblewrap still builds the jail) each finish at
    once: with KillMode=control-group, bwrap's half-made child ignored SIGTERM until TimeoutStopSec."""
    bed.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", "/srv/quick.yaml"])
    text = bed.path("/srv/quick.yaml").read_text().replace("name: ftp", "name: quick")
    bed.path("/srv/quick.yaml").write_text(text.replace("port: 2121", "port: 2131"))
    bed.run(["jailmgr", "apply", "-q", "/srv/quick.yaml"])
    dropin = bed.path("/etc/systemd/system/jail-quick.service.d")
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "nolimit.conf").write_text("[Unit]\nStartLimitIntervalSec=0\n")  # (the test's, not the jail's)
    bed.run(["systemctl", "daemon-reload"])
    try:
        took = []
        for _ in range(15):
            start = time.monotonic()
            bed.run(["systemctl", "restart", "jail-quick.service"], timeout=60)
            took.append(time.monotonic() - start)
        assert max(took) < 3, [round(t, 2) for t in took]
    finally:
        (dropin / "nolimit.conf").unlink()
        dropin.rmdir()
        bed.run(["jailmgr", "destroy", "quick"], check=False)
