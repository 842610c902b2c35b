"""Every namespace real, the program confined, limits set; seen from outside and from inside.

The container's cgroup v1 controllers are read-only, so limits are accepted and
shown by `systemctl show` but not enforced here; enforcement needs a cgroup v2
host (a VM), which these tests can't boot.
"""

from __future__ import annotations

import ftplib
import io
import json
import re
import tarfile
import time

from tests.testbed import Testbed, ftp_session

JAIL = "/srv/ftp-isolated.yaml"
DECLARED_CAPS = {"net_bind_service", "sys_chroot", "setuid", "setgid"}


def status(bed: Testbed, name: str) -> dict:
    return json.loads(bed.run(["jailmgr", "--json", "status", name]).stdout)["jails"][0]


def journal_lines(bed: Testbed, unit: str, until: str) -> list[str]:
    for _ in range(60):
        lines = bed.run(["journalctl", "-u", unit, "-o", "cat", "--no-pager"]).stdout.splitlines()
        if any(until in line for line in lines):
            return lines
        time.sleep(0.1)
    return lines


def test_ftp_jail_every_namespace_real_and_program_confined(bed: Testbed) -> None:
    # The shipped ftp jail, plus ps, cat and tee in its tree to look inside.
    text = bed.path("/usr/share/doc/jailmgr/examples/ftp.yaml").read_text()
    bed.path(JAIL).write_text(text.replace("binaries: [/usr/sbin/vsftpd]",
                                           "binaries: [/usr/sbin/vsftpd, /usr/bin/ps, /usr/bin/cat, /usr/bin/tee]")
                              + "\nenvironment: {GREETING: hello jail}\n")
    bed.run(["jailmgr", "apply", JAIL])
    doc = status(bed, "ftp")
    assert doc["active"] == "active" and doc["launcher"] is True
    spaces = {ns["type"]: ns for ns in doc["namespaces"]}
    for kind in ("mnt", "pid", "uts", "ipc", "cgroup"):
        assert not spaces[kind]["shared_with_host"], kind
        host = bed.run(["stat", "-L", "-c", "%i", f"/proc/1/ns/{kind}"]).stdout.strip()
        assert str(spaces[kind]["inode"]) != host
    assert spaces["net"]["shared_with_host"]  # net: host, as declared
    program = doc["program_pid"]
    assert bed.run(["cat", f"/proc/{program}/comm"]).stdout.strip() == "vsftpd"
    confinement = doc["confinement"]
    bounding = int(confinement["CapBnd"], 16)
    names = ["chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
             "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock",
             "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin"]
    assert {n for bit, n in enumerate(names) if bounding >> bit & 1} == DECLARED_CAPS
    assert bounding >> 21 & 1 == 0  # no CAP_SYS_ADMIN left by the launcher
    assert confinement["NoNewPrivs"] == "1" and confinement["Seccomp"] == "2"
    assert confinement["NSpid"].split()[-1] == "2"  # the init is PID 1, vsftpd its child
    # The jail's own hostname; the host's is unchanged.
    inside = bed.run(["nsenter", f"--target={program}", "--uts", "cat", "/proc/sys/kernel/hostname"])
    assert inside.stdout.strip() == "ftp"
    assert bed.run(["cat", "/proc/sys/kernel/hostname"]).stdout.strip() == "testbed"
    # /proc inside lists only the jail's processes, the init as PID 1.
    ps = bed.run(["jailmgr", "exec", "ftp", "--", "ps", "-e", "-o", "pid=,comm="]).stdout.split("\n")
    procs = dict(line.split() for line in ps if line.strip())
    assert procs["1"] == "jailmgr-init" and procs["2"] == "vsftpd"
    assert set(procs.values()) <= {"jailmgr-init", "vsftpd", "ps"}
    # /proc/sys is read-only even for root in the jail.
    wrote = bed.run(["jailmgr", "exec", "ftp", "--", "tee", "/proc/sys/vm/swappiness"], check=False, input="10\n")
    assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr
    mountinfo = bed.run(["cat", f"/proc/{program}/mountinfo"]).stdout
    assert any(line.split()[4] == "/proc/sys" and line.split()[5].startswith("ro") for line in mountinfo.splitlines())
    # exec gives the command the jail's declared environment, nothing from the host or the process.
    env = bed.run(["jailmgr", "exec", "ftp", "--", "cat", "/proc/self/environ"]).stdout.split("\0")
    assert "GREETING=hello jail" in env and not any(e.startswith(("LD_", "SSH_")) for e in env)
    # exec's exit status is the command's.
    assert bed.run(["jailmgr", "exec", "ftp", "--", "cat", "/nonexistent"], check=False).returncode == 1


