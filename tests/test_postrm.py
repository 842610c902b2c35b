"""The package's postrm purge, run for real in a private mount namespace over scratch /etc and /var/lib.

The list is as jailmgr/purge.py writes it; the trees hold what a jail could have left there (a
symlink to host data, a hard link) and one has something mounted in it.  Run as root (unshare -m);
the unit tier as nobody skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

POSTRM = Path(__file__).resolve().parents[1] / "packaging/deb/debian/postrm"

SETUP = """set -e
mount -t tmpfs scratch /etc
mount -t tmpfs scratch /var/lib
mkdir -p /etc/systemd/system/multi-user.target.wants /etc/jailmgr/jails.d /etc/jailmgr/templates
mkdir -p /var/lib/jailmgr/state /var/lib/jailmgr/jails/ftp/root/srv /var/lib/jailmgr/jails/web/root/data
mkdir -p /var/lib/hostdata /var/lib/bound
echo host > /var/lib/hostdata/file
echo bound > /var/lib/bound/file
ln -s /var/lib/hostdata /var/lib/jailmgr/jails/ftp/root/srv/escape
ln /var/lib/hostdata/file /var/lib/jailmgr/jails/ftp/root/srv/hardlink
mount --bind /var/lib/bound /var/lib/jailmgr/jails/web/root/data
for j in ftp web odd; do
    echo '{}' > /var/lib/jailmgr/state/$j.json
    echo x > /etc/systemd/system/jail-$j.service
    ln -s ../jail-$j.service /etc/systemd/system/multi-user.target.wants/jail-$j.service
done
echo name: ftp > /etc/jailmgr/jails.d/ftp.yaml
cat > /var/lib/jailmgr/purge.list <<'LIST'
unit jail-ftp.service
root /var/lib/jailmgr/jails/ftp/root
dir /var/lib/jailmgr/jails/ftp
record ftp
unit jail-web.service
root /var/lib/jailmgr/jails/web/root
dir /var/lib/jailmgr/jails/web
record web
keep odd: its record names what jailmgr would not have made
LIST
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root (a mount namespace)")
def test_purge_removes_units_trees_and_records_and_nothing_bound_or_linked() -> None:
    check = ("echo ---; find /etc /var/lib | sort; cat /var/lib/hostdata/file /var/lib/bound/file; "
             "umount /var/lib/jailmgr/jails/web/root/data; cat /var/lib/bound/file")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           f"{SETUP}\nsh {POSTRM} purge\n{check}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    said, seen = proc.stderr, proc.stdout.split("---\n")[1].splitlines()
    assert "jailmgr: removed the unit jail-ftp.service" in said and "jailmgr: destroyed the jail ftp" in said
    assert "removed the tree /var/lib/jailmgr/jails/ftp/root" in said
    # web: its tree has a mount in it: left, its record kept (as destroy does); its unit goes all the same
    assert "left in place: /var/lib/jailmgr/jails/web/root (something is mounted there)" in said
    assert "kept the record of the jail web (its tree was left)" in said
    assert "kept the jail odd: its record names" in said
    assert "the jail files in /etc/jailmgr/jails.d are kept" in said
    assert not [p for p in seen if "jail-ftp" in p or "jail-web" in p or "/jails/ftp" in p]
    assert "/var/lib/jailmgr/state/web.json" in seen and "/var/lib/jailmgr/state/odd.json" in seen
    assert "/var/lib/jailmgr/state/ftp.json" not in seen and "/var/lib/jailmgr/purge.list" not in seen
    assert "/etc/systemd/system/jail-odd.service" in seen  # kept: its record was not trusted
    assert "/etc/systemd/system/multi-user.target.wants/jail-odd.service" in seen
    assert "/etc/jailmgr/templates" not in seen and "/etc/jailmgr/jails.d/ftp.yaml" in seen
    assert seen[-3:] == ["host", "bound", "bound"]  # the linked and the bound host data stay


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root (a mount namespace)")
def test_a_purge_with_nothing_left_removes_var_lib_jailmgr_and_etc_jailmgr() -> None:
    setup = (SETUP.replace("mount --bind /var/lib/bound /var/lib/jailmgr/jails/web/root/data\n", "")
             .replace("for j in ftp web odd;", "for j in ftp web;").replace("keep odd: its record names what jailmgr "
                                                                           "would not have made\n", "")
             .replace("echo name: ftp > /etc/jailmgr/jails.d/ftp.yaml\n", ""))
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           f"{setup}\nsh {POSTRM} purge\necho ---; find /etc /var/lib | sort"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = proc.stdout.split("---\n")[1].splitlines()
    assert not [p for p in seen if "jailmgr" in p or "jail-" in p], seen
    assert "/var/lib/hostdata/file" in seen and "/var/lib/bound/file" in seen
