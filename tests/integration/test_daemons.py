"""The ready jails of jails.d/, each applied on the real systemd and served to its real client.

Each test copies the packaged example (/usr/share/doc/jailmgr/examples/), changes only what
names this machine (a user's key, a port taken on purpose), applies it, talks to the daemon
with its own client (rsync, dig, curl, sftp, an FTP client), then reads `status --json` and
runs `check`.  The cases the review found (dnsmasq without netlink, PAM modules loaded with
dlopen, a dir under /run, a port in use) each have their test here.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import os
import subprocess
import time

import pytest

from tests.testbed import Testbed

EXAMPLES = "/usr/share/doc/jailmgr/examples"
HOST_KEY = "/etc/jailmgr/secrets/sftp_host_ed25519_key"  # the sftp example's credential


def jailmgr(bed: Testbed, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return bed.run(["jailmgr", *args], check=check)


def apply_example(bed: Testbed, name: str, edit: dict[str, str] | None = None) -> str:
    text = bed.path(f"{EXAMPLES}/{name}.yaml").read_text()
    for old, new in (edit or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = f"/srv/daemons/{name}.yaml"
    bed.path("/srv/daemons").mkdir(exist_ok=True)
    bed.path(path).write_text(text)
    jailmgr(bed, "apply", "-q", path)
    return path


def client(bed: Testbed, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A client run in the container from / (nsenter leaves it in a directory it can't name)."""
    return bed.run(["sh", "-c", 'cd / && exec "$@"', "sh", *argv], check=check)


def wait_port(bed: Testbed, port: int, udp: bool = False) -> None:
    flag = "-uln" if udp else "-tln"
    for _ in range(100):
        if f"127.0.0.1:{port} " in bed.run(["ss", "-H", flag], check=False).stdout:
            return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on 127.0.0.1:{port}")


