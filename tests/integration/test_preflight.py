"""The preflight on a real systemd: eight mistakes users made writing jails from the docs, every one said in
one run of `plan`, of `apply` and of `validate --host` (without root too), each at its file:line:col with a
hint, before anything is written; then a jail refused for its host state alone leaves the others applied.

The jails live in a state and unit directory of their own (as test_plan_checks.py's), so the other tests'
jails in the shared container are neither seen nor touched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

from tests.testbed import Testbed

HOME = "/srv/preflight"
ENV = ["env", f"JAILMGR_STATE_DIR={HOME}/state", f"JAILMGR_UNIT_DIR={HOME}/units", f"JAILMGR_LOCK={HOME}/lock"]
PORT = 17321
LISTENER = "jailmgr-preflight-listener"

# The file with the mistakes in what it names: a wrong binary path (the right one elsewhere on PATH), a
# user the host has under a close name, a typo'd tree.users entry, a template with two undefined
# variables, a bind source that is not there, a group for a made source the host lacks.
NAMES = f"""\
name: pf-names
root: {HOME}/roots/names
exec: [/usr/sbin/redis-server, /etc/redis.conf]
user: postgresql
tree:
  binaries: [/usr/sbin/redis-server]
  users: [postgresql, nobdy]
  files:
    - {{path: /etc/redis.conf, template: pf.conf.j2, vars: {{port: 6390}}}}
mounts:
  - {{source: {HOME}/missing, target: /data}}
  - {{source: {HOME}/made, target: /made, create: true, owner: redis, group: redsi}}
