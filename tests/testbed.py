#!/usr/bin/python3
"""A throwaway Debian 12 with a real systemd, booted in a systemd-nspawn container.

Used by the integration tests and by the demo.  The debootstrapped tree is
cached under /var/cache/jailmgr-testbed/, keyed by its package list; each
session boots an overlay on top of it, so sessions never share a dirty tree.
The container shares the host's network: a service listening on 127.0.0.1
inside is reachable from the host.

    python3 -m tests.testbed demo      boot, install this checkout, apply the ftp jail, run an FTP session
    python3 -m tests.testbed prepare [SUITE]   only build the cache (bookworm, or trixie)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SUITE = "bookworm"
PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "python3-yaml", "python3-jinja2", "python3-systemd",
            "vsftpd", "bubblewrap", "tini", "procps", "iproute2", "busybox-static", "python3-seccomp",
            "jailkit",  # the benchmark's baseline (jk_cp)
            "man-db",  # (priority standard, on any installed Debian): the .deb's pages are read with man
            # The Ansible collection's tests run playbooks inside; debootstrap does not
            # resolve the virtual package python3-cryptography needs (cffi's backend).
            "ansible-core", "python3-cffi-backend")
# The daemons of the ready jails (jails.d/) and the real clients their tests use.
DAEMONS = ("rsync", "dnsmasq-base", "nginx-light", "openssh-server", "openssh-client", "curl", "bind9-dnsutils",
           # The jails made from their packages (tree.packages; tests/integration/test_first_apply.py).
           "memcached", "libmemcached-tools", "lighttpd", "tftpd-hpa", "tftp-hpa", "unbound")
# The stateful daemons whose stop must lose nothing (jails.d/redis.yaml, postgresql.yaml), and their clients.
STATEFUL = {"bookworm": ("redis-server", "redis-tools", "postgresql-15", "postgresql-client-15"),
            "trixie": ("redis-server", "redis-tools", "postgresql-17", "postgresql-client-17")}
CACHE_ROOT = Path(os.environ.get("JAILMGR_TESTBED_CACHE", "/var/cache/jailmgr-testbed"))
CHECKOUT = Path(__file__).resolve().parent.parent
SETUP_VERSION = "1"  # bump when the post-debootstrap setup below changes


def log(message: str) -> None:
    print(f"testbed: {message}", file=sys.stderr, flush=True)


def mirror() -> str:
    """The Debian mirror this host uses (deb822 or one-line sources)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        for line in sources.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and "security" not in line:
                return next(p for p in parts[1:] if "://" in p)
    return "http://deb.debian.org/debian"


# Debian 13: the same, but jailkit (not in trixie); its systemd is 257, its ansible-core 2.19.
SUITES = {"bookworm": PACKAGES + DAEMONS + STATEFUL["bookworm"],
          "trixie": tuple(p for p in PACKAGES if p != "jailkit") + STATEFUL["trixie"]}


def cache_dir(suite: str = SUITE) -> Path:
    packages = SUITES[suite]
    key = hashlib.sha256(" ".join([suite, SETUP_VERSION, *sorted(packages)]).encode()).hexdigest()[:12]
    return CACHE_ROOT / f"{suite}-{key}"


def _setup_tree(root: Path) -> None:
    """Make the fresh tree quiet and ready: no stock daemons on the host's ports (the container shares
    the host's network), no getty."""
    for unit in ("vsftpd.service", "nginx.service", "ssh.service", "ssh.socket", "rsync.service",
                 "redis-server.service", "postgresql.service", "postgresql@15-main.service",
                 "postgresql@17-main.service", "memcached.service", "lighttpd.service", "tftpd-hpa.service",
                 "unbound.service", "unbound-resolvconf.service", "getty@tty1.service", "console-getty.service"):
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    (root / "etc/hostname").write_text("testbed\n")


def prepare(suite: str = SUITE) -> Path:
    """The cached tree, built once (about a minute) per package list."""
    target = cache_dir(suite)
    if (target / "usr/lib/systemd/systemd").exists():
        return target
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=CACHE_ROOT))
    log(f"debootstrapping {suite} into the cache (once per package list; about a minute)")
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(SUITES[suite])}", suite, str(work), mirror()]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    _setup_tree(work)
    os.rename(work, target)  # atomic: a killed build leaves only a .build- directory
    return target


