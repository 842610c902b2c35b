"""The jail is the adversary: attacks from inside running jails, on a real systemd.

A static attack program (attack.c, built here) is placed in each jail's tree
and runs as its program, as root of the jail, in the three shapes a jail can
take: under the launcher (PID namespace), with systemd's directives alone
(native: no PID namespace, a user of its own) and with a user namespace.
Each test asserts the negative: the host unchanged, nothing gained, nothing
outside reached, no traceback.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import subprocess
import tarfile
import termios
import time
from pathlib import Path

import pytest

from tests.integration.test_adversarial import host_fingerprint, plant_canaries
from tests.testbed import Testbed

ATTACK_SRC = Path(__file__).with_name("attack.c")
ATTACK = "/usr/local/bin/attack"

COMMON_TREE = """\
tree:
  files: [{path: /attack, from: /usr/local/bin/attack, mode: "0755"}]
  users: [nobody]
  dirs: [{path: /data, writable: true, owner: OWNER}]
mounts: [{type: proc}, {type: tmpfs, target: /tmp}]
"""
JAILS = {
    # name: (extra top-level lines, the program's actions, owner of /data)
    "hostile": ("", "caps escapes argv scan-kill userns", "root"),
    "native": ("user: nobody\nnamespaces: {pid: false, uts: false, cgroup: false}\n", "caps scan-kill", "nobody"),
    "userns": ("namespaces: {user: true}\n", "caps scan-kill userns", "root"),
}


def attack_jail(name: str, extra: str, actions: str, owner: str) -> str:
    """A jail file whose program is the attack program doing `actions`, then serving."""
    argv = ", ".join(["/attack", "serve", *actions.split()])
    return f"name: {name}\nrestart: \"no\"\nenable: false\nexec: [{argv}]\n{extra}" + \
        COMMON_TREE.replace("OWNER", owner)


def jail_file(name: str) -> str:
    return attack_jail(name, *JAILS[name])


def apply_serving(bed: Testbed, texts: dict[str, str]) -> None:
    """Write, apply and start each jail file; each program has said "serving"."""
    for name, text in texts.items():
        bed.path(f"/srv/{name}.yaml").write_text(text)
        proc = bed.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "serving" in journal(bed, name, "serving")


def journal(bed: Testbed, name: str, until: str) -> str:
    for _ in range(100):
        text = bed.run(["journalctl", "-u", f"jail-{name}.service", "-o", "cat", "--no-pager"]).stdout
        if until in text:
            return text
        time.sleep(0.1)
    return text


def status(bed: Testbed, name: str) -> dict:
    return json.loads(bed.run(["jailmgr", "--json", "status", name]).stdout)["jails"][0]


def proc_status(bed: Testbed, pid: int) -> dict[str, str]:
    text = bed.run(["cat", f"/proc/{pid}/status"]).stdout
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def unit_pids(bed: Testbed, name: str) -> list[int]:
    """The PIDs in the unit's cgroup (systemd's unified hierarchy, hybrid or not)."""
    for top in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        path = f"{top}/system.slice/jail-{name}.service/cgroup.procs"
        if bed.path(path).exists() or bed.run(["test", "-e", path], check=False).returncode == 0:
            return [int(p) for p in bed.run(["cat", path]).stdout.split()]
    raise AssertionError(f"no cgroup for jail-{name}.service")


@pytest.fixture(scope="module")
def jails(bed: Testbed) -> Testbed:
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(ATTACK)), str(ATTACK_SRC)], check=True)
    plant_canaries(bed)
    apply_serving(bed, {name: jail_file(name) for name in JAILS})
    yield bed
    for name in JAILS:
        bed.run(["jailmgr", "destroy", name], check=False)


# --- 2. no jail reaches a process outside itself --------------------------------------------------

@pytest.mark.parametrize("name", list(JAILS))
def test_a_jail_can_signal_only_its_own_processes(jails: Testbed, name: str) -> None:
    text = journal(jails, name, "signalable:")
    signalable = [int(p) for p in re.findall(r"signalable:([ 0-9]*)", text)[-1].split()]
    # As the jail sees them (its PID namespace, or the host's for the native one).
    own = {int(proc_status(jails, pid)["NSpid"].split()[-1]) for pid in unit_pids(jails, name)}
    assert signalable and set(signalable) <= own, (signalable, own)


def test_a_native_jail_cannot_signal_or_trace_host_or_other_jails(jails: Testbed) -> None:
    journald = int(jails.run(["systemctl", "show", "-P", "MainPID", "systemd-journald.service"]).stdout)
    other = status(jails, "hostile")["program_pid"]
    out = jails.run(["jailmgr", "exec", "native", "--", "/attack", f"kill={journald}", "kill=1",
                     f"kill={other}", f"mem={other}", f"mem={journald}"]).stdout
    assert "ok" not in out.replace("refused", ""), out
    assert out.count("refused") == 5


def test_plan_refuses_what_apply_refuses(jails: Testbed) -> None:
    """A second native jail with the native jail's user: what only the host shows is checked by plan too."""
    jails.path("/srv/clash.yaml").write_text(jail_file("native").replace("name: native", "name: clash"))
    for command in ("plan", "apply"):
        proc = jails.run(["jailmgr", command, "/srv/clash.yaml"], check=False)
        assert proc.returncode == 1 and "also the user of jail native" in proc.stderr, (command, proc.stderr)
    assert not jails.path("/var/lib/jailmgr/jails/clash").exists()


