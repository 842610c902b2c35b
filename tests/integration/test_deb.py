"""The .deb from packaging/deb/build, installed with apt in clean Debian 12 and Debian 13 containers.

The build makes the source package (`debuild -S`, 3.0 (quilt)) and then the
.deb from that source package unpacked anew.  Each container boots from the
cached tree without this checkout; the package is installed with
`apt-get install ./jailmgr_*.deb`, the packaged ftp example is applied and
served to a real FTP client, its journal read, the manual pages read with
man, the completion asked by an unprivileged user; then, with two jails
running, the package is removed (they keep running) and purged (their units,
trees and records go; their bound data stays).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import testbed
from tests.testbed import Testbed, ftp_session

TOP = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deb(bed: Testbed) -> Path:  # (bed: the port and the tools are checked there; the build is the host's)
    proc = subprocess.run([str(TOP / "packaging/deb/build")], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted(glob.glob(str(TOP / "dist/jailmgr_*_*.deb")))
    assert found
    return Path(found[-1])


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def clean(request: pytest.FixtureRequest, deb: Path) -> Iterator[Testbed]:
    with testbed.booted(f"jailmgr-deb-{request.param}", request.param, install=False) as bed:
        shutil.copy(deb, bed.path("/srv/jailmgr.deb"))
        proc = bed.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                        "--no-install-recommends", "/srv/jailmgr.deb"], check=False, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        yield bed


def test_the_source_package_holds_the_upstream_tarball_and_debian_dir(deb: Path, tmp_path: Path) -> None:
    """What `debuild -S` made, and from which the build made the .deb: it unpacks with dpkg-source alone."""
    dsc = sorted(deb.parent.glob("jailmgr_*.dsc"))
    assert len(dsc) == 1 and deb.name.startswith(dsc[0].name.removesuffix(".dsc") + "_")
    fields = dsc[0].read_text()
    assert "Format: 3.0 (quilt)" in fields and "Build-Depends:" in fields
    proc = subprocess.run(["dpkg-source", "-x", str(dsc[0]), str(tmp_path / "src")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "src/debian/rules").exists() and (tmp_path / "src/jailmgr/cli.py").exists()


def test_the_installed_package_serves_ftp_and_documents_itself(clean: Testbed) -> None:
    assert clean.run(["jailmgr", "--version"]).stdout.startswith("jailmgr ")
    assert clean.run(["ls", "/etc/jailmgr/jails.d"]).stdout == ""  # nothing runs by itself at install
    clean.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", "/etc/jailmgr/jails.d/"])
    proc = clean.run(["jailmgr", "apply"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = ftp_session(upload=b"through the packaged jail\n")
    assert seen[1].startswith("230") and seen[-2].startswith("226")
    logs = clean.run(["jailmgr", "logs", "ftp", "-n", "20"]).stdout
    assert "jail-ftp.service" in logs or "vsftpd" in logs
    page = clean.run(["sh", "-c", "zcat /usr/share/man/man8/jailmgr.8.gz"]).stdout
    assert ".TH JAILMGR 8" in page and "\\-\\-detailed\\-exitcode" in page
    assert clean.path("/usr/share/man/man5/jailmgr.yaml.5.gz").exists()
    shown = clean.run(["env", "MANWIDTH=80", "LANG=C.UTF-8", "man", "--warnings", "jailmgr-apply"], check=False)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert "JAILMGR-APPLY(8)" in shown.stdout and "EXAMPLES" in shown.stdout and "jailmgr apply --prune" in shown.stdout
    assert "jailmgr apply --prune" in clean.run(["jailmgr", "help", "apply"]).stdout
    # An unprivileged shell (sudo jailmgr status <TAB>): the records are root's, the jail files are not.
    assert clean.run(["runuser", "-u", "nobody", "--", "ls", "/var/lib/jailmgr/state"], check=False).returncode != 0
    completed = clean.run(["runuser", "-u", "nobody", "--", "bash", "-c",
                           "source /usr/share/bash-completion/completions/jailmgr; "
                           "COMP_WORDS=(jailmgr status f); COMP_CWORD=2; _jailmgr; echo ${COMPREPLY[@]}"])
    assert completed.stdout.split() == ["ftp"]
    for path in ("/usr/share/zsh/vendor-completions/_jailmgr", "/usr/share/fish/vendor_completions.d/jailmgr.fish",
                 "/usr/share/doc/jailmgr/NEWS.Debian.gz", "/etc/jailmgr/templates"):
        assert clean.path(path).exists(), path
    assert list(clean.path("/usr/share/doc/jailmgr").glob("README.md*"))
    assert list(clean.path("/usr/share/doc/jailmgr").glob("README.Debian*"))
    # The host's own, unjailed vsftpd beside the jail (as installing Debian's vsftpd starts it): check says so.
    clean.run(["systemd-run", "--unit=host-vsftpd", "--service-type=simple", "/usr/sbin/vsftpd", "/etc/vsftpd.conf",
               "-olisten=YES", "-olisten_ipv6=NO", "-olisten_address=127.0.0.1", "-olisten_port=2199",
               "-osecure_chroot_dir=/var/empty"])
    try:
        checked = clean.run(["jailmgr", "check", "ftp"], check=False)
        assert "the host's own host-vsftpd.service" in checked.stderr, checked.stdout + checked.stderr
        assert "systemctl mask --now host-vsftpd.service" in checked.stderr
    finally:
        clean.run(["systemctl", "stop", "host-vsftpd.service"], check=False)
    assert clean.path("/usr/share/ansible/collections/ansible_collections/jailmgr/jailmgr/galaxy.yml").exists()


LIB = "int jm_answer(void) { return 42; }\n"
PROG = ("int jm_answer(void);\n#include <unistd.h>\n"  # (jm_answer is called: --as-needed keeps the library)
        "int main(void) { if (jm_answer() != 42) return 1; for (;;) pause(); }\n")


def _fake_package(work: Path, version: str) -> Path:
    """A package that puts one file in the library directory: what any library upgrade does to it."""
    root = work / f"touch-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(f"Package: jm-touch\nVersion: {version}\nArchitecture: all\n"
                                         "Maintainer: tests <tests@localhost>\nDescription: a test\n")
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu/jm-touch.txt").write_text(version)
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(root), str(work / f"touch-{version}.deb")], check=True,
                   capture_output=True)
    return work / f"touch-{version}.deb"


def test_the_autopkgtest_passes_on_the_installed_package(clean: Testbed) -> None:
    """debian/tests/ftp, as autopkgtest would run it (needs-root, isolation-machine): here, in the container."""
    clean.run(["jailmgr", "destroy", "ftp"])  # the first test's; the autopkgtest makes its own
    shutil.copy(TOP / "packaging/deb/debian/tests/ftp", clean.path("/srv/autopkgtest-ftp"))
    proc = clean.run(["sh", "/srv/autopkgtest-ftp"], check=False, timeout=300)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("ftp: ok"), proc.stdout + proc.stderr
    clean.run(["cp", "/usr/share/doc/jailmgr/examples/ftp.yaml", "/etc/jailmgr/jails.d/"])
    clean.run(["jailmgr", "apply"])  # for the removal test at the end


def test_a_library_upgrade_names_the_jails_that_still_run_the_old_one(clean: Testbed, tmp_path: Path) -> None:
    libdir = clean.path("/usr/lib/x86_64-linux-gnu")
    (tmp_path / "jm.c").write_text(LIB)
    (tmp_path / "prog.c").write_text(PROG)
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libjm.so.1", "-o", str(libdir / "libjm.so.1.0"),
                    str(tmp_path / "jm.c")], check=True)
    (libdir / "libjm.so.1").unlink(missing_ok=True)
    (libdir / "libjm.so.1").symlink_to("libjm.so.1.0")
    subprocess.run(["gcc", "-o", str(clean.path("/usr/local/bin/jmprog")), str(tmp_path / "prog.c"),
                    str(libdir / "libjm.so.1.0")], check=True)
    clean.path("/srv/jm.yaml").write_text("name: jm\nexec: [/usr/local/bin/jmprog]\n"
                                          "tree: {binaries: [/usr/local/bin/jmprog]}\n")
    clean.run(["jailmgr", "apply", "/srv/jm.yaml"])
    before = clean.run(["systemctl", "show", "-P", "MainPID", "jail-jm.service"]).stdout
    # The upgrade: a new real file, the soname link moved to it, the old file gone; then any package
    # that touches the library directory fires jailmgr's trigger.
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libjm.so.1", "-o", str(libdir / "libjm.so.1.1"),
                    str(tmp_path / "jm.c")], check=True)
    (libdir / "libjm.so.1").unlink()
    (libdir / "libjm.so.1").symlink_to("libjm.so.1.1")
    (libdir / "libjm.so.1.0").unlink()
    shutil.copy(_fake_package(tmp_path, "1"), clean.path("/srv/touch-1.deb"))
    told = clean.run(["dpkg", "-i", "/srv/touch-1.deb"])
    assert "jm: runs /lib/x86_64-linux-gnu/libjm.so.1" in told.stdout + told.stderr, told.stdout + told.stderr
    assert clean.run(["systemctl", "show", "-P", "MainPID", "jail-jm.service"]).stdout == before  # default: say only
    clean.path("/etc/default/jailmgr").write_text("RESTART_ON_LIBRARY_UPGRADE=yes\n")
    shutil.copy(_fake_package(tmp_path, "2"), clean.path("/srv/touch-2.deb"))
    told = clean.run(["dpkg", "-i", "/srv/touch-2.deb"])
    assert "restarted jail-jm.service" in told.stdout + told.stderr
    assert clean.run(["systemctl", "show", "-P", "MainPID", "jail-jm.service"]).stdout != before
    assert clean.run(["jailmgr", "stale"]).stdout.strip() == "no jail runs a replaced file"
    clean.path("/etc/default/jailmgr").write_text("RESTART_ON_LIBRARY_UPGRADE=no\n")
    clean.run(["jailmgr", "destroy", "jm"])
    clean.run(["dpkg", "--purge", "jm-touch"])


SLEEPER = ("name: sleeper\nexec: [/bin/busybox, sleep, \"1000000\"]\ntree: {binaries: [/bin/busybox]}\n"
           "mounts: [{source: /srv/sleeper-data, target: /data, mode: rw, create: true}]\n")


def test_remove_keeps_the_jails_running_and_purge_destroys_them_keeping_the_bound_data(clean: Testbed) -> None:
    clean.path("/etc/jailmgr/jails.d/sleeper.yaml").write_text(SLEEPER)
    clean.run(["jailmgr", "apply"])
    clean.path("/srv/sleeper-data/kept.txt").write_text("bound host data\n")
    roots = [clean.path(f"/var/lib/jailmgr/jails/{name}/root") for name in ("ftp", "sleeper")]
    assert all(root.is_dir() for root in roots)
    removed = clean.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "-q", "jailmgr"],
                        timeout=300)
    assert "the jails it managed keep running" in removed.stdout + removed.stderr
    for unit in ("jail-ftp.service", "jail-sleeper.service"):
        assert clean.run(["systemctl", "is-active", unit], check=False).stdout.strip() == "active", unit
    assert ftp_session()[1].startswith("230")  # still serving, with jailmgr gone
    # (apt has no package lists here, the package came from a file: dpkg purges what is left)
    purged = clean.run(["dpkg", "--purge", "jailmgr"], check=False)
    said = purged.stdout + purged.stderr
    assert purged.returncode == 0, said
    assert "destroyed the jail ftp" in said and "destroyed the jail sleeper" in said, said
    assert "the jail files in /etc/jailmgr/jails.d are kept" in said
    assert clean.run(["dpkg", "-s", "jailmgr"], check=False).returncode != 0
    assert clean.run(["sh", "-c", "command -v jailmgr"], check=False).returncode != 0
    # No jailmgr unit, tree or record is left, and nothing of theirs runs or would start at boot.
    units = clean.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "jail-*"]).stdout
    assert units.strip() == "", units
    assert list(clean.path("/etc/systemd/system").glob("jail-*")) == []
    assert list(clean.path("/etc/systemd/system").glob("*/jail-*")) == []  # (no wants/ link either)
    assert not clean.path("/var/lib/jailmgr").exists()
    # The bound host data stays.
    assert clean.path("/var/lib/ftp-upload/from-client.bin").read_bytes() == b"through the packaged jail\n"
    assert clean.path("/srv/ftp-data").is_dir()
    assert clean.path("/srv/sleeper-data/kept.txt").read_text() == "bound host data\n"