class Testbed:
    """One booted container; run commands in it with .run()."""

    __test__ = False  # not a pytest test class

    def __init__(self, lower: Path, machine: str) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="jailmgr-testbed-"))
        self.root = self.base / "root"
        for sub in ("upper", "work", "root"):
            (self.base / sub).mkdir()
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={self.base / 'upper'},workdir={self.base / 'work'}",
                        str(self.root)], check=True)
        self.machine = machine
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.pid = 0

    def boot(self, timeout: float = 60) -> None:
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", str(self.root), "-b", "--register=no", "--keep-unit",
             "--console=passive", "-M", self.machine,
             # nspawn drops CAP_NET_ADMIN when it shares the host's network; the
             # net: private jails need it to make their veth pair (removed on stop).
             # CAP_SYS_TIME, as a real host's systemd has it: jailmgr-init writes a time
             # namespace's offsets with it (namespaces.time).
             "--capability=CAP_NET_ADMIN,CAP_SYS_TIME"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode}")
            self.pid = self.pid or self._init_pid()
            if self.pid:
                state = self.run(["systemctl", "is-system-running"], check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.2)
        raise RuntimeError("the container's systemd did not reach 'running' in time")

    def reboot(self, timeout: float = 60) -> None:
        """Shut the container down in order (systemd stops every unit, as at a host's reboot) and boot
        the same tree again."""
        assert self.nspawn is not None
        self.nspawn.send_signal(signal.SIGTERM)
        self.nspawn.wait(timeout=timeout)
        self.pid = 0
        self.boot()

    def _init_pid(self) -> int:
        """The container's PID 1 as the host sees it: the nspawn child running systemd."""
        assert self.nspawn is not None
        todo = [self.nspawn.pid]
        while todo:
            parent = todo.pop()
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    comm = Path(f"/proc/{entry}/comm").read_text().strip()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == parent:
                    if comm == "systemd":
                        return int(entry)
                    todo.append(int(entry))
        return 0

    def run(self, argv: list[str], check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run argv inside the container (all its namespaces), from its root."""
        proc = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "--wd=/", *argv], capture_output=True,
                              text=True, timeout=timeout, input=input,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def install_checkout(self) -> None:
        subprocess.run([str(CHECKOUT / "scripts/install.sh"), str(self.root)], check=True)

    def path(self, inside: str) -> Path:
        """A path inside the container, as the host reaches it (through the overlay)."""
        return self.root / inside.lstrip("/")

    def stop(self) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            # Stop by the PID we started: SIGTERM makes nspawn shut the container down.
            self.nspawn.send_signal(signal.SIGTERM)
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        for _ in range(20):
            if subprocess.run(["umount", str(self.root)], capture_output=True).returncode == 0:
                break
            time.sleep(0.25)
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def booted(machine: str = "jailmgr-testbed", suite: str = SUITE, install: bool = True) -> Iterator[Testbed]:
    """A booted container; with `install`, this checkout laid out in it as the package would be."""
    bed = Testbed(prepare(suite), f"{machine}-{os.getpid()}")
    try:
        bed.boot()
        if install:
            bed.install_checkout()
        yield bed
    finally:
        bed.stop()


def ftp_session(port: int = 2121, upload: bytes = b"", host: str = "127.0.0.1") -> list[str]:
    """A real FTP client session against the jail; returns what it saw, line by line."""
    import ftplib
    import io

    seen = []
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    seen.append(ftp.getwelcome())
    seen.append(ftp.login())
    seen.append(f"LIST / -> {ftp.nlst()}")
    seen.append(f"LIST /pub -> {ftp.nlst('pub')}")
    for name in [*ftp.nlst("pub"), "welcome.txt"]:
        buf = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", buf.write)
        seen.append(f"RETR {name} -> {buf.getvalue()!r}")
    if upload:
        seen.append(ftp.storbinary("STOR upload/from-client.bin", io.BytesIO(upload)))
    seen.append(ftp.quit())
    return seen


def demo() -> int:
    with booted("jailmgr-demo") as bed:
        log(f"container up (its systemd is PID {bed.pid} on the host); this checkout is installed in it")
        bed.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", "/etc/jailmgr/jails.d/ftp.yaml"])
        for argv in (["jailmgr", "validate"], ["jailmgr", "apply"], ["jailmgr", "status"]):
            print(f"\n# {' '.join(argv)}  (inside the container)", flush=True)
            proc = bed.run(argv, check=False)
            print(proc.stdout + proc.stderr, end="", flush=True)
            if proc.returncode != 0:
                return proc.returncode
        bed.path("/srv/ftp-data/hello.txt").write_text("hello from the host's /srv/ftp-data\n")
        print("\n# an FTP session from the host against 127.0.0.1:2121", flush=True)
        for line in ftp_session(upload=b"uploaded through the jail\n"):
            print(f"  {line}")
        uploaded = bed.path("/var/lib/ftp-upload/from-client.bin").read_bytes()
        print(f"\n# the upload landed in the host's /var/lib/ftp-upload: {uploaded!r}")
        print("\n# jailmgr check ftp  (exposure score and the program's confinement)", flush=True)
        proc = bed.run(["jailmgr", "check", "ftp"], check=False)
        print(proc.stdout + proc.stderr, end="", flush=True)
        print("\n# jailmgr destroy ftp", flush=True)
        proc = bed.run(["jailmgr", "destroy", "ftp"], check=False)
        print(proc.stdout + proc.stderr, end="")
        return proc.returncode


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("testbed: must run as root (it boots a container)")
    command = sys.argv[1] if len(sys.argv) > 1 else "demo"
    if command == "prepare":
        print(prepare(sys.argv[2] if len(sys.argv) > 2 else SUITE))
    elif command == "demo":
        sys.exit(demo())
    else:
        sys.exit(f"testbed: unknown command {command!r} (demo, prepare)")