def status_and_check(bed: Testbed, name: str, *, pid_ns: bool) -> dict[str, object]:
    doc = json.loads(jailmgr(bed, "--json", "status", name).stdout)["jails"][0]
    assert doc["active"] == "active"
    own = {ns["type"] for ns in doc["namespaces"] if not ns["shared_with_host"]}
    assert {"mnt", "ipc"} <= own and ("pid" in own) is pid_ns, doc["namespaces"]
    assert doc["limits"]["MemoryMax"] not in ("", "infinity")
    assert doc["limits"]["TasksMax"] not in ("", "infinity")
    assert doc["confinement"]["NoNewPrivs"] == "1"
    proc = jailmgr(bed, "check", name, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no findings" in proc.stdout
    return doc


def program_root(bed: Testbed, name: str) -> str:
    """The running program's / as the container sees it (/proc/PID/root), for looking, never writing."""
    doc = json.loads(jailmgr(bed, "--json", "status", name).stdout)["jails"][0]
    pid = doc["confinement"]["NSpid"].split()[0] if doc["confinement"].get("NSpid") else doc["main_pid"]
    return f"/proc/{pid}/root"


@pytest.fixture(scope="module", autouse=True)
def scratch(bed: Testbed) -> None:
    """The clients' files: in /srv/c (the container's /tmp is a tmpfs the test can't see into)."""
    bed.run(["mkdir", "-p", "/srv/c"])


@pytest.fixture(scope="module")
def alice(bed: Testbed) -> str:
    """A local user with a password and no shell, its home with one file."""
    bed.run(["sh", "-c", "id alice >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin alice; "
                         "echo alice:s3cret | chpasswd; echo hi > /home/alice/in.txt; "
                         "chown alice: /home/alice/in.txt"])
    return "alice"


def test_rsyncd_lists_pulls_pushes_and_refuses_a_push_to_the_read_only_module(bed: Testbed) -> None:
    apply_example(bed, "rsyncd")
    wait_port(bed, 8873)
    bed.path("/srv/rsync-pub/a.txt").write_bytes(b"from the read-only module\n")
    listing = client(bed, "rsync", "rsync://127.0.0.1:8873/").stdout
    assert "pub" in listing and "incoming" in listing
    client(bed, "rsync", "rsync://127.0.0.1:8873/pub/a.txt", "/srv/c/pulled.txt")
    assert bed.path("/srv/c/pulled.txt").read_bytes() == b"from the read-only module\n"
    bed.path("/srv/c/push.bin").write_bytes(os.urandom(100_000))
    client(bed, "rsync", "/srv/c/push.bin", "rsync://127.0.0.1:8873/incoming/")
    assert bed.path("/srv/rsync-incoming/push.bin").read_bytes() == bed.path("/srv/c/push.bin").read_bytes()
    refused = client(bed, "rsync", "/srv/c/push.bin", "rsync://127.0.0.1:8873/pub/", check=False)
    assert refused.returncode != 0 and "read only" in refused.stdout + refused.stderr
    assert not bed.path("/srv/rsync-pub/push.bin").exists()
    doc = status_and_check(bed, "rsyncd", pid_ns=True)
    assert doc["confinement"]["CapEff"] == "0000000000000000"


def test_dnsmasq_needs_netlink_and_with_it_resolves_the_zone(bed: Testbed) -> None:
    # The review's case: without AF_NETLINK dnsmasq can't read the interfaces and exits;
    # the error says so, with the daemon's own line from the journal.
    failed = bed.run(["sh", "-c", f"sed 's/, AF_NETLINK]/]/' {EXAMPLES}/dnsmasq.yaml > /srv/dns-nonl.yaml && "
                                  "jailmgr apply -q /srv/dns-nonl.yaml"], check=False)
    assert failed.returncode == 1
    assert "jail-dnsmasq.service did not start" in failed.stderr
    assert "dnsmasq[" in failed.stderr  # the program's own journal lines are in the error
    apply_example(bed, "dnsmasq")
    wait_port(bed, 5353, udp=True)
    for name, address in (("www.jail.test", "192.0.2.10"), ("ftp.jail.test", "192.0.2.11")):
        answer = client(bed, "dig", "+short", "+time=2", "@127.0.0.1", "-p", "5353", name).stdout.split()
        assert answer == [address]
    unit = bed.path("/etc/systemd/system/jail-dnsmasq.service").read_text()
    assert "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n" in unit
    status_and_check(bed, "dnsmasq", pid_ns=True)


def test_nginx_serves_a_file_byte_for_byte_as_www_data_without_capabilities(bed: Testbed) -> None:
    apply_example(bed, "nginx")
    wait_port(bed, 8080)
    data = os.urandom(300_000)
    bed.path("/srv/www/blob.bin").write_bytes(data)
    got = bed.run(["sh", "-c", "curl -sf http://127.0.0.1:8080/blob.bin | sha256sum"]).stdout.split()[0]
    assert got == hashlib.sha256(data).hexdigest()
    doc = status_and_check(bed, "nginx", pid_ns=False)
    assert doc["confinement"]["CapEff"] == "0000000000000000"
    status = bed.run(["cat", f"/proc/{doc['main_pid']}/status"]).stdout
    uid = bed.run(["id", "-u", "www-data"]).stdout.strip()
    assert f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}" in status  # no root master
    score = bed.run(["systemd-analyze", "security", "--no-pager", "jail-nginx.service"]).stdout
    exposure = float(score.rsplit("Overall exposure level for jail-nginx.service:", 1)[1].split()[0])
    assert exposure <= 1.5, exposure
    assert "GET /blob.bin" in bed.path("/var/log/jail-nginx/access.log").read_text()


def test_a_port_in_use_is_named_in_the_error(bed: Testbed) -> None:
    bed.run(["systemd-run", "--unit=port-squatter", "--", "python3", "-m", "http.server", "--bind",
             "127.0.0.1", "8081"])
    try:
        wait_port(bed, 8081)
        text = bed.path(f"{EXAMPLES}/dnsmasq.yaml").read_text()
        bed.path("/srv/dns-8081.yaml").write_text(text.replace("name: dnsmasq", "name: dns2")
                                                  .replace("port: 5353", "port: 8081"))
        proc = jailmgr(bed, "apply", "-q", "/srv/dns-8081.yaml", check=False)
        assert proc.returncode == 1
        assert "jail-dns2.service did not start" in proc.stderr
        # dnsmasq's own line says why; it reaches the operator with the error.
        assert "Address already in use" in proc.stderr, proc.stderr
        assert "fix the jail file" not in proc.stderr
    finally:
        bed.run(["systemctl", "stop", "port-squatter.service"], check=False)
        jailmgr(bed, "destroy", "dns2", check=False)