def test_root_without_a_pid_namespace_is_refused_and_nothing_is_made(jails: Testbed) -> None:
    text = jail_file("native").replace("name: native", "name: rootnative").replace("user: nobody\n", "")
    jails.path("/srv/rootnative.yaml").write_text(text)
    proc = jails.run(["jailmgr", "apply", "/srv/rootnative.yaml"], check=False)
    assert proc.returncode == 1 and "must not run as root" in proc.stderr
    assert not jails.path("/etc/systemd/system/jail-rootnative.service").exists()
    assert not jails.path("/var/lib/jailmgr/jails/rootnative").exists()


# --- 1. exec: host code confines the command, exactly as the program --------------------------------

CONFINEMENT = ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
               "Seccomp_filters")


@pytest.mark.parametrize("name", list(JAILS))
def test_exec_gives_the_command_exactly_the_programs_confinement(jails: Testbed, name: str) -> None:
    before = host_fingerprint(jails)
    program = status(jails, name)["program_pid"]
    theirs = proc_status(jails, program)
    # Its ids as the program itself sees them (inside its user namespace), from what it printed.
    seen = journal(jails, name, "Gid:")
    for field in ("Uid", "Gid"):
        theirs[field] = re.search(rf"^{field}:\s*(.*)$", seen, re.M).group(1)
    out = jails.run(["jailmgr", "exec", name, "--", "/attack", "caps", "cgroup", "write=/etc/owned",
                     "write=/attack"]).stdout
    mine = {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines() if ":" in line)}
    for field in CONFINEMENT:
        assert mine[field].split() == theirs[field].split(), field
    assert theirs["NoNewPrivs"] == "1" and int(theirs["Seccomp_filters"]) > 0
    assert "write: ok" not in out  # neither the host's /etc nor the jail's own tree is writable
    assert f"/system.slice/jail-{name}.service" in out or "0::/" in out  # the unit's cgroup
    assert host_fingerprint(jails) == before


def test_exec_runs_nothing_of_the_jails_tree_before_the_command(jails: Testbed) -> None:
    """The old privilege drop ran the tree's setpriv as root: a file planted where it was runs nowhere."""
    root = jails.path("/var/lib/jailmgr/jails/hostile/root")
    setpriv = root / "usr/bin/setpriv"
    jails.run(["sh", "-c", f"cp {ATTACK} {setpriv}.new && mv {setpriv}.new {setpriv}"], check=False)
    out = jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "caps"]).stdout
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    jails.run(["jailmgr", "apply", "/srv/hostile.yaml"])  # the tree repaired


def _under_a_terminal(bed: Testbed, argv: list[str]) -> tuple[str, int]:
    """Run argv in the container with a real terminal as stdin/stdout; what it printed, and what
    input the terminal holds afterwards (what something pushed into the operator's terminal)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(["nsenter", "-t", str(bed.pid), "-a", "--wd=/", *argv], stdin=slave, stdout=slave,
                            stderr=slave, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
    out = b""
    while proc.poll() is None or select.select([master], [], [], 0.2)[0]:
        if select.select([master], [], [], 0.2)[0]:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    pending = int.from_bytes(fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"), "little")
    os.close(master)
    os.close(slave)
    return out.decode(errors="replace"), pending


def test_exec_never_hands_the_operators_terminal_to_the_jail(jails: Testbed) -> None:
    out, pending = _under_a_terminal(jails, ["jailmgr", "exec", "hostile", "--", "/attack", "tiocsti"])
    assert "stdin is /dev/pts/" in out  # a terminal of its own...
    assert pending == 0  # ...and nothing reached the operator's: no keystroke waits to be read
    piped = jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "tiocsti"]).stdout
    assert "tiocsti fd0: refused" in piped and "stdin is pipe:" in piped


def test_nothing_execd_survives_stop(jails: Testbed) -> None:
    command = ["nsenter", "-t", str(jails.pid), "-a", "jailmgr", "exec", "hostile", "--", "/attack", "sleep=600"]
    background = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def joined() -> bool:
            return any("sleep=600" in jails.run(["cat", f"/proc/{p}/cmdline"], check=False).stdout
                       for p in unit_pids(jails, "hostile"))

        for _ in range(50):
            if joined():
                break
            time.sleep(0.1)
        assert joined()
        jails.run(["systemctl", "stop", "jail-hostile.service"])
        assert background.wait(timeout=30) != 0
        left = jails.run(["pgrep", "-f", "attack sleep=600"], check=False).stdout
        assert left == ""
    finally:
        background.kill()
        jails.run(["systemctl", "start", "jail-hostile.service"])
    journal(jails, "hostile", "serving")


# --- 3. bind sources the jail can swap --------------------------------------------------------------

def test_the_jail_cannot_swap_a_writable_dir_and_nothing_is_mounted_from_below_one(jails: Testbed) -> None:
    before = host_fingerprint(jails)
    out = jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "rename=/data:/moved",
                     "symlink=/etc:/data/etc", "symlink=/srv/victim:/data/inner"]).stdout
    assert "rename: refused" in out
    nested = jail_file("hostile").replace("name: hostile", "name: nested").replace(
        "writable: true, owner: root}]", "writable: true, owner: root}, {path: /data/inner, writable: true}]")
    jails.path("/srv/nested.yaml").write_text(nested)
    proc = jails.run(["jailmgr", "apply", "/srv/nested.yaml"], check=False)
    assert proc.returncode == 1 and "is mounted below /data" in proc.stderr
    assert not jails.path("/etc/systemd/system/jail-nested.service").exists()
    jails.run(["systemctl", "restart", "jail-hostile.service"])  # every mount made again
    journal(jails, "hostile", "serving")
    jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "write=/data/inner/planted"])
    assert sorted(os.listdir(jails.path("/srv/victim"))) == ["victim.txt"]
    assert host_fingerprint(jails) == before


@pytest.mark.parametrize("name", list(JAILS))
def test_no_set_id_file_can_be_made_in_a_writable_dir(jails: Testbed, name: str) -> None:
    """A set-user-ID file in a writable dir (or an rw host mount) would be root's to run on the host."""
    out = jails.run(["jailmgr", "exec", name, "--", "/attack", "setid=/data/suid"]).stdout
    assert out.count("refused") == 3, out
    found = jails.run(["find", f"/var/lib/jailmgr/jails/{name}/root/data", "-perm", "/6000"]).stdout
    assert found == ""