def test_limits_are_set_on_the_unit(bed: Testbed) -> None:
    shown = bed.run(["systemctl", "show", "jail-ftp.service", "-p", "MemoryMax", "-p", "MemoryHigh", "-p",
                     "TasksMax", "-p", "CPUQuotaPerSecUSec", "-p", "LimitNOFILE"]).stdout.split()
    assert set(shown) >= {"MemoryMax=268435456", "MemoryHigh=209715200", "TasksMax=64",
                          "CPUQuotaPerSecUSec=500ms", "LimitNOFILE=1024"}
    assert status(bed, "ftp")["limits"]["TasksMax"] == "64"


def test_many_ftp_sessions_in_a_row_keep_the_jail_up(bed: Testbed) -> None:
    before = status(bed, "ftp")["main_pid"]
    bed.path("/srv/ftp-data/file.txt").write_text("payload\n")
    for _ in range(40):
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", 2121, timeout=10)
        ftp.login()
        buf = io.BytesIO()
        ftp.retrbinary("RETR pub/file.txt", buf.write)
        assert buf.getvalue() == b"payload\n"
        ftp.quit()
    assert any(line.startswith("230") for line in ftp_session())
    after = status(bed, "ftp")
    assert after["active"] == "active" and after["main_pid"] == before
    bed.run(["jailmgr", "destroy", "ftp"])


def test_net_none_has_only_loopback(bed: Testbed) -> None:
    bed.path("/srv/netnone.yaml").write_text(
        "name: netnone\nrestart: \"no\"\nenable: false\nnamespaces: {net: none}\n"
        "exec: [/usr/bin/cat, /proc/net/dev]\n"
        "tree: {binaries: [/usr/bin/cat]}\nmounts: [{type: proc}]\n")
    bed.run(["jailmgr", "apply", "/srv/netnone.yaml"])
    lines = journal_lines(bed, "jail-netnone.service", "lo:")
    # /proc/net/dev rows: "  lo: 0 0 ..." (systemd's own lines about the unit don't match)
    interfaces = [m.group(1) for line in lines if (m := re.match(r"\s*([\w.-]+):\s+\d", line))]
    assert interfaces == ["lo"]
    bed.run(["jailmgr", "destroy", "netnone"])