def test_sftp_with_the_key_uploads_and_downloads_and_refuses_passwords_and_shells(bed: Testbed,
                                                                                   alice: str) -> None:
    bed.run(["sh", "-c", "rm -f /srv/c/k /srv/c/k.pub && ssh-keygen -q -t ed25519 -N '' -f /srv/c/k"])
    # The host key, a credential: made once on the host, root's alone (as the example's header says).
    bed.run(["sh", "-c", f"mkdir -p /etc/jailmgr/secrets && rm -f {HOST_KEY} {HOST_KEY}.pub && "
                         f"ssh-keygen -q -t ed25519 -N '' -C sftp-jail -f {HOST_KEY}"])
    key = bed.path("/srv/c/k.pub").read_text().strip()
    apply_example(bed, "sftp", {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIReplaceWithTheUsersPublicKey alice@example":
                                key})
    wait_port(bed, 2222)
    opts = ["-P", "2222", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/tmp/known", "-o",
            "BatchMode=yes"]
    bed.path("/srv/c/up.bin").write_bytes(os.urandom(50_000))
    bed.path("/srv/c/batch").write_text("put /srv/c/up.bin up.bin\nget in.txt /srv/c/down.txt\n")
    client(bed, "sftp", "-b", "/srv/c/batch", "-i", "/srv/c/k", *opts, f"{alice}@127.0.0.1")
    assert bed.path("/home/alice/up.bin").read_bytes() == bed.path("/srv/c/up.bin").read_bytes()
    assert bed.path("/srv/c/down.txt").read_text() == "hi\n"
    ssh = ["ssh", "-p", "2222", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/tmp/known",
           "-o", "BatchMode=yes"]
    shell = client(bed, *ssh, "-i", "/srv/c/k", f"{alice}@127.0.0.1", "id", check=False)
    assert "uid=" not in shell.stdout and "sftp connections only" in shell.stdout + shell.stderr
    password = client(bed, *ssh, "-o", "PreferredAuthentications=password,keyboard-interactive",
                      f"{alice}@127.0.0.1", "true", check=False)
    assert password.returncode == 255 and "Permission denied" in password.stderr
    # The server proves the credential's key (the client pins its .pub), which is in no tree or record.
    pinned = bed.path(f"{HOST_KEY}.pub").read_text().split()[:2]
    bed.path("/srv/c/known_sftp").write_text(f"[127.0.0.1]:2222 {' '.join(pinned)}\n")
    pinned_opts = ["-P", "2222", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/srv/c/known_sftp",
                   "-o", "BatchMode=yes"]
    bed.path("/srv/c/batch2").write_text("ls\n")
    client(bed, "sftp", "-b", "/srv/c/batch2", "-i", "/srv/c/k", *pinned_opts, f"{alice}@127.0.0.1")
    private = bed.path(HOST_KEY).read_text().splitlines()[1]
    assert bed.run(["grep", "-rlF", private, "/var/lib/jailmgr/jails/sftp/root", "/var/lib/jailmgr/state"],
                   check=False).stdout == ""
    # sshd's privilege separation dir, a tree dir under /run, is there in the running jail.
    assert bed.run(["test", "-d", f"{program_root(bed, 'sftp')}/run/sshd"], check=False).returncode == 0
    status_and_check(bed, "sftp", pid_ns=True)


def test_local_users_log_in_to_ftp_with_their_password_through_pam_and_stay_home(bed: Testbed,
                                                                                 alice: str) -> None:
    apply_example(bed, "ftp-users")
    wait_port(bed, 2122)
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", 2122, timeout=10)
    ftp.login(alice, "s3cret")
    got = io.BytesIO()
    ftp.retrbinary("RETR in.txt", got.write)
    assert got.getvalue() == b"hi\n"
    ftp.storbinary("STOR from-ftp.txt", io.BytesIO(b"uploaded by alice\n"))
    ftp.cwd("/..")
    assert ftp.pwd() == "/" and "from-ftp.txt" in ftp.nlst()  # the home is its /: nothing above
    with pytest.raises(ftplib.error_perm):
        ftp.cwd("/etc")
    ftp.quit()
    assert bed.path("/home/alice/from-ftp.txt").read_text() == "uploaded by alice\n"
    wrong = ftplib.FTP()
    wrong.connect("127.0.0.1", 2122, timeout=10)
    with pytest.raises(ftplib.error_perm, match="530"):
        wrong.login(alice, "wrong")
    wrong.close()
    root = "/var/lib/jailmgr/jails/ftp-users/root"
    shadow = bed.path(f"{root}/etc/shadow").read_text().splitlines()
    hashes = {line.split(":")[0]: line.split(":")[1] for line in shadow}
    assert set(hashes) == {"root", "alice", "nobody"}
    assert hashes["root"] == "*"  # the host root's hash never: root isn't in tree.users
    assert hashes["alice"].startswith("$")
    assert "pam_unix.so" in bed.path(f"{root}/etc/pam.d/other").read_text()
    status_and_check(bed, "ftp-users", pid_ns=True)