# --- 4. no value continues a unit line ---------------------------------------------------------------

def test_unit_values_read_back_exactly_and_a_trailing_backslash_is_refused(jails: Testbed) -> None:
    busybox = jails.path("/srv/bb.tar")
    with tarfile.open(busybox, "w") as tar:
        tar.add(jails.path("/bin/busybox"), "bin/busybox")
    jails.path("/srv/backslash.yaml").write_text(
        'name: backslash\nexec: ["/bin/busybox\\\\", sh]\ntree: {rootfs: bb.tar}\n')
    proc = jails.run(["jailmgr", "apply", "/srv/backslash.yaml"], check=False)
    assert proc.returncode == 1 and "ends with a backslash" in proc.stderr and "Traceback" not in proc.stderr
    assert not jails.path("/etc/systemd/system/jail-backslash.service").exists()
    shown = jails.run(["systemctl", "show", "jail-hostile.service", "-p", "ProtectKernelTunables", "-p",
                       "NoNewPrivileges", "-p", "RestrictNamespaces", "-p", "SystemCallArchitectures", "-p",
                       "SyslogIdentifier", "-p", "ProtectProc"]).stdout.split()
    assert {"ProtectKernelTunables=yes", "NoNewPrivileges=yes", "SystemCallArchitectures=native",
            "SyslogIdentifier=attack", "ProtectProc=invisible"} <= set(shown)


# --- 5. records are data -------------------------------------------------------------------------------

def test_a_hand_edited_record_cannot_aim_destroy_elsewhere(jails: Testbed) -> None:
    record = jails.path("/var/lib/jailmgr/state/native.json")
    original = record.read_text()
    try:
        for change in ({"root": "/srv/victim"}, {"unit": "systemd-journald.service"},
                       {"extra_units": ["ssh.service"]}):
            record.write_text(json.dumps({**json.loads(original), **change}))
            proc = jails.run(["jailmgr", "destroy", "native"], check=False)
            assert proc.returncode == 1 and "nothing was removed" in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr
        assert sorted(os.listdir(jails.path("/srv/victim"))) == ["victim.txt"]
        assert jails.run(["systemctl", "is-active", "systemd-journald.service"]).stdout.strip() == "active"
        assert jails.run(["systemctl", "is-active", "jail-native.service"]).stdout.strip() == "active"
        bad_name = jails.run(["jailmgr", "destroy", "../state/native"], check=False)
        assert bad_name.returncode == 1 and "not a jail name" in bad_name.stderr
    finally:
        record.write_text(original)


# --- 6. a tree the jail made can't crash check or destroy --------------------------------------------

def test_a_deep_chain_in_a_writable_dir_neither_crashes_check_nor_stops_destroy(jails: Testbed) -> None:
    jails.path("/srv/deep.yaml").write_text(jail_file("hostile").replace("name: hostile", "name: deep"))
    jails.run(["jailmgr", "apply", "/srv/deep.yaml"])
    out = jails.run(["jailmgr", "exec", "deep", "--", "/attack", "deep=/data:6000"]).stdout
    assert "deep: ok" in out
    check = jails.run(["jailmgr", "check", "deep"], check=False)
    assert "Traceback" not in check.stderr and "not looked into" in check.stdout
    destroy = jails.run(["jailmgr", "destroy", "deep"], check=False)
    assert destroy.returncode == 0 and "Traceback" not in destroy.stderr, destroy.stderr
    assert not jails.path("/var/lib/jailmgr/jails/deep").exists()


# --- 7. hostile rootfs archives -----------------------------------------------------------------------

def _sparse_archive(bed: Testbed, name: str, size: str) -> None:
    bed.run(["sh", "-c", f"cd /srv && rm -f sparse.img && truncate -s {size} sparse.img && "
                         f"tar --sparse -czf {name} sparse.img && rm sparse.img"])


def test_hostile_archives_are_refused_clearly_with_bounded_memory(jails: Testbed) -> None:
    before = host_fingerprint(jails)
    with tarfile.open(jails.path("/srv/dup.tar"), "w") as tar:
        for kind in (tarfile.REGTYPE, tarfile.DIRTYPE):
            info = tarfile.TarInfo("etc/motd")
            info.type = kind
            tar.addfile(info)
    _sparse_archive(jails, "bomb.tar.gz", "8G")
    for archive, message in (("dup.tar", "two members of this name"), ("bomb.tar.gz", "would take more than")):
        jails.path("/srv/rootfs.yaml").write_text(f"name: rootfs\nexec: [/sparse.img]\ntree: {{rootfs: {archive}}}\n")
        proc = jails.run(["jailmgr", "apply", "/srv/rootfs.yaml"], check=False)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert not jails.path("/var/lib/jailmgr/jails/rootfs").exists()
    # An archive under the cap unpacks streaming: 512 MiB of file data in an address space of 400 MiB.
    _sparse_archive(jails, "big.tar.gz", "512M")
    jails.path("/srv/rootfs.yaml").write_text(
        "name: rootfs\nrestart: \"no\"\nenable: false\nexec: [/sparse.img]\n"
        "tree: {rootfs: big.tar.gz, rootfs_max_size: 1G}\n")
    proc = jails.run(["prlimit", "--as=419430400", "jailmgr", "apply", "/srv/rootfs.yaml"], check=False)
    assert "unpacked 1 entries" in proc.stdout and "MemoryError" not in proc.stderr, proc.stdout + proc.stderr
    assert jails.path("/var/lib/jailmgr/jails/rootfs/root/sparse.img").stat().st_size == 512 << 20
    jails.run(["jailmgr", "destroy", "rootfs"], check=False)
    assert host_fingerprint(jails) == before


