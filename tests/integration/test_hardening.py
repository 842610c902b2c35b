"""Safe defaults, verified units, exposure scores and the audit, on a real systemd."""

from __future__ import annotations

import json
import os

from tests.testbed import Testbed, ftp_session

# Without a PID namespace a jail's program must not be root (it could signal the
# host's root processes), and vsftpd needs root: the systemd-only twin of the
# ftp jail keeps its tree and settings but runs a plain program as user ftp.
SYSTEMD_ONLY = "\nnamespaces: {pid: false, uts: false, cgroup: false}\nuser: ftp\n"


def write_jails(bed: Testbed) -> None:
    text = bed.path("/usr/share/doc/jailmgr/examples/ftp.yaml").read_text()
    bed.path("/srv/h-ftp.yaml").write_text(text)
    plain = (text.replace("hostname: ftp\n", "").replace("name: ftp", "name: ftpplain")
             .replace("exec: [/usr/sbin/vsftpd, /etc/vsftpd.conf]", "exec: [/usr/bin/sleep, infinity]")
             .replace("binaries: [/usr/sbin/vsftpd]", "binaries: [/usr/sbin/vsftpd, /usr/bin/sleep]")
             .replace("port: 2121", "port: 2122").replace("/var/lib/ftp-upload", "/var/lib/ftp-upload-plain"))
    bed.path("/srv/h-plain.yaml").write_text(plain + SYSTEMD_ONLY)


def check_doc(bed: Testbed, name: str) -> dict:
    proc = bed.run(["jailmgr", "--json", "check", name], check=False)
    return json.loads(proc.stdout)["jails"][0] | {"rc": proc.returncode}


def test_units_verify_clean_and_score_low(bed: Testbed) -> None:
    write_jails(bed)
    for jail in ("/srv/h-ftp.yaml", "/srv/h-plain.yaml"):
        bed.run(["jailmgr", "apply", jail])
    for unit in ("jail-ftp.service", "jail-ftpplain.service"):
        verify = bed.run(["systemd-analyze", "verify", f"/etc/systemd/system/{unit}"], check=False)
        assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stderr
    launched, plain = check_doc(bed, "ftp"), check_doc(bed, "ftpplain")
    print(f"\nexposure: launcher {launched['exposure']}, systemd's directives alone {plain['exposure']}")
    assert plain["exposure"] <= 2.5
    assert launched["exposure"] <= 3.0
    for doc in (launched, plain):
        assert doc["findings"] == [] and doc["rc"] == 0, doc["findings"]
        assert doc["confinement"]["no_new_privs"] and doc["confinement"]["seccomp"]
        assert set(doc["confinement"]["capabilities"]) == {"setgid", "setuid", "net_bind_service", "sys_chroot"}
        assert doc["confinement"]["proc_sys"] in ("read-only", "absent")
    out = bed.run(["jailmgr", "check", "ftp"]).stdout
    assert out.startswith("ftp: exposure ")
    # The launcher's serves FTP with every default on.
    assert ftp_session()[1].startswith("230")


def test_plan_says_when_a_change_makes_the_score_worse(bed: Testbed) -> None:
    text = bed.path("/srv/h-plain.yaml").read_text()
    worse = text.replace("capabilities: [CAP_NET_BIND_SERVICE,", "capabilities: [CAP_SYS_ADMIN, CAP_NET_BIND_SERVICE,")
    assert worse != text
    bed.path("/srv/h-worse.yaml").write_text(worse)
    proc = bed.run(["jailmgr", "plan", "/srv/h-worse.yaml"])
    assert "ftpplain: the change makes the exposure score worse" in proc.stderr


def test_check_reports_what_was_planted_in_the_tree(bed: Testbed) -> None:
    root = bed.path("/var/lib/jailmgr/jails/ftpplain/root")
    (root / "srv/ftp/stray").write_text("not from the jail file\n")
    (root / "etc/open").write_text("x")
    os.chmod(root / "etc/open", 0o666)
    (root / "etc/suid").write_text("x")
    os.chmod(root / "etc/suid", 0o4755)
    doc = check_doc(bed, "ftpplain")
    text = "\n".join(doc["findings"])
    assert doc["rc"] == 1
    assert "/srv/ftp/stray: not put there by jailmgr" in text
    assert "/etc/open: world-writable" in text
    assert "/etc/suid: set-user/group-ID file in the tree" in text
    for name in ("srv/ftp/stray", "etc/open", "etc/suid"):
        (root / name).unlink()
    for name in ("ftp", "ftpplain"):
        bed.run(["jailmgr", "destroy", name])