"""
TEMPLATE = "port {{ port }}\nbind {{ bind_addr }}\nmaxclients {{ maxclients }}\ndir {{ dir | default('/') }}\n"
# A launcher jail whose file is right and the host's state is not: its data below a 0700 directory of
# postgres (bubblewrap can't pass it), its ready port taken by another process.
STATE = f"""\
name: pf-state
root: {HOME}/roots/state
exec: [/usr/bin/sleep, infinity]
tree: {{binaries: [/usr/bin/sleep]}}
mounts: [{{source: {HOME}/pg/data, target: /data}}]
ready: {{port: {PORT}}}
"""
GOOD = (f"name: pf-good\nroot: {HOME}/roots/good\nexec: [/usr/bin/sleep, infinity]\n"
        "tree: {binaries: [/usr/bin/sleep]}\n")

# Each mistake: the file, the line and column, the key, words of its message and of its hint.
EIGHT = [
    ("pf-names.yaml", 6, 14, "tree.binaries[0]", "/usr/sbin/redis-server does not exist on this host",
     "redis-server is /usr/bin/redis-server on this host: name that here and in exec[0]"),
    ("pf-names.yaml", 7, 11, "tree.users[0]", "user 'postgresql' does not exist on this host",
     "did you mean 'postgres'?"),
    ("pf-names.yaml", 7, 23, "tree.users[1]", "user 'nobdy' does not exist on this host", "did you mean 'nobody'?"),
    ("pf-names.yaml", 9, 59, "tree.files[0].vars", "pf.conf.j2: 'bind_addr', 'maxclients' are undefined",
     "give them in tree.files[0].vars"),
    ("pf-names.yaml", 11, 14, "mounts[0].source", f"{HOME}/missing does not exist on this host",
     "set `create: true` on this mount"),
    ("pf-names.yaml", 12, 85, "mounts[1].group", "group 'redsi' does not exist on this host", "did you mean 'redis'?"),
    ("pf-state.yaml", 5, 19, "mounts[0].source", f"bubblewrap can't reach {HOME}/pg/data: {HOME}/pg is 0700 "
     "postgres:postgres", f"chmod o+x {HOME}/pg"),
    ("pf-state.yaml", 6, 15, "ready.port", f"port {PORT} is taken: PID ", "stop it, or give the jail"),
]


def _run(bed: Testbed, *argv: str, user: str = "", private: bool = True) -> tuple[subprocess.CompletedProcess[str],
                                                                                   float]:
    """jailmgr in the container (as `user`), in the private state and unit directory unless it must start
    jails (systemd reads units from its own directories only)."""
    drop = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"] if user else []
    begin = time.monotonic()
    proc = bed.run([*drop, *(ENV if private else []), "jailmgr", *argv], check=False, timeout=120)
    return proc, time.monotonic() - begin


def _said(proc: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return json.loads(proc.stdout)["problems"]


def _nothing_written(bed: Testbed) -> None:
    home = bed.path(HOME)
    assert not (home / "roots").exists(), list((home / "roots").rglob("*"))
    assert list((home / "units").iterdir()) == []
    assert not (home / "state").exists() or list((home / "state").glob("*.json")) == []
    assert not (home / "made").exists()


def test_eight_mistakes_are_said_at_once_before_anything_is_written(bed: Testbed) -> None:
    home = bed.path(HOME)
    shutil.rmtree(home, ignore_errors=True)
    (home / "jails").mkdir(parents=True)
    (home / "units").mkdir()
    (home / "jails" / "pf-names.yaml").write_text(NAMES)
    (home / "jails" / "pf.conf.j2").write_text(TEMPLATE)
    (home / "jails" / "pf-state.yaml").write_text(STATE)
    bed.run(["install", "-d", "-m", "0700", "-o", "postgres", "-g", "postgres", f"{HOME}/pg"])
    bed.run(["install", "-d", "-m", "0755", f"{HOME}/pg/data"])
    bed.run(["systemd-run", f"--unit={LISTENER}", "--", "python3", "-c",
             f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {PORT})); s.listen(); time.sleep(600)"])
    try:
        bed.run(["sh", "-c", f"for i in $(seq 100); do ss -ltn | grep -q ':{PORT} ' && exit 0; sleep 0.05; done; "
                 "exit 1"])
        timings = {}
        for command in ("plan", "apply"):
            proc, timings[command] = _run(bed, "--json", command, f"{HOME}/jails")
            assert proc.returncode == 1, proc.stdout + proc.stderr
            problems = _said(proc)
            assert len(problems) == 8, json.dumps(problems, indent=1)
            assert [(p["file"], p["line"], p["column"], p["key"]) for p in problems] == [
                (f"{HOME}/jails/{name}", line, col, key) for name, line, col, key, _, _ in EIGHT]
            for (_, _, _, _, message, hint), got in zip(EIGHT, problems, strict=True):
                assert message in str(got["message"]) and hint in str(got["hint"]), got
            assert f"{LISTENER}" in str(problems[7]["message"]) or "python3" in str(problems[7]["message"])
            _nothing_written(bed)
        # The same as people read it: one line each, `file:line:col: key: message; hint: ...`.
        proc, timings["apply (text)"] = _run(bed, "apply", f"{HOME}/jails")
        lines = [line for line in proc.stderr.splitlines() if line.startswith(f"{HOME}/jails/")]
        assert len(lines) == 8 and all("; hint: " in line for line in lines), proc.stderr
        assert "jailmgr: 8 problem(s); nothing was changed" in proc.stderr
        print("\n" + proc.stderr)  # (the report quotes it)
        _nothing_written(bed)

        # validate --host finds the same, as root and as nobody (who can't look below the 0700 directory, nor
        # see whose the listener is, and says so).
        proc, timings["validate --host"] = _run(bed, "--json", "validate", "--host", f"{HOME}/jails")
        assert proc.returncode == 1 and _said(proc) == _said(_run(bed, "--json", "plan", f"{HOME}/jails")[0])
        proc, timings["validate --host (nobody)"] = _run(bed, "--json", "validate", "--host", f"{HOME}/jails",
                                                         user="nobody")
        assert proc.returncode == 1, proc.stderr
        assert [(p["file"], p["line"], p["key"]) for p in _said(proc)] == [
            (f"{HOME}/jails/{name}", line, key) for name, line, _, key, _, _ in EIGHT]
        assert "a process this user can't see listens on it" in str(_said(proc)[7]["message"])
        assert f"not checked: {HOME}/jails/pf-state.yaml: mounts[0].source {HOME}/pg/data:" in proc.stderr
        _, timings["validate"] = _run(bed, "validate", f"{HOME}/jails")
        _nothing_written(bed)

        # Without the file's own mistakes, the jail the host's state refuses is left alone and the others
        # are applied (as when its start failed, but now before anything of it is written).  In systemd's
        # own unit directory: these start.
        (home / "jails" / "pf-names.yaml").unlink()
        (home / "jails" / "pf-good.yaml").write_text(GOOD)
        proc, timings["apply, one jail refused"] = _run(bed, "apply", f"{HOME}/jails", private=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert proc.stderr.count(f"{HOME}/jails/pf-state.yaml:") == 2, proc.stderr
        assert "pf-state: refused before anything was written: 2 problems above" in proc.stderr
        assert "1 of 2 jails failed" in proc.stderr
        assert bed.run(["systemctl", "is-active", "jail-pf-good.service"], check=False).stdout.strip() == "active"
        assert not (home / "roots" / "state").exists()
        assert not bed.path("/var/lib/jailmgr/state/pf-state.json").exists()
        assert not bed.path("/etc/systemd/system/jail-pf-state.service").exists()
        print("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    finally:
        bed.run(["systemctl", "stop", LISTENER], check=False)
        bed.run(["jailmgr", "destroy", "pf-good"], check=False)
        shutil.rmtree(home, ignore_errors=True)


OWN_PORT = f"""\
name: pf-own
root: {HOME}/roots/own
description: DESCRIPTION
exec: [/usr/bin/python3, -c, "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {PORT + 1}));
  s.listen(); time.sleep(3600)"]
tree: {{binaries: [/usr/bin/python3]}}
mounts: [{{source: /usr/lib/python3.11, target: /usr/lib/python3.11}}]
ready: {{port: {PORT + 1}}}
"""


def test_a_running_jail_applied_again_keeps_its_own_port(bed: Testbed) -> None:
    """Its program listens on the ready port: the preflight sees the socket is the unit's own."""
    home = bed.path(HOME)
    shutil.rmtree(home, ignore_errors=True)
    (home / "jails").mkdir(parents=True)
    try:
        (home / "jails" / "pf-own.yaml").write_text(OWN_PORT.replace("DESCRIPTION", "first"))
        proc, _ = _run(bed, "apply", f"{HOME}/jails", private=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (home / "jails" / "pf-own.yaml").write_text(OWN_PORT.replace("DESCRIPTION", "second"))
        for command in ("plan", "apply"):
            proc, _ = _run(bed, command, f"{HOME}/jails", private=False)
            assert proc.returncode == 0 and "is taken" not in proc.stderr, proc.stdout + proc.stderr
        assert "restarting" in proc.stdout, proc.stdout
        assert bed.run(["systemctl", "is-active", "jail-pf-own.service"], check=False).stdout.strip() == "active"
    finally:
        bed.run(["jailmgr", "destroy", "pf-own"], check=False)
        shutil.rmtree(home, ignore_errors=True)
