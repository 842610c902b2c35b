"""Socket activation and a jail per connection, against a real systemd: 252 (Debian 12) and 257 (Debian 13).

A static probe (socket_probe.c) is each jail's program.  With `net: none` and AF_INET allowed, it serves a
client on the host through the descriptor systemd opened, and its own connect() to 127.0.0.1 (to the very
port the client reached) is refused: its namespace has only lo.  It says the LISTEN_* it was given: under the
launcher LISTEN_PID is its pid in the jail (2 with the init, 1 as PID 1), without it the host pid systemd
started.  An `accept: true` jail gets 20 connections at once: 20 instances, each writing a file in its
writable dir while all are alive, each seeing only its own; all gone afterwards, nothing on the host's dir.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.testbed import Testbed

PROBE = "/usr/local/bin/socket_probe"
PROBE_SRC = Path(__file__).with_name("socket_probe.c")
FILES = f"  files: [{{path: /probe, from: {PROBE}, mode: \"0755\"}}]\n"
SERVE = {  # name -> (port, namespaces, user)
    "sk-launch": (18081, "{net: none}", "nobody"),
    "sk-pid1": (18082, "{net: none, init: false}", "nobody"),
    "sk-native": (18083, "{net: none, pid: false, uts: false, cgroup: false}", "news"),
}
ACCEPT_PORT, CONNECTIONS = 18084, 20


@dataclass
class Beds:
    bed: Testbed
    suite: str


def serve_file(name: str, port: int) -> str:
    _, namespaces, user = SERVE[name]
    return (f"name: {name}\nexec: [/probe, serve, \"{port}\"]\nuser: {user}\nnamespaces: {namespaces}\n"
            f"security: {{address_families: [AF_UNIX, AF_INET], ip_allow: [localhost]}}\n"
            f"sockets: [{{listen: \"127.0.0.1:{port}\"}}]\n"
            f"mounts: [{{type: proc}}]\ntree:\n  users: [{user}]\n{FILES}")


ACCEPT = (f"name: sk-acc\nexec: [/probe, accept, /scratch]\nuser: nobody\naccept: true\nnamespaces: {{net: none}}\n"
          f"sockets: [{{listen: \"127.0.0.1:{ACCEPT_PORT}\"}}]\nlimits: {{tasks: 16}}\nmounts: [{{type: proc}}]\n"
          "tree:\n  users: [nobody]\n"
          f"{FILES}  dirs: [{{path: /scratch, mode: \"0700\", owner: nobody, writable: true}}]\n")


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def beds(request: pytest.FixtureRequest) -> Iterator[Beds]:
    bed = request.getfixturevalue("bed" if request.param == "bookworm" else "trixie")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(PROBE)), str(PROBE_SRC)], check=True)
    bed.run(["mkdir", "-p", "/srv/sk"])
    for name, (port, _, _) in SERVE.items():
        bed.path(f"/srv/sk/{name}.yaml").write_text(serve_file(name, port))
    bed.path("/srv/sk/sk-acc.yaml").write_text(ACCEPT)
    proc = bed.run(["jailmgr", "apply", "/srv/sk"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield Beds(bed, request.param)
    # (one at a time: a jail a test destroyed already makes `destroy` refuse the whole list; the beds share
    # the host's network, so the next suite's jails need these ports)
    for name in [*SERVE, "sk-acc"]:
        bed.run(["jailmgr", "destroy", name], check=False)


def ask(port: int) -> dict[str, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    return dict(word.split("=", 1) for word in data.decode().split())


def test_a_jail_without_a_network_serves_through_its_socket_and_can_connect_nowhere(beds: Beds) -> None:
    for name, (port, _, _) in SERVE.items():
        said = ask(port)
        # The port answers from the host (this very connection), but not from inside the jail.
        assert said["connect"] == "refused:ECONNREFUSED", (name, said)
        assert said["fds"] == "1" and said["names"] == name, (name, said)
        assert said["listen_pid"] == said["pid"], (name, said)
    # The launcher: the program's pid in the jail's PID namespace, child of the init or PID 1 itself.
    assert ask(SERVE["sk-launch"][0])["pid"] == "2"
    assert ask(SERVE["sk-pid1"][0])["pid"] == "1"
    main = beds.bed.run(["systemctl", "show", "-p", "MainPID", "--value", "jail-sk-native.service"]).stdout.strip()
    assert ask(SERVE["sk-native"][0])["pid"] == main


def test_the_socket_is_enabled_and_listed_and_a_second_apply_changes_nothing(beds: Beds) -> None:
    bed = beds.bed
    assert bed.run(["systemctl", "is-enabled", "jail-sk-launch.socket", "jail-sk-acc.socket"]).stdout.split() == [
        "enabled", "enabled"]
    status = bed.run(["jailmgr", "status", "sk-launch", "sk-acc"]).stdout
    assert "jail-sk-launch.socket (active)" in status, status
    assert "unit jail-sk-acc.socket" in status and "jail-sk-acc@.service (0 running)" in status, status
    assert bed.run(["jailmgr", "apply", "--detailed-exitcode", "/srv/sk"], check=False).returncode == 0
    # check: the template's score (its instances' unit), and no "not running" for a jail that runs per connection
    checked = json.loads(bed.run(["jailmgr", "--json", "check", "sk-acc"], check=False).stdout)["jails"][0]
    assert isinstance(checked["exposure"], float) and checked["findings"] == [], checked


def test_plan_shows_the_socket_units_diff(beds: Beds) -> None:
    bed = beds.bed
    moved = bed.path("/srv/sk-moved.yaml")
    moved.write_text(serve_file("sk-launch", 18081).replace('listen: "127.0.0.1:18081"', 'listen: "127.0.0.1:18085"'))
    out = bed.run(["jailmgr", "plan", "/srv/sk-moved.yaml"]).stdout
    assert "~ unit       /etc/systemd/system/jail-sk-launch.socket" in out, out
    assert "-ListenStream=127.0.0.1:18081" in out and "+ListenStream=127.0.0.1:18085" in out, out
    moved.unlink()


def test_every_connection_gets_a_jail_of_its_own(beds: Beds) -> None:
    bed = beds.bed
    begin = time.monotonic()
    conns = [socket.create_connection(("127.0.0.1", ACCEPT_PORT), timeout=20) for _ in range(CONNECTIONS)]
    readers = [conn.makefile("rb") for conn in conns]
    try:
        for i, conn in enumerate(conns):
            conn.sendall(f"c{i}\n".encode())
        written = [reader.readline().decode().split() for reader in readers]
        print(f"\n{beds.suite}: {CONNECTIONS} connections, {CONNECTIONS} jails serving in "
              f"{time.monotonic() - begin:.2f} s")  # (shown with pytest -s; a figure, not a test)
        assert all(w[:1] == ["written"] for w in written), written
        # inetd style: the connection is stdin and stdout alone (systemd sets no LISTEN_FDS then, and no
        # LISTEN_PID of the supervisor's reaches the program); the program is the init's child, and the
        # CAP_CHOWN the init gave the instance's tmpfs away with is not in its bounding set
        assert all(w[1:] == ["pid=2", "listen_pid=-", "fds=-", "capbnd=0000000000000000"] for w in written), written
        running = bed.run(["systemctl", "list-units", "--plain", "--no-legend", "--state=active",
                           "jail-sk-acc@*.service"]).stdout.splitlines()
        assert len(running) == CONNECTIONS, running
        # All 20 alive, each has written its file: each sees its own alone.
        for i, (conn, reader) in enumerate(zip(conns, readers, strict=True)):
            conn.sendall(b"list\n")
            assert reader.readline().decode().split() == ["files", f"c{i}"]
    finally:
        for reader, conn in zip(readers, conns, strict=True):
            reader.close()
            conn.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = bed.run(["systemctl", "list-units", "--plain", "--no-legend", "--all",
                        "jail-sk-acc@*.service"]).stdout.strip()
        if not left:
            break
        time.sleep(0.2)
    assert not left, left
    assert bed.run(["ls", "-A", "/var/lib/jailmgr/jails/sk-acc/root/scratch"]).stdout == ""
    # `jailmgr logs` shows the instances' lines (their slice) with the socket's
    logs = ""
    while time.monotonic() < deadline + 10 and "accepted c19" not in logs:
        logs = bed.run(["jailmgr", "logs", "sk-acc", "-n", "200"]).stdout
    assert all(f"accepted c{i}" in logs for i in range(CONNECTIONS)), logs


def test_destroy_removes_the_socket_units(beds: Beds) -> None:
    bed = beds.bed
    bed.run(["jailmgr", "destroy", "sk-launch", "sk-acc"])
    for unit in ("jail-sk-launch.service", "jail-sk-launch.socket", "jail-sk-acc.socket", "jail-sk-acc@.service"):
        assert not bed.path(f"/etc/systemd/system/{unit}").exists(), unit
    assert not bed.path("/etc/systemd/system/sockets.target.wants/jail-sk-acc.socket").exists()
    listed = bed.run(["systemctl", "list-units", "--plain", "--no-legend", "--all", "jail-sk-launch.*",
                      "jail-sk-acc*"]).stdout.strip()
    assert listed == "", listed
    for port in (SERVE["sk-launch"][0], ACCEPT_PORT):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_ready_jails_serve_through_systemds_sockets(bed: Testbed) -> None:
    """Debian 12 (the daemons are installed there): lighttpd socket-activated without a network of its own,
    and rsync in inetd mode, a jail per connection, several clients at once."""
    import concurrent.futures
    import urllib.request

    examples = "/usr/share/doc/jailmgr/examples"
    bed.run(["mkdir", "-p", "/srv/www", "/srv/rsync-pub", "/srv/sk-ready"])
    bed.path("/srv/www/sock.txt").write_bytes(b"served through systemd's socket\n")
    bed.path("/srv/rsync-pub/hello.txt").write_bytes(b"hello over rsync\n")
    for name in ("lighttpd-socket", "rsyncd-inetd"):
        bed.run(["cp", f"{examples}/{name}.yaml", f"/srv/sk-ready/{name}.yaml"])
    proc = bed.run(["jailmgr", "apply", "/srv/sk-ready"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        with urllib.request.urlopen("http://127.0.0.1:8091/sock.txt", timeout=10) as reply:
            assert reply.read() == b"served through systemd's socket\n"

        def pull(i: int) -> str:
            out = f"/srv/sk-ready/pulled-{i}"
            bed.run(["sh", "-c", f"cd / && rsync rsync://127.0.0.1:8874/pub/hello.txt {out}"])
            return bed.path(out).read_text()

        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            assert list(pool.map(pull, range(5))) == ["hello over rsync\n"] * 5
        listing = bed.run(["sh", "-c", "cd / && rsync rsync://127.0.0.1:8874/"]).stdout
        assert listing.split()[:1] == ["pub"], listing
    finally:
        bed.run(["jailmgr", "destroy", "lighttpd-socket", "rsyncd-inetd"], check=False)


def test_a_jail_that_becomes_one_per_connection_loses_its_service(bed: Testbed) -> None:
    """A running jail given sockets and accept: true: its service is stopped and removed, the socket takes
    its place (enabled), and a connection gets an instance."""
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(PROBE)), str(PROBE_SRC)], check=True)
    bed.run(["mkdir", "-p", "/srv/sk-move"])
    path = bed.path("/srv/sk-move/sk-move.yaml")
    path.write_text("name: sk-move\nexec: [/usr/bin/sleep, infinity]\nuser: nobody\n"
                    "tree:\n  binaries: [/usr/bin/sleep]\n  users: [nobody]\n")
    bed.run(["jailmgr", "apply", "/srv/sk-move"])
    assert bed.run(["systemctl", "is-active", "jail-sk-move.service"]).stdout.strip() == "active"
    path.write_text(ACCEPT.replace("sk-acc", "sk-move").replace(str(ACCEPT_PORT), "18086"))
    try:
        planned = bed.run(["jailmgr", "plan", "/srv/sk-move"]).stdout
        assert "- unit       /etc/systemd/system/jail-sk-move.service" in planned, planned
        bed.run(["jailmgr", "apply", "/srv/sk-move"])
        listed = bed.run(["systemctl", "list-units", "--plain", "--no-legend", "--all", "jail-sk-move.service"])
        assert listed.stdout.strip() == "", listed.stdout
        assert not bed.path("/etc/systemd/system/jail-sk-move.service").exists()
        assert not bed.path("/etc/systemd/system/multi-user.target.wants/jail-sk-move.service").exists()
        assert bed.run(["systemctl", "is-enabled", "jail-sk-move.socket"]).stdout.strip() == "enabled"
        with socket.create_connection(("127.0.0.1", 18086), timeout=10) as conn:
            conn.sendall(b"only\n")
            assert conn.makefile("rb").readline().split()[:1] == [b"written"]
    finally:
        bed.run(["jailmgr", "destroy", "sk-move"], check=False)