# --- 8. text from the jail reaches the terminal as text ------------------------------------------------

def test_the_jails_text_is_shown_escaped(jails: Testbed) -> None:
    journal(jails, "hostile", "RED")
    logs = jails.run(["jailmgr", "logs", "hostile", "-n", "50"]).stdout
    assert "\x1b" not in logs and "\x07" not in logs and "\\x1b]0;owned title\\x07" in logs
    assert not any(line.startswith("jailmgr: ftp: destroyed") for line in logs.splitlines())
    shown = jails.run(["jailmgr", "status", "hostile"]).stdout  # the program renamed itself with an escape
    assert "\x1b" not in shown
    jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "escfile=/data"])
    jails.run(["chmod", "4755", "/var/lib/jailmgr/jails/hostile/root/data/evil\x1b[2Jname"])
    check = jails.run(["jailmgr", "check", "hostile"], check=False)
    assert "\x1b" not in check.stdout and "evil\\x1b[2Jname: set-user/group-ID file" in check.stdout


# --- 9. the program is found by the process tree, not its argv ----------------------------------------

def test_a_program_disguised_as_the_launcher_is_still_found(jails: Testbed) -> None:
    doc = status(jails, "hostile")
    program = doc["program_pid"]
    assert program and "bwrap" in jails.run(["cat", f"/proc/{program}/cmdline"]).stdout  # the disguise
    assert proc_status(jails, program)["NSpid"].split()[-1] == "2"  # bwrap's init is 1, the program 2
    assert "CapEff:\t0000000000000000" in jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "caps"]).stdout


# --- 10. no nested user namespaces --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hostile", "userns"])
def test_no_user_namespace_inside_a_jail(jails: Testbed, name: str) -> None:
    text = journal(jails, name, "clone user:")
    assert "unshare user: refused" in text and "clone user: refused" in text
    out = jails.run(["jailmgr", "exec", name, "--", "/attack", "userns"]).stdout
    assert out.count("refused") == 2


# --- 11. templates are sandboxed ---------------------------------------------------------------------

def test_a_template_cannot_reach_python(jails: Testbed) -> None:
    jails.path("/srv/tpl.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    jails.path("/srv/tpl.yaml").write_text(
        "name: tpl\nexec: [/attack]\ntree:\n  files:\n    - {path: /attack, from: /usr/local/bin/attack}\n"
        "    - {path: /etc/x, template: tpl.j2}\n")
    proc = jails.run(["jailmgr", "apply", "/srv/tpl.yaml"], check=False)
    assert proc.returncode == 1 and "unsafe" in proc.stderr and "Traceback" not in proc.stderr
    assert not jails.path("/var/lib/jailmgr/jails/tpl").exists()


# --- issue 21, classes 4, 5 and 9: exec as the program ------------------------------------------------
# (4) the workdir is looked up only after the drop, from the jail's root, never through a magic link;
# (5) exec ends when its command exits and lets go of the pty and pipes the jail could still hold;
# (9) the program's seccomp filters are installed in its order.

WORKDIR_JAILS = {
    # name: (the shape's namespaces, a user of its own); no PID namespace: the jail's /proc shows the host's PID 1
    "wdnative": ("{pid: false, uts: false, cgroup: false}", "games"),
    "wdnopid": ("{pid: false}", "man"),
}


def workdir_jail_file(name: str) -> str:
    """A jail with a directory its program may rename and replace (its parent is writable).  validate now
    refuses it as the workdir; the fixture records it as one, as a jailmgr before that refusal did."""
    namespaces, user = WORKDIR_JAILS[name]
    return (f"name: {name}\nrestart: \"no\"\nenable: false\nexec: [/attack, serve, seccomp2]\nworkdir: /data\n"
            f"user: {user}\nnamespaces: {namespaces}\n"
            f"tree:\n  files: [{{path: /attack, from: {ATTACK}, mode: \"0755\"}}]\n  users: [{user}]\n"
            f"  dirs: [{{path: /data, writable: true, owner: {user}}}, {{path: /data/work, owner: {user}}}]\n"
            "mounts: [{type: proc}, {type: tmpfs, target: /tmp}]\n")


@pytest.fixture(scope="module")
def exec_jails(jails: Testbed) -> Testbed:
    for name in WORKDIR_JAILS:
        jails.path(f"/srv/{name}.yaml").write_text(workdir_jail_file(name))
        proc = jails.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "serving" in journal(jails, name, "serving")
        record = jails.path(f"/var/lib/jailmgr/state/{name}.json")
        doc = json.loads(record.read_text())
        doc["workdir"] = "/data/work"  # exec's own defence, for a record an older jailmgr wrote
        record.write_text(json.dumps(doc))
    yield jails
    for name in WORKDIR_JAILS:
        jails.run(["jailmgr", "destroy", name], check=False)


