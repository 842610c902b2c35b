"""The .deb from packaging/deb/build, installed with apt in clean Debian 12 and Debian 13 containers.

Each container boots from the cached tree without this checkout; the package
is installed with `apt-get install ./jailmgr_*.deb`, the packaged ftp example
is applied and served to a real FTP client, its journal read, the manual page
and the completion found, then the package removed and purged: bound data stays.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import testbed
from testbed import Testbed, ftp_session

TOP = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deb(bed: Testbed) -> Path:  # (bed: the port and the tools are checked there; the build is the host's)
    proc = subprocess.run([str(TOP / "packaging/deb/build")], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted(glob.glob(str(TOP / "dist/jailmgr_*_all.deb")))
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
    completed = clean.run(["bash", "-c", "source /usr/share/bash-completion/completions/jailmgr; "
                                         "COMP_WORDS=(jailmgr status f); COMP_CWORD=2; _jailmgr; echo ${COMPREPLY[@]}"])
    assert completed.stdout.split() == ["ftp"]
    assert clean.path("/usr/share/ansible/collections/ansible_collections/jailmgr/jailmgr/galaxy.yml").exists()


def test_remove_and_purge_keep_the_bound_data(clean: Testbed) -> None:
    clean.run(["jailmgr", "destroy", "ftp"])
    clean.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "-q", "jailmgr"], timeout=300)
    # (apt has no package lists here, the package came from a file: dpkg purges what is left, if anything)
    clean.run(["dpkg", "--purge", "jailmgr"], check=False)
    assert clean.run(["dpkg", "-s", "jailmgr"], check=False).returncode != 0
    assert clean.run(["sh", "-c", "command -v jailmgr"], check=False).returncode != 0
    assert clean.path("/var/lib/ftp-upload/from-client.bin").read_bytes() == b"through the packaged jail\n"
    assert clean.path("/srv/ftp-data").is_dir()