def busybox_rootfs(bed: Testbed) -> None:
    """A tiny root filesystem tarball from Debian's busybox-static, as an operator would make one."""
    with tarfile.open(bed.path("/srv/busybox.tar.gz"), "w:gz") as tar:
        for name in ("bin", "etc", "tmp", "proc", "dev"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(bed.path("/bin/busybox"), "bin/busybox")
        for applet in ("sh", "ps", "sleep", "ls", "hostname", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)


def test_rootfs_shell_as_pid1_sees_only_itself(bed: Testbed) -> None:
    busybox_rootfs(bed)
    bed.path("/srv/shell.yaml").write_text(
        "name: shell\nrestart: \"no\"\nenable: false\n"
        "namespaces: {init: false}\n"
        "exec: [/bin/sh, -c, 'ps; hostname; while :; do sleep 1; done']\n"
        "tree: {rootfs: busybox.tar.gz}\nmounts: [{type: proc}]\n")
    out = bed.run(["jailmgr", "apply", "/srv/shell.yaml"]).stdout
    assert "unpacked" in out
    lines = journal_lines(bed, "jail-shell.service", "shell")
    pids = [line.split()[0] for line in lines if line.strip()[:1].isdigit()]
    assert pids[:1] == ["1"] and any("sh -c" in line for line in lines if line.strip().startswith("1 "))
    assert "shell" in lines  # its hostname
    ps = bed.run(["jailmgr", "exec", "shell", "--", "ps"]).stdout.splitlines()
    assert ps[1].split()[0] == "1" and "sh -c ps; hostname;" in ps[1]
    commands = [line.split(None, 2)[2] for line in ps[1:]]
    assert len(commands) == 3 and commands[1:] == ["sleep 1", "ps"], ps  # nothing of the host
    bed.run(["jailmgr", "destroy", "shell"])


def test_a_jail_without_launcher_namespaces_uses_systemd_alone(bed: Testbed) -> None:
    bed.path("/srv/plain.yaml").write_text(
        "name: plain\nrestart: \"no\"\nenable: false\n"
        "namespaces: {pid: false, uts: false, cgroup: false}\nuser: nobody\n"
        "exec: [/usr/bin/cat, /proc/self/status]\n"
        "tree: {binaries: [/usr/bin/cat], users: [nobody]}\nmounts: [{type: proc}]\n")
    bed.run(["jailmgr", "apply", "/srv/plain.yaml"])
    unit = bed.path("/etc/systemd/system/jail-plain.service").read_text()
    assert "bwrap" not in unit and "RootDirectory=/var/lib/jailmgr/jails/plain/root" in unit
    lines = journal_lines(bed, "jail-plain.service", "Seccomp:")
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    assert fields["CapBnd"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2"
    bed.run(["jailmgr", "destroy", "plain"])


def test_net_private_connects_host_and_jail_over_a_veth_pair(bed: Testbed) -> None:
    text = bed.path("/usr/share/doc/jailmgr/examples/ftp.yaml").read_text()
    text = text.replace("listen_address: 127.0.0.1", "listen_address: 10.231.0.2")
    text += "\nnamespaces: {net: private}\nnetwork: {host: 10.231.0.1/30, jail: 10.231.0.2/30}\n"
    bed.path("/srv/ftp-private.yaml").write_text(text)
    bed.run(["jailmgr", "apply", "/srv/ftp-private.yaml"])
    doc = status(bed, "ftp")
    spaces = {ns["type"]: ns for ns in doc["namespaces"]}
    assert not spaces["net"]["shared_with_host"]
    # A TCP connection from the host to the jail's address, through the veth pair.
    seen = ftp_session(host="10.231.0.2")
    assert seen[1].startswith("230") and "LIST / -> ['pub', 'upload', 'welcome.txt']" in seen
    # Nothing listens on the host's loopback for this jail.
    with_host_lo = ftplib.FTP()
    try:
        with_host_lo.connect("127.0.0.1", 2121, timeout=2)
        raise AssertionError("the private jail answered on the host's loopback")
    except OSError:
        pass
    bed.run(["jailmgr", "destroy", "ftp"])
    links = bed.run(["ip", "-o", "link"]).stdout
    assert "jm" not in links and "jail-ftp" not in bed.run(["ip", "netns", "list"]).stdout


def test_user_namespace_maps_root_to_an_unprivileged_range(bed: Testbed) -> None:
    text = bed.path("/usr/share/doc/jailmgr/examples/ftp.yaml").read_text()
    text = text.replace("/var/lib/ftp-upload", "/var/lib/ftp-upload-userns")
    bed.path("/srv/ftp-userns.yaml").write_text(text + "\nnamespaces: {user: true}\n")
    bed.run(["jailmgr", "apply", "/srv/ftp-userns.yaml"])
    doc = status(bed, "ftp")
    spaces = {ns["type"]: ns for ns in doc["namespaces"]}
    assert not spaces["user"]["shared_with_host"]
    program = doc["program_pid"]
    host_uid = int(bed.run(["awk", "/^Uid/{print $2}", f"/proc/{program}/status"]).stdout)
    assert host_uid >= 1 << 20  # root in the jail is nobody on the host
    assert bed.run(["cat", f"/proc/{program}/uid_map"]).stdout.split() == ["0", str(host_uid), "65536"]
    seen = ftp_session(upload=b"written by the mapped ftp user\n")
    assert seen[1].startswith("230") and seen[-2].startswith("226")
    uploaded = bed.path("/var/lib/ftp-upload-userns/from-client.bin")
    ftp_uid = int(bed.run(["id", "-u", "ftp"]).stdout)
    assert uploaded.stat().st_uid == host_uid + ftp_uid  # the mapped owner
    bed.run(["jailmgr", "destroy", "ftp"])