def _jail_data(bed: Testbed, name: str) -> Path:
    return bed.path(f"/var/lib/jailmgr/jails/{name}/root/data")


def _host_has(bed: Testbed, path: str) -> bool:
    return bed.run(["test", "-e", path], check=False).returncode == 0


@pytest.mark.parametrize("name", list(WORKDIR_JAILS))
def test_exec_enters_the_workdir_as_the_program_and_never_out_of_the_jail(exec_jails: Testbed, name: str) -> None:
    bed = exec_jails
    before = host_fingerprint(bed)
    data = _jail_data(bed, name)
    program = status(bed, name)["program_pid"]
    # The jail can swap its workdir: it owns the directory above.
    out = bed.run(["jailmgr", "exec", name, "--", "/attack", "cwd", "rename=/data/work:/data/old",
                   "symlink=/proc/1/root:/data/work"]).stdout
    assert "cwd: /data/work" in out and "rename: ok" in out and "symlink: ok" in out, out
    try:
        for target in ("/proc/1/root", "/proc/1/cwd", f"/proc/{program}/root", "/proc/self/root",
                       "/proc/self/cwd", "/proc/self/fd/3", "/proc/self/fd/4"):
            (data / "work").unlink()
            (data / "work").symlink_to(target)
            proc = bed.run(["jailmgr", "exec", name, "--", "/attack", "cwd", "write=tmp/owned"], check=False)
            assert "cwd:" not in proc.stdout and "write:" not in proc.stdout, (target, proc.stdout)  # nothing ran
            assert proc.returncode != 0 and "nothing was run" in proc.stderr, (target, proc.stderr)
            assert "working directory" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
            assert not _host_has(bed, "/tmp/owned"), target
        # A symlink that climbs out by ".." stays in the jail's root: the command starts at its "/".
        (data / "work").unlink()
        (data / "work").symlink_to("../../../../../..")
        out = bed.run(["jailmgr", "exec", name, "--", "/attack", "cwd", "write=tmp/owned"]).stdout
        assert "cwd: /\n" in out and "write: ok" in out, out  # the jail's own /tmp
    finally:
        (data / "work").unlink()
        (data / "old").rename(data / "work")
    assert not _host_has(bed, "/tmp/owned")
    assert host_fingerprint(bed) == before


def _holdio_reset(data: Path) -> None:
    for leftover in ("go", "holdio.log", "holdio.ended"):
        (data / leftover).unlink(missing_ok=True)


def _holdio_end(data: Path) -> str:
    """Let the command's child go on (it waits for this), and what it logged once it ended."""
    (data / "go").touch()
    for _ in range(300):
        if (data / "holdio.ended").exists():
            break
        time.sleep(0.1)
    log = (data / "holdio.log").read_text()
    assert (data / "holdio.ended").exists(), log
    return log


