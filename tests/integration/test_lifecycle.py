"""Stop, restart and reload lose nothing; apply says "started" only once the service is ready.

Real daemons with state, in real systemd containers: redis (a key written after its last
save) and PostgreSQL 15 (rows, and a clean shutdown with no recovery at the next start) on
Debian 12, in the launcher's shape and (redis) on systemd's directives alone, through
`systemctl restart`, an apply of a changed jail and a container reboot; nginx reloaded with
the same main PID; a program deaf to SIGTERM stopped after its stop_timeout; readiness by
sd_notify and by a port that must be the jail's own.  Redis on Debian 13 (systemd 257) too.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests import testbed
from tests.testbed import Testbed

EXAMPLES = "/usr/share/doc/jailmgr/examples"
NATIVE = "namespaces: {pid: false, uts: false, cgroup: false}"


@pytest.fixture(scope="module")
def life(bed: Testbed) -> Iterator[Testbed]:
    """A container of its own: the reboot test reboots it.  (bed: the port checks are done there.)"""
    with testbed.booted("jailmgr-test-life", "bookworm") as booted:
        booted.path("/srv/j").mkdir(parents=True, exist_ok=True)
        yield booted


def example(bed: Testbed, name: str, edits: dict[str, str] | None = None, as_name: str | None = None) -> str:
    text = bed.path(f"{EXAMPLES}/{name}.yaml").read_text()
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = f"/srv/j/{as_name or name}.yaml"
    bed.path(path).write_text(text)
    return path


def apply(bed: Testbed, path: str) -> subprocess.CompletedProcess[str]:
    proc = bed.run(["jailmgr", "apply", path], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def sh(bed: Testbed, command: str, check: bool = True) -> str:
    """A client, run from / (nsenter leaves it in a directory it can't name)."""
    return bed.run(["sh", "-c", f"cd / && {command}"], check=check).stdout


def journal(bed: Testbed, unit: str) -> str:
    return bed.run(["journalctl", "-u", unit, "-o", "cat", "--no-pager"]).stdout


def show(bed: Testbed, unit: str, *props: str) -> dict[str, str]:
    out = bed.run(["systemctl", "show", unit, *(f"-p{p}" for p in props)]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def eventually(check: Callable[[], bool], tries: int = 50) -> bool:
    """Whether `check` came true within `tries` looks, 0.1 s apart (what it waits for is said, not timed)."""
    for _ in range(tries):
        if check():
            return True
        time.sleep(0.1)
    return check()


def redis(bed: Testbed, port: int, *args: str) -> str:
    return sh(bed, " ".join(["redis-cli", "-p", str(port), *args])).strip()


# --- redis: every way a stop happens keeps the key written after the last save ---------------------

@pytest.mark.parametrize("shape", ["launcher", "native"])
def test_redis_keeps_a_key_written_after_its_last_save_through_restart_and_a_changed_apply(
        life: Testbed, shape: str) -> None:
    name, port = f"redis-{shape}", 6379 if shape == "launcher" else 6381
    edits = {"name: redis": f"name: {name}", "port: 6379": f"port: {port}",
             "source: /var/lib/redis,": f"source: /var/lib/{name},"}
    if shape == "native":  # a user of its own: without a PID namespace no other jail may share it
        edits |= {"namespaces: {pid: true, uts: true, cgroup: true}": NATIVE, "user: redis": "user: games",
                  "users: [redis]": "users: [games]", "owner: redis": "owner: games"}
    path = example(life, "redis", edits, as_name=name)
    apply(life, path)
    unit = f"jail-{name}.service"
    launched = "bwrap" in life.path(f"/etc/systemd/system/{unit}").read_text()
    assert launched == (shape == "launcher")
    # apply returned once redis said READY=1 (ready: notify): it answers at once.
    assert redis(life, port, "ping") == "PONG"
    assert redis(life, port, "set", "k1", "written-after-the-last-save") == "OK"

    life.run(["systemctl", "restart", unit])
    assert redis(life, port, "get", "k1") == "written-after-the-last-save"
    text = journal(life, unit)
    assert "Received SIGTERM" in text and "DB saved on disk" in text
    assert "SIGKILL" not in text
    assert show(life, unit, "Result")["Result"] == "success"

    # A changed jail file: apply restarts it, and the key written since is there after.
    assert redis(life, port, "set", "k2", "before-the-apply") == "OK"
    life.path(path).write_text(life.path(path).read_text().replace("memory: 512M", "memory: 500M"))
    proc = apply(life, path)
    assert "restarting" in proc.stdout
    assert redis(life, port, "get", "k2") == "before-the-apply"
    assert "SIGKILL" not in journal(life, unit)


def test_redis_and_postgresql_lose_nothing_across_a_reboot(life: Testbed) -> None:
    path = example(life, "postgresql")
    sh(life, "pg_lsclusters -h | grep -q '^15 main' || pg_createcluster 15 main >/dev/null")
    apply(life, path)
    # ready: notify: apply returned once PostgreSQL accepts connections: psql succeeds right after.
    sh(life, "runuser -u postgres -- psql -q -c 'create table kept(x int); insert into kept values (42)'")
    assert redis(life, 6379, "set", "k3", "before-the-reboot") == "OK"

    life.reboot()

    assert redis(life, 6379, "get", "k3") == "before-the-reboot"
    assert sh(life, "runuser -u postgres -- psql -Atc 'select x from kept'").strip() == "42"
    text = journal(life, "jail-postgresql.service")
    # Each stop was PostgreSQL's fast shutdown, ended by a checkpoint; no start needed recovery.
    assert "received fast shutdown request" in text and "database system is shut down" in text
    assert "database system was shut down at" in text
    for crash in ("was interrupted", "redo starts", "automatic recovery", "not properly shut down"):
        assert crash not in text, crash


def test_postgresql_stops_cleanly_on_restart_and_reloads_with_the_same_main_pid(life: Testbed) -> None:
    unit = "jail-postgresql.service"
    sh(life, "runuser -u postgres -- psql -q -c 'insert into kept values (43)'")
    life.run(["systemctl", "restart", unit])
    assert sh(life, "runuser -u postgres -- psql -Atc 'select count(*) from kept'").strip() == "2"
    main = show(life, unit, "MainPID")["MainPID"]
    out = life.run(["jailmgr", "reload", "postgresql"]).stdout
    assert "reloaded" in out
    assert show(life, unit, "MainPID")["MainPID"] == main
    assert eventually(lambda: "received SIGHUP, reloading configuration files" in journal(life, unit))
    # `systemctl kill -s` reaches the program too (SIGHUP again: a reload).
    before = journal(life, unit).count("received SIGHUP")
    life.run(["systemctl", "kill", "-s", "SIGHUP", unit])
    eventually(lambda: journal(life, unit).count("received SIGHUP") > before)
    assert journal(life, unit).count("received SIGHUP") == before + 1  # once: not again through the launcher


def test_postgresql_keeps_its_dynamic_shared_memory_in_the_jails_own_dev_shm(life: Testbed) -> None:
    """runtime.shm: Debian's default (posix), in a /dev/shm of the jail's own: a parallel query uses it,
    and nothing of it is in the host's /dev/shm.  runtime.timezone: the host's zone data for timezone='UTC'."""
    psql = "runuser -u postgres -- psql -Atc"
    assert sh(life, f"{psql} 'show dynamic_shared_memory_type'").strip() == "posix"
    parallel = ("set max_parallel_workers_per_gather = 2; set parallel_setup_cost = 0; set parallel_tuple_cost = 0; "
                "set min_parallel_table_scan_size = 0; explain (analyze, costs off) select count(*) from kept")
    plan = sh(life, f'{psql} "{parallel}"')
    assert "Workers Launched: 2" in plan, plan  # (their shared state is a dynamic shared memory segment)
    assert sh(life, f"{psql} \"select now() at time zone 'Europe/Paris' is not null\"").strip() == "t"
    assert not list(life.path("/dev/shm").glob("PostgreSQL.*"))


# --- nginx: reload keeps its master; a port someone else holds is a failed start ----------------------

def test_nginx_reload_serves_the_new_configuration_with_the_same_main_pid(life: Testbed) -> None:
    apply(life, example(life, "nginx"))
    try:
        _reload_nginx(life)
    finally:
        life.run(["jailmgr", "destroy", "nginx"])


def _reload_nginx(life: Testbed) -> None:
    unit = "jail-nginx.service"
    life.path("/srv/www/index.html").write_text("one\n")
    assert sh(life, "curl -sf http://127.0.0.1:8080/") == "one\n"
    main = show(life, unit, "MainPID")["MainPID"]
    conf = life.path("/var/lib/jailmgr/jails/nginx/root/etc/nginx/nginx.conf")
    two = 'autoindex off;\n        location = / { return 200 "two\\n"; }'
    conf.write_text(conf.read_text().replace("autoindex off;", two))
    life.run(["systemctl", "reload", unit])
    assert eventually(lambda: sh(life, "curl -sf http://127.0.0.1:8080/", check=False) == "two\n")
    assert show(life, unit, "MainPID")["MainPID"] == main


# Binds the port as soon as apply has written the unit: after the preflight, which refuses a port already
# taken (tests/integration/test_preflight.py), and before the start.
SQUATTER = ("import os, socket, time\n"
            "while not os.path.exists('/etc/systemd/system/jail-late.service'): time.sleep(0.002)\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 8082)); s.listen(); time.sleep(600)\n")


def test_a_port_taken_after_the_preflight_is_a_failed_start_not_a_ready_one(life: Testbed) -> None:
    life.run(["systemd-run", "--unit=squatter", "--", "python3", "-c", SQUATTER])
    try:
        path = example(life, "nginx", {"name: nginx": "name: late", "port: 8080": "port: 8082",  # ready's too
                                       "/var/log/jail-nginx": "/var/log/jail-late"}, as_name="late")
        proc = life.run(["jailmgr", "apply", path], check=False)
        assert "127.0.0.1:8082 " in life.run(["ss", "-Htln"]).stdout
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "jail-late.service did not start" in proc.stderr
        assert "Address already in use" in proc.stderr
        assert "restarting" not in proc.stdout and "started" not in proc.stdout.replace("did not start", "")
    finally:
        life.run(["systemctl", "stop", "squatter.service"], check=False)
        life.run(["jailmgr", "destroy", "late"], check=False)


# --- a program deaf to its stop signal: killed after stop_timeout, not 90 s -----------------------------

@pytest.mark.parametrize("shape", ["launcher", "native"])
def test_a_program_that_ignores_sigterm_is_killed_after_its_stop_timeout(life: Testbed, shape: str) -> None:
    name = f"deaf-{shape}"
    extra = f"user: nobody\n{NATIVE}\n" if shape == "native" else ""
    life.path(f"/srv/j/{name}.yaml").write_text(
        f"name: {name}\nenable: false\nrestart: \"no\"\nstop_timeout: 2s\n{extra}"
        "exec: [/bin/busybox, sh, -c, \"trap '' TERM; while :; do /bin/busybox sleep 1; done\"]\n"
        "tree: {binaries: [/bin/busybox], users: [nobody]}\n")
    apply(life, f"/srv/j/{name}.yaml")
    unit = f"jail-{name}.service"
    assert show(life, unit, "TimeoutStopUSec")["TimeoutStopUSec"] == "2s"
    life.run(["systemctl", "stop", unit], timeout=30)
    text = journal(life, unit)
    assert re.search(r"State 'stop-sigterm' timed out\. Killing", text), text
    assert show(life, unit, "ActiveState")["ActiveState"] in ("inactive", "failed")
    life.run(["jailmgr", "destroy", name])


# --- the start: a program that exits at once is a failed start, with its status ---------------------

def test_the_units_status_is_the_programs_own(life: Testbed) -> None:
    life.path("/srv/j/exits.yaml").write_text(
        "name: exits\nenable: false\nrestart: \"no\"\n"
        "exec: [/bin/busybox, sh, -c, \"/bin/busybox sleep 0.3; exit 7\"]\ntree: {binaries: [/bin/busybox]}\n")
    apply(life, "/srv/j/exits.yaml")
    eventually(lambda: show(life, "jail-exits.service", "ActiveState")["ActiveState"] == "failed")
    props = show(life, "jail-exits.service", "ExecMainStatus", "ExecMainCode", "Result")
    assert props == {"ExecMainStatus": "7", "ExecMainCode": "1", "Result": "exit-code"}, props
    life.path("/srv/j/exits.yaml").write_text(life.path("/srv/j/exits.yaml").read_text()
                                              .replace("exit 7", "kill -SEGV $$"))
    apply(life, "/srv/j/exits.yaml")
    eventually(lambda: show(life, "jail-exits.service", "ActiveState")["ActiveState"] == "failed")
    props = show(life, "jail-exits.service", "ExecMainStatus", "ExecMainCode", "Result")
    assert props["ExecMainStatus"] == "11" and props["ExecMainCode"] in ("2", "3"), props  # killed/dumped by SEGV
    life.run(["jailmgr", "destroy", "exits"])


# --- Debian 13 (systemd 257): the same redis, launcher and systemd's own PID namespace ---------------

@pytest.mark.parametrize("shape", ["launcher", "pid1"])
def test_redis_keeps_its_key_on_debian_13(trixie: Testbed, shape: str) -> None:
    name, port = f"redis13-{shape}", 6390 if shape == "launcher" else 6391
    trixie.path("/srv/j").mkdir(parents=True, exist_ok=True)
    edits = {"name: redis": f"name: {name}", "port: 6379": f"port: {port}",
             "source: /var/lib/redis,": f"source: /var/lib/{name},"}
    if shape == "pid1":  # the program as PID 1 of its PID namespace (not systemd 257's PrivatePIDs=: it lost data)
        edits |= {"namespaces: {pid: true, uts: true, cgroup: true}":
                  "namespaces: {pid: true, init: false, uts: false, cgroup: false}"}
    path = example(trixie, "redis", edits, as_name=name)
    apply(trixie, path)
    unit = f"jail-{name}.service"
    text = trixie.path(f"/etc/systemd/system/{unit}").read_text()
    assert "PrivatePIDs" not in text and ("--pid1" in text) == (shape == "pid1")
    assert show(trixie, unit, "NeedDaemonReload")["NeedDaemonReload"] == "no"  # enabled before the reload
    for round_ in range(3):  # PrivatePIDs= lost the key in 1 of 3 restarts
        assert redis(trixie, port, "set", "k", f"v13-{round_}") == "OK"
        trixie.run(["systemctl", "restart", unit])
        assert redis(trixie, port, "get", "k") == f"v13-{round_}"
    journal_text = journal(trixie, unit)
    assert "DB saved on disk" in journal_text and "SIGKILL" not in journal_text
    trixie.run(["jailmgr", "destroy", name])


# --- every shape: the stop signal reaches the program, which exits on its own -----------------------

SHAPES = {
    "launcher": "",
    "native": f"user: nobody\n{NATIVE}\n",
    "userns": "namespaces: {user: true}\n",
    "netprivate": "namespaces: {net: private}\nnetwork: {host: 10.231.77.1/30, jail: 10.231.77.2/30}\n",
    "pid1": "namespaces: {init: false}\n",
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_stop_signal_reaches_the_program_in_every_shape(life: Testbed, shape: str) -> None:
    name = f"stop-{shape}"
    signal = "SIGINT" if shape == "userns" else "SIGTERM"  # (one shape with a stop_signal of its own)
    trap = signal.removeprefix("SIG")
    life.path(f"/srv/j/{name}.yaml").write_text(
        f"name: {name}\nenable: false\nrestart: \"no\"\nstop_signal: {signal}\nstop_timeout: 30s\n{SHAPES[shape]}"
        f"exec: [/bin/busybox, sh, -c, \"trap 'echo got-{trap}; exit 0' {trap}; echo up; "
        "while :; do /bin/busybox sleep 1; done\"]\n"
        "tree: {binaries: [/bin/busybox], users: [nobody]}\n")
    apply(life, f"/srv/j/{name}.yaml")
    unit = f"jail-{name}.service"
    assert eventually(lambda: "up" in journal(life, unit).split())
    life.run(["systemctl", "stop", unit], timeout=60)
    text = journal(life, unit)
    assert f"got-{trap}" in text, text
    assert "timed out" not in text and "SIGKILL" not in text, text
    assert show(life, unit, "Result")["Result"] == "success"
    life.run(["jailmgr", "destroy", name])


def test_a_notify_jail_that_never_says_ready_is_a_failed_start_said_on_the_way(life: Testbed) -> None:
    life.path("/srv/j/mute.yaml").write_text(
        "name: mute\nenable: false\nrestart: \"no\"\nready: notify\nstart_timeout: 3s\n"
        "exec: [/bin/busybox, sh, -c, \"while :; do /bin/busybox sleep 1; done\"]\n"
        "tree: {binaries: [/bin/busybox]}\n")
    proc = life.run(["jailmgr", "apply", "/srv/j/mute.yaml"], check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "waiting for jail-mute.service (READY=1 from its program)" in proc.stdout
    assert "jail-mute.service did not start: not ready: no READY=1 from its program" in proc.stderr
    assert show(life, "jail-mute.service", "ActiveState")["ActiveState"] in ("failed", "inactive")
    life.run(["jailmgr", "destroy", "mute"])
