"""A jail for a Debian daemon works at its first apply: made from its package (tree.packages).

The ready jails made from packages (memcached, lighttpd, tftpd, unbound) are each applied once,
on a bed that has never seen them, and must serve their real client at once, byte for byte:
memccp/memccat and memcached's text protocol, curl with a directory listing (mod_dirlisting,
a module the package brings), tftp, dig.  Then two jails written as a user writes them from
the docs (the package, exec, user, one writable dir, the port): PostgreSQL 15 over TCP and
lighttpd with its access log; PostgreSQL takes the time zone, locales and /dev/shm initdb's
configuration wants from `runtime:`.  Each apply's
time is printed (`pytest -s`).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.testbed import Testbed

EXAMPLES = "/usr/share/doc/jailmgr/examples"
HERE = "/srv/first"  # the jail files, the clients' files
JAILS = ("memcached", "lighttpd", "tftpd", "unbound", "pg", "web")


@pytest.fixture(scope="module", autouse=True)
def leave_the_bed_as_found(bed: Testbed) -> Iterator[None]:
    """The session's bed is shared: its later tests see none of these jails (nor their ports)."""
    yield
    bed.run(["jailmgr", "destroy", *JAILS], check=False)


def sh(bed: Testbed, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A client in the container, run from / (nsenter leaves it in a directory it can't name)."""
    return bed.run(["sh", "-c", f"cd / && {command}"], check=check)


def first_apply(bed: Testbed, name: str, text: str | None = None) -> None:
    """Apply the jail (the packaged example, or `text`) once, on a bed that never had it: it must start."""
    assert name not in bed.run(["jailmgr", "list"]).stdout.split(), f"{name} was applied before"
    if text is None:
        text = bed.path(f"{EXAMPLES}/{name}.yaml").read_text()
    bed.path(HERE).mkdir(exist_ok=True)
    bed.path(f"{HERE}/{name}.yaml").write_text(text)
    start = time.monotonic()
    proc = bed.run(["jailmgr", "apply", "-q", f"{HERE}/{name}.yaml"], check=False)
    took = time.monotonic() - start
    assert proc.returncode == 0, f"{name}: the first apply failed:\n{proc.stdout}{proc.stderr}"
    print(f"\n{name}: started at the first apply in {took:.2f} s")


def wait_port(bed: Testbed, port: int, udp: bool = False) -> None:
    for _ in range(100):
        if f"127.0.0.1:{port} " in bed.run(["ss", "-H", "-uln" if udp else "-tln"], check=False).stdout:
            return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on 127.0.0.1:{port}")


def status(bed: Testbed, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(bed.run(["jailmgr", "--json", "status", name]).stdout)["jails"][0]
    return doc


def checked(bed: Testbed, name: str, capabilities: str = "0000000000000000") -> dict[str, str]:
    """Running, in its own PID namespace, with these effective capabilities and nothing for check to say."""
    doc = status(bed, name)
    assert doc["active"] == "active"
    own = {ns["type"] for ns in doc["namespaces"] if not ns["shared_with_host"]}
    assert {"mnt", "ipc", "pid", "uts", "cgroup"} <= own
    confinement: dict[str, str] = doc["confinement"]
    assert confinement["CapEff"] == capabilities and confinement["NoNewPrivs"] == "1"
    proc = bed.run(["jailmgr", "check", name], check=False)
    assert proc.returncode == 0 and "no findings" in proc.stdout, proc.stdout + proc.stderr
    # Nothing of the host bound whole but what the package owns whole (never /lib, a link to /usr/lib).
    unit = bed.path(f"/etc/systemd/system/jail-{name}.service").read_text()
    assert not any(f"--ro-bind {top} {top} " in unit for top in ("/lib", "/bin", "/sbin", "/usr/lib", "/usr"))
    return confinement


def program_pid(bed: Testbed, name: str) -> str:
    """The jail's program as the container numbers it."""
    nspid: str = status(bed, name)["confinement"]["NSpid"]
    return nspid.split()[0]


def memcached_text(port: int, key: bytes, value: bytes) -> bytes:
    """memcached's text protocol from the test itself: set, then get; returns the value it gave back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (key, len(value), value, key))
        want = b"STORED\r\nVALUE %s 0 %d\r\n" % (key, len(value))
        got = b""
        while not got.endswith(b"\r\nEND\r\n") or len(got) < len(want) + len(value):
            chunk = conn.recv(65536)
            assert chunk, got[:200]
            got += chunk
    assert got.startswith(want), got[:200]
    return got[len(want):-len(b"\r\nEND\r\n")]


# --- the ready jails of jails.d, made from their packages ------------------------------------------

def test_memcached_stores_and_returns_the_bytes(bed: Testbed) -> None:
    first_apply(bed, "memcached")
    data = os.urandom(100_000)
    assert memcached_text(11211, b"first", data) == data
    bed.path(HERE).mkdir(exist_ok=True)
    bed.path(f"{HERE}/blob.bin").write_bytes(data[::-1])
    sh(bed, f"memccp --servers=127.0.0.1:11211 {HERE}/blob.bin")  # the key is the file's name
    sh(bed, f"memccat --servers=127.0.0.1:11211 --file={HERE}/back.bin blob.bin")
    assert bed.path(f"{HERE}/back.bin").read_bytes() == data[::-1]
    checked(bed, "memcached")


def test_lighttpd_lists_a_directory_with_its_module_and_serves_the_bytes(bed: Testbed) -> None:
    first_apply(bed, "lighttpd")
    data = os.urandom(300_000)
    bed.path("/srv/www/first").mkdir(parents=True, exist_ok=True)
    bed.path("/srv/www/first/blob.bin").write_bytes(data)
    listing = sh(bed, "curl -sf http://127.0.0.1:8090/first/").stdout
    assert "Index of /first/" in listing and 'href="blob.bin"' in listing
    got = sh(bed, "curl -sf http://127.0.0.1:8090/first/blob.bin | sha256sum").stdout.split()[0]
    assert got == hashlib.sha256(data).hexdigest()
    # The listing is the package's module, loaded from /usr/lib/lighttpd in the jail.
    maps = bed.run(["cat", f"/proc/{program_pid(bed, 'lighttpd')}/maps"]).stdout
    assert "/usr/lib/lighttpd/mod_dirlisting.so" in maps
    checked(bed, "lighttpd")


def test_tftpd_sends_a_file_and_logs_through_dev_log(bed: Testbed) -> None:
    data = os.urandom(200_000)
    bed.path("/srv/tftp").mkdir(exist_ok=True)
    bed.path("/srv/tftp/boot.bin").write_bytes(data)
    os.chmod(bed.path("/srv/tftp/boot.bin"), 0o644)  # tftpd-hpa sends only what all may read
    first_apply(bed, "tftpd")
    wait_port(bed, 6969, udp=True)  # (UDP: no ready port; apply watched it run)
    bed.path(HERE).mkdir(exist_ok=True)
    sh(bed, f"tftp 127.0.0.1 6969 -m binary -c get boot.bin {HERE}/boot.bin")
    assert bed.path(f"{HERE}/boot.bin").read_bytes() == data
    # Each transfer is chrooted in /srv/tftp: nothing above it can be asked for.
    escape = sh(bed, f"timeout 10 tftp 127.0.0.1 6969 -m binary -c get ../etc/passwd {HERE}/passwd", check=False)
    assert "File not found" in escape.stdout + escape.stderr
    # Its syslog lines reached the journal through the bound /dev/log.
    logged = bed.run(["journalctl", "-t", "in.tftpd", "-o", "cat", "--no-pager"]).stdout
    assert "RRQ from 127.0.0.1 filename boot.bin" in logged
    # The listener keeps what its transfers need to chroot and become tftp, and nothing else.
    checked(bed, "tftpd", capabilities="00000000000400c0")


def test_unbound_answers_its_zone_and_refuses_the_rest(bed: Testbed) -> None:
    first_apply(bed, "unbound")
    for name, address in (("www.jail.test", "192.0.2.20"), ("ftp.jail.test", "192.0.2.21")):
        assert sh(bed, f"dig +short +time=2 @127.0.0.1 -p 5335 {name}").stdout.split() == [address]
    assert sh(bed, "dig +short +tcp +time=2 @127.0.0.1 -p 5335 www.jail.test").stdout.split() == ["192.0.2.20"]
    other = sh(bed, "dig +time=2 @127.0.0.1 -p 5335 example.com").stdout
    assert "status: REFUSED" in other
    unit = bed.path("/etc/systemd/system/jail-unbound.service").read_text()
    assert "AF_NETLINK" in unit  # its getifaddrs
    checked(bed, "unbound")


def test_unbound_changed_is_applied_again_and_reloaded(bed: Testbed) -> None:
    """The second apply of a jail made from a package: a changed record restarts it, and it answers.
    (dpkg lists /lib for unbound; once bound whole as a link, this start failed: "bwrap: Can't mkdir /lib")."""
    path = f"{HERE}/unbound.yaml"
    bed.path(path).write_text(bed.path(path).read_text().replace("www: 192.0.2.20", "www: 192.0.2.30"))
    proc = bed.run(["jailmgr", "apply", path], check=False)
    assert proc.returncode == 0 and "restarting" in proc.stdout, proc.stdout + proc.stderr
    assert sh(bed, "dig +short +time=2 @127.0.0.1 -p 5335 www.jail.test").stdout.split() == ["192.0.2.30"]
    main = status(bed, "unbound")["main_pid"]
    assert "reloaded" in bed.run(["jailmgr", "reload", "unbound"]).stdout
    assert status(bed, "unbound")["main_pid"] == main
    assert sh(bed, "dig +short +time=2 @127.0.0.1 -p 5335 ftp.jail.test").stdout.split() == ["192.0.2.21"]


# --- jails a user writes from the docs --------------------------------------------------------------

PG_PASSWORD = "first-apply-secret"

POSTGRESQL = """\
# PostgreSQL 15 from its package, its data dir made by initdb on the host (/srv/pg/data).
name: pg
exec: [/usr/lib/postgresql/15/bin/postgres, -D, /var/lib/postgresql/15/data, -p, "5433",
       # No Unix socket: Debian's /var/run/postgresql is not in the jail; clients come over TCP.
       -k, ""]
user: postgres
ready: {port: 5433}
tree:
  packages: [postgresql-15]
  users: [postgres]
mounts:
  - {source: /srv/pg/data, target: /var/lib/postgresql/15/data, mode: rw}
# initdb wrote timezone = 'Etc/UTC' and lc_messages = 'C.UTF-8'; dynamic_shared_memory_type = posix.
runtime: {timezone: true, locales: true, shm: 64M}
"""


def test_a_users_postgresql_jail_serves_psql_over_tcp_at_the_first_apply(bed: Testbed) -> None:
    bed.path("/srv/pg").mkdir(exist_ok=True)
    bed.path(f"{HERE}").mkdir(exist_ok=True)
    bed.path(f"{HERE}/pgpass").write_text(PG_PASSWORD + "\n")
    os.chmod(bed.path(f"{HERE}/pgpass"), 0o644)
    sh(bed, "chown postgres: /srv/pg && runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /srv/pg/data "
            f"--auth-local=peer --auth-host=scram-sha-256 --pwfile={HERE}/pgpass >/dev/null")
    first_apply(bed, "pg", POSTGRESQL)
    psql = f"PGPASSWORD={PG_PASSWORD} psql -h 127.0.0.1 -p 5433 -U postgres -d postgres -XAtq"
    sh(bed, f"{psql} -c 'create table kept(b bytea)' -c \"insert into kept values ('\\xdeadbeef00ff')\"")
    assert sh(bed, f"{psql} -c 'select encode(b, $$hex$$) from kept'").stdout.strip() == "deadbeef00ff"
    assert sh(bed, f"{psql} -c 'show server_version'").stdout.startswith("15.")
    wrong = sh(bed, "PGPASSWORD=wrong psql -h 127.0.0.1 -p 5433 -U postgres -XAtc 'select 1' postgres", check=False)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    checked(bed, "pg")


LIGHTTPD = """\
# lighttpd from its package: a site from the host read-only, its access log written to the host.
name: web
exec: [/usr/sbin/lighttpd, -D, -f, /etc/lighttpd/lighttpd.conf]
user: www-data
ready: {port: 8091}
tree:
  packages: [lighttpd]
  users: [www-data]
  devices: [null]
  files:
    - path: /etc/lighttpd/lighttpd.conf
      content: |
        server.modules = ("mod_dirlisting", "mod_accesslog")
        server.document-root = "/var/www/html"
        server.bind = "127.0.0.1"
        server.port = 8091
        dir-listing.activate = "enable"
        accesslog.filename = "/var/log/lighttpd/access.log"
mounts:
  - {source: /srv/site, target: /var/www/html, mode: ro, create: true}
  - {source: /srv/site-logs, target: /var/log/lighttpd, mode: rw, create: true, owner: www-data}
"""


def test_a_users_lighttpd_jail_serves_and_logs_at_the_first_apply(bed: Testbed) -> None:
    data = os.urandom(150_000)
    bed.path("/srv/site/files").mkdir(parents=True, exist_ok=True)
    bed.path("/srv/site/files/data.bin").write_bytes(data)
    first_apply(bed, "web", LIGHTTPD)
    assert 'href="data.bin"' in sh(bed, "curl -sf http://127.0.0.1:8091/files/").stdout
    got = sh(bed, "curl -sf http://127.0.0.1:8091/files/data.bin | sha256sum").stdout.split()[0]
    assert got == hashlib.sha256(data).hexdigest()
    log = bed.path("/srv/site-logs/access.log")
    for _ in range(50):
        if log.exists() and "GET /files/data.bin" in log.read_text():
            break
        time.sleep(0.1)
    assert "GET /files/data.bin" in log.read_text()
    checked(bed, "web")