def test_exec_lets_go_of_the_pty_when_the_command_exits(exec_jails: Testbed) -> None:
    bed, data = exec_jails, _jail_data(exec_jails, "wdnative")
    _holdio_reset(data)
    master, slave = pty.openpty()
    proc = subprocess.Popen(["nsenter", "-t", str(bed.pid), "-a", "--wd=/", "jailmgr", "exec", "wdnative", "--",
                             "/attack", "holdio=/data"], stdin=slave, stdout=slave, stderr=slave,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
    out = b""
    while proc.poll() is None:
        if select.select([master], [], [], 0.2)[0]:
            out += os.read(master, 65536)
    # exec returned while the child the jail left behind still runs...
    ended_before_return = (data / "holdio.ended").exists()
    os.write(master, b"typed-after\n")  # ...and what the operator types now is for the operator's shell
    log = _holdio_end(data)
    while select.select([master], [], [], 0)[0]:
        out += os.read(master, 65536)
    os.close(master)
    os.close(slave)
    assert not ended_before_return, log
    assert proc.returncode == 0
    assert b"child: after-go" not in out and "after-go write: refused" in log, (out, log)
    assert "typed-after" not in log


def test_exec_lets_go_of_the_pipes_when_the_command_exits(exec_jails: Testbed) -> None:
    bed, data = exec_jails, _jail_data(exec_jails, "wdnative")
    _holdio_reset(data)
    proc = bed.run(["jailmgr", "exec", "wdnative", "--", "/attack", "holdio=/data"], input="typed-before\n")
    ended_before_return = (data / "holdio.ended").exists()
    log = _holdio_end(data)
    assert not ended_before_return, log
    assert "child: after-go" not in proc.stdout and "after-go write: refused (Broken pipe)" in log, log


@pytest.mark.parametrize("name", list(WORKDIR_JAILS))
def test_exec_installs_the_programs_filters_in_its_order(exec_jails: Testbed, name: str) -> None:
    """The program refused getpriority with EPERM, then with EACCES: the newer filter's errno wins."""
    text = journal(exec_jails, name, "getpriority:")
    assert "seccomp2: ok" in text
    theirs = re.findall(r"^getpriority: .*$", text, re.M)[-1]
    assert theirs == "getpriority: refused (Permission denied)"  # EACCES
    out = exec_jails.run(["jailmgr", "exec", name, "--", "/attack", "getprio"]).stdout
    assert out.strip() == theirs
# --- issue 21, classes 7 and 8: bytes from the jail are data; work the jail sizes is linear ----------
# A program that renames itself (prctl(PR_SET_NAME) and its argv) to raw bytes, 0xff and an escape among
# them, and holds 16,000 deleted mappings with long names, in each of the three shapes: status (of every
# jail), status --json, check, exec and stale must still work, and show the name escaped.

RAW_NAME = b"\xff\x1b[2Jevil\xfe"
MAPPINGS = 16000
BYTES_JAILS = {"bytes-hostile": "hostile", "bytes-native": "native", "bytes-userns": "userns"}


def bytes_jail_file(name: str, shape: str) -> str:
    # After the shape's own actions ("argv" renames the launcher one to bwrap).
    text = jail_file(shape).replace(f"name: {shape}", f"name: {name}").replace(
        f"{JAILS[shape][1].split()[-1]}]\n", f"{JAILS[shape][1].split()[-1]}, comm={RAW_NAME.hex()}, "
                                             f"mapdel=/tmp:{MAPPINGS}]\n", 1)
    # A native jail's uid must be its own: not the module's native jail's nobody.
    return text.replace("nobody", "daemon") if shape == "native" else text


def _logged(bed: Testbed, name: str, text: str) -> bool:
    """The unit logged `text` (its journal holds bytes that are not UTF-8: read as bytes, grep -a)."""
    for _ in range(100):
        if bed.run(["sh", "-c", f"journalctl -u jail-{name}.service -o cat --no-pager | grep -aqF '{text}'"],
                   check=False).returncode == 0:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def hostile_bytes(jails: Testbed) -> Testbed:
    for name, shape in BYTES_JAILS.items():
        jails.path(f"/srv/{name}.yaml").write_text(bytes_jail_file(name, shape))
        proc = jails.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _logged(jails, name, f"mapdel: {MAPPINGS} of {MAPPINGS}")
    yield jails
    for name in BYTES_JAILS:
        jails.run(["jailmgr", "destroy", name], check=False)


def _clean(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr and "UnicodeDecodeError" not in proc.stderr, proc.stderr[-3000:]
    assert "\x1b" not in proc.stdout + proc.stderr
    return proc.stdout


def test_a_program_named_with_raw_bytes_is_named_escaped(hostile_bytes: Testbed) -> None:
    bed = hostile_bytes
    program = status(bed, "bytes-native")["program_pid"]
    raw = bed.run(["python3", "-c", f"print(open('/proc/{program}/status', 'rb').read().hex())"]).stdout
    assert RAW_NAME.hex() in raw  # the attack took
    for name in BYTES_JAILS:
        assert RAW_NAME.hex() in bed.path(f"/srv/{name}.yaml").read_text()
    shown = _clean(bed.run(["jailmgr", "status"]))  # every jail, these among them
    assert all(f"{name}: active (running)" in shown for name in BYTES_JAILS), shown
    assert "\\x1b[2Jevil" in shown  # the native program's argv, in its namespaces' COMMAND column
    doc = json.loads(_clean(bed.run(["jailmgr", "--json", "status", *BYTES_JAILS])))
    assert [j["name"] for j in doc["jails"]] == list(BYTES_JAILS) and all(j["program_pid"] for j in doc["jails"])
    assert any("\ufffd\x1b[2Jevil\ufffd" in ns["command"] for j in doc["jails"] for ns in j["namespaces"])


def test_journal_lines_in_raw_bytes_are_text(hostile_bytes: Testbed) -> None:
    logs = _clean(hostile_bytes.run(["jailmgr", "logs", "bytes-native", "-n", "50"]))
    assert "named: \ufffd\\x1b[2Jevil\ufffd" in logs
    doc = json.loads(_clean(hostile_bytes.run(["jailmgr", "--json", "logs", "bytes-native", "-n", "50"])))
    assert "named: \ufffd\x1b[2Jevil\ufffd" in [e["message"] for e in doc["entries"]]


@pytest.mark.parametrize("name", list(BYTES_JAILS))
def test_check_and_exec_work_on_a_jail_that_names_itself_with_raw_bytes(hostile_bytes: Testbed, name: str) -> None:
    check = hostile_bytes.run(["jailmgr", "check", name], check=False)
    out = _clean(check)
    assert check.returncode == 1 and "program PID" in out and "no_new_privs yes" in out
    # 16,000 replaced files: twenty named, the rest counted.
    assert out.count("the program still maps /") == 20 and f"and {MAPPINGS - 20} more" in out
    exec_ = hostile_bytes.run(["jailmgr", "exec", name, "--", "/attack", "caps"], check=False)
    assert exec_.returncode == 0 and "NoNewPrivs:\t1" in _clean(exec_)


def test_stale_names_a_jail_with_16000_deleted_mappings(hostile_bytes: Testbed) -> None:
    out = _clean(hostile_bytes.run(["jailmgr", "stale"]))
    for name in BYTES_JAILS:
        line = next(line for line in out.splitlines() if line.startswith(f"{name}: runs "))
        assert f"and {MAPPINGS - 20} more, replaced since it started" in line and len(line) < 6000
    doc = json.loads(_clean(hostile_bytes.run(["jailmgr", "--json", "stale", *BYTES_JAILS])))
    assert {j["name"]: len(j["files"]) for j in doc["jails"]} == dict.fromkeys(BYTES_JAILS, MAPPINGS)


def test_a_file_name_that_is_not_utf8_is_shown_as_its_bytes(hostile_bytes: Testbed) -> None:
    """os.scandir hands such a name over with a lone surrogate: it was printed (UnicodeEncodeError)."""
    made = hostile_bytes.run(["jailmgr", "exec", "bytes-native", "--", "/attack", "rawfile=/data"]).stdout
    assert "rawfile: ok" in made
    out = _clean(hostile_bytes.run(["jailmgr", "check", "bytes-native"], check=False))
    assert "/data/raw\\xff\\x1b[2Jname: world-writable" in out
    doc = json.loads(_clean(hostile_bytes.run(["jailmgr", "--json", "check", "bytes-native"], check=False)))
    assert "/data/raw\ufffd\x1b[2Jname: world-writable" in doc["jails"][0]["findings"]


# --- 11. the launcher runs nothing of the jail before the drop; what the jail tells systemd is data ------

PRELOAD_C = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
__attribute__((constructor)) static void tell(void) {
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    syscall(SYS_capget, &head, data);
    fprintf(stderr, "PRELOAD uid=%d euid=%d capeff=%08x%08x\n", (int)getuid(), (int)geteuid(),
            data[1].effective, data[0].effective);
}
"""


@pytest.mark.parametrize("shape", ["launcher", "native"])
def test_a_rootfs_ld_so_preload_never_runs_with_privilege(jails: Testbed, shape: str, tmp_path: Path) -> None:
    """A rootfs archive's /etc/ld.so.preload is read by every dynamic program of the tree: the old
    launcher's setpriv loaded it as root with capabilities; now nothing dynamic runs before the drop."""
    (tmp_path / "preload.c").write_text(PRELOAD_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(tmp_path / "preload.so"),
                    str(tmp_path / "preload.c")], check=True)
    (tmp_path / "ld.so.preload").write_text("/preload.so\n")
    name, user = f"preload-{shape}", "nobody" if shape == "launcher" else "sys"
    with tarfile.open(jails.path(f"/srv/{name}.tar"), "w") as tar:
        tar.add(tmp_path / "preload.so", "preload.so")
        tar.add(tmp_path / "ld.so.preload", "etc/ld.so.preload")
    extra = "namespaces: {pid: false, uts: false, cgroup: false}\n" if shape == "native" else ""
    jails.path(f"/srv/{name}.yaml").write_text(
        f"name: {name}\nrestart: \"no\"\nenable: false\nuser: {user}\n{extra}exec: [/usr/bin/sleep, infinity]\n"
        f"tree: {{rootfs: {name}.tar, binaries: [/usr/bin/sleep], users: [{user}]}}\n")
    try:
        proc = jails.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        uid = int(jails.run(["id", "-u", user]).stdout)
        text = journal(jails, name, "PRELOAD")
        seen = re.findall(r"PRELOAD uid=(\d+) euid=(\d+) capeff=([0-9a-f]+)", text)
        assert seen, text  # the preload is real: the program itself loads it
        assert all((int(u), int(e), cap) == (uid, uid, "0" * 16) for u, e, cap in seen), seen
    finally:
        jails.run(["jailmgr", "destroy", name], check=False)


def test_a_jails_notify_messages_cannot_move_its_main_pid_or_pass_descriptors(jails: Testbed) -> None:
    """Root in a launched jail speaks sd_notify: MAINPID= would aim systemd's stop at a host process."""
    jails.run(["systemd-run", "--unit=victim", "--", "sleep", "1000"])
    try:
        victim = int(jails.run(["systemctl", "show", "-P", "MainPID", "victim.service"]).stdout)
        text = jail_file("hostile").replace("name: hostile", "name: notifier").replace(
            "exec: [/attack, serve,", f"ready: notify\nexec: [/attack, serve, 'notify=MAINPID={victim};READY=1',"
            " 'notify=MAINPID=1;STATUS=from the jail',")
        jails.path("/srv/notifier.yaml").write_text(text)
        proc = jails.run(["jailmgr", "apply", "/srv/notifier.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr  # READY=1 was passed on
        props = jails.run(["systemctl", "show", "-p", "MainPID", "-p", "StatusText", "jail-notifier.service"]).stdout
        main = int(re.search(r"MainPID=(\d+)", props).group(1))
        assert main not in (victim, 1)
        assert "jailmgr-init" in jails.run(["cat", f"/proc/{main}/comm"]).stdout
        assert "StatusText=from the jail" in props
        jails.run(["jailmgr", "destroy", "notifier"])
        assert jails.run(["systemctl", "is-active", "victim.service"], check=False).stdout.strip() == "active"
    finally:
        jails.run(["systemctl", "stop", "victim.service"], check=False)
        jails.run(["jailmgr", "destroy", "notifier"], check=False)


# --- issue 21: nothing root resolves passes through what a jail can write; fingerprints before the start -

def _refused(bed: Testbed, name: str, text: str, reason: str) -> None:
    """apply refuses the jail file with `reason`, and makes nothing for it on the host."""
    bed.path(f"/srv/{name}.yaml").write_text(text)
    proc = bed.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
    assert proc.returncode == 1 and reason in proc.stderr, proc.stdout + proc.stderr
    assert not bed.path(f"/etc/systemd/system/jail-{name}.service").exists()
    assert not bed.path(f"/var/lib/jailmgr/jails/{name}").exists()
    assert not bed.path(f"/var/lib/jailmgr/state/{name}.json").exists()


def _workdir_jail(name: str, shape: str, workdir: str) -> str:
    """A jail of this shape (with the user proxy: not native's nobody, nor the exec jails' games and man)
    whose workdir is a dir of its tree."""
    text = jail_file(shape).replace(f"name: {shape}", f"name: {name}") + f"workdir: {workdir}\n"
    if workdir not in ("/", "/data"):
        text = text.replace("  dirs: [", f"  dirs: [{{path: {workdir}}}, ")
    return text.replace("user: nobody", "user: proxy").replace("owner: nobody", "owner: proxy").replace(
        "users: [nobody]", "users: [proxy]")


@pytest.mark.parametrize("shape", ["hostile", "native"])
def test_a_workdir_below_a_writable_dir_is_refused_and_the_writable_dir_itself_cant_be_swapped(
        jails: Testbed, shape: str) -> None:
    """(1) The launcher's --chdir and systemd's WorkingDirectory= resolve the workdir as root at each start:
    below /data the jail could make it /proc/self/fd/N (the host's /proc) or /proc/1/root."""
    name = f"wd-{shape}"
    _refused(jails, name, _workdir_jail(name, shape, "/data/work"), "workdir: /data/work lies below /data")
    _refused(jails, name, _workdir_jail(name, shape, "/proc/1/root"), "workdir: /proc/1/root lies in /proc")
    # The writable dir itself is fine: a mount point, which the jail can't rename or replace.
    jails.path(f"/srv/{name}.yaml").write_text(_workdir_jail(name, shape, "/data"))
    try:
        proc = jails.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = jails.run(["jailmgr", "exec", name, "--", "/attack", "rename=/data:/moved",
                         "symlink=/proc/self/fd/3:/data/work", "symlink=/proc/1/root:/data/root"]).stdout
        assert "rename: refused" in out, out
        jails.run(["systemctl", "restart", f"jail-{name}.service"])
        journal(jails, name, "serving")
        pid = status(jails, name)["program_pid"]
        where = ["stat", "-L", "-c", "%d:%i"]
        cwd = jails.run([*where, f"/proc/{pid}/cwd"]).stdout
        assert cwd == jails.run([*where, f"/var/lib/jailmgr/jails/{name}/root/data"]).stdout
    finally:
        jails.run(["jailmgr", "destroy", name], check=False)


def test_a_mount_source_below_an_rw_source_is_refused_and_nothing_is_made(jails: Testbed) -> None:
    """(2) With /srv/site rw at /site, the jail could make /site/conf a link to ../../etc: root binds the
    host's /etc at /conf at the next start (bwrap's --ro-bind and systemd's BindReadOnlyPaths= alike)."""
    jails.run(["mkdir", "-p", "/srv/site-x/conf"])
    for shape in ("hostile", "native"):
        name = f"overlap-{shape}"
        text = _workdir_jail(name, shape, "/").replace(
            "mounts: [", "mounts: [{source: /srv/site-x, target: /site, mode: rw}, "
            "{source: /srv/site-x/conf, target: /conf}, ")
        _refused(jails, name, text, "mounts[1].source: /srv/site-x/conf lies below /srv/site-x")
        assert os.listdir(jails.path("/srv/site-x")) == ["conf"]


def test_a_mount_source_below_another_jails_writable_dir_is_refused_at_apply(jails: Testbed) -> None:
    """(2) Across jails: only the host shows it (the records and the jail files of one apply)."""
    before = host_fingerprint(jails)
    out = jails.run(["jailmgr", "exec", "hostile", "--", "/attack", "symlink=../../../../../../etc:/data/etc2"]).stdout
    assert "symlink: ok" in out, out
    source = "/var/lib/jailmgr/jails/hostile/root/data/etc2"
    text = _workdir_jail("borrower", "hostile", "/").replace(
        "mounts: [", f"mounts: [{{source: {source}, target: /borrowed}}, ")
    _refused(jails, "borrower", text, "which jail hostile can write")
    # A jail that is not in this apply counts too, and the refusal names the other jail from either side.
    taker = _workdir_jail("taker", "hostile", "/").replace(
        "mounts: [", "mounts: [{source: /var/lib/jailmgr/jails, target: /jails, mode: rw}, ")
    taker += "root: /srv/taker-root\n"
    _refused(jails, "taker", taker, "resolves /var/lib/jailmgr/jails/")
    assert not jails.path("/srv/taker-root").exists()
    assert host_fingerprint(jails) == before


def test_a_declared_file_the_jail_rewrites_at_its_start_is_reported_and_repaired(jails: Testbed) -> None:
    """(6) The tree's fingerprints are taken before the jail starts: a declared file in a writable dir that
    the program rewrites at its first start is drift for plan and status, and the next apply repairs it."""
    name = "seeded"
    text = jail_file("hostile").replace("name: hostile", f"name: {name}").replace(
        "exec: [/attack, serve, ", "exec: [/attack, serve, once=/data/conf.txt, ").replace(
        "files: [", "files: [{path: /data/conf.txt, content: \"declared\\n\"}, ")
    jails.path(f"/srv/{name}.yaml").write_text(text)
    conf = jails.path(f"/var/lib/jailmgr/jails/{name}/root/data/conf.txt")
    try:
        proc = jails.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "once: ok" in journal(jails, name, "serving")
        assert conf.read_text() == "owned\n"  # the jail rewrote it as it started
        planned = jails.run(["jailmgr", "plan", f"/srv/{name}.yaml"]).stdout
        assert "/data/conf.txt" in planned and "nothing to change" not in planned, planned
        assert any("/data/conf.txt" in line for line in status(jails, name)["drift"])
        proc = jails.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)
        assert proc.returncode == 0 and "/data/conf.txt" not in proc.stderr, proc.stdout + proc.stderr
        assert conf.read_text() == "declared\n"
        assert "nothing to change" in jails.run(["jailmgr", "plan", f"/srv/{name}.yaml"]).stdout
    finally:
        jails.run(["jailmgr", "destroy", name], check=False)
