"""`jailmgr check`: what a careful operator would look at in a jail, gathered in one place.

- the unit's exposure score (systemd-analyze security), which judges the
  unit, not what the launcher does after it starts, so also:
- the confinement of the running program, read from /proc: capability
  bounding set, no_new_privs, seccomp, namespaces, writable mounts, /proc/sys;
- the tree: drift from the jail file, world-writable or set-id entries,
  entries jailmgr did not put there, libraries older than the host's.
The tree is only read (lstat, never following a link).
"""

from __future__ import annotations

import os
import stat
from dataclasses import field

from . import paths, procfs, state, systemd
from .quickdata import dataclass
from .safefs import WALK_DEPTH, Tree, TreeError

# systemd creates these inside a RootDirectory= jail: mount points (and /var, the
# parent of PrivateTmp='s /var/tmp), and its base filesystem layout (the /bin and
# /sbin symlinks; /usr too on systemd 257).
SYSTEMD_MOUNT_POINTS = {"/root", "/sys", "/bin", "/sbin", "/usr", "/run/systemd", "/run/systemd/incoming", "/home",
                        "/var", "/var/tmp", "/run/user", "/dev/shm", "/tmp"}


@dataclass
class Confinement:
    """What the kernel says of the running program (never what it says of itself)."""

    pid: int
    capabilities: list[str]
    no_new_privs: bool
    seccomp: bool
    namespaces: dict[str, str | int]  # type -> "host" or the jail's own inode
    writable_mounts: list[str]
    proc_sys: str  # read-only, writable or absent


@dataclass
class Report:
    name: str
    exposure: float | None = None
    confinement: Confinement | None = None
    findings: list[str] = field(default_factory=list)


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def started_at(pid: int) -> float:
    """A process's start, as seconds since the epoch."""
    fields = procfs.stat_fields(pid)
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Mount:
    """One line of /proc/PID/mountinfo: where, its per-mount options, its type."""

    point: str
    options: tuple[str, ...]
    fstype: str


def parse_mountinfo(data: bytes, truncated: bool = False) -> list[Mount]:
    """Mounts, in order; lines that are not mountinfo's shape are skipped.  (The kernel writes a space,
    tab, newline or backslash in a path as octal; any other byte of a name made in the jail is as it is.)"""
    mounts = []
    for line in procfs.lines(data, truncated):
        left, sep, right = line.partition(b" - ")
        parts, tail = left.split(), right.split()
        if not sep or len(parts) < 6 or not tail:
            continue
        mounts.append(Mount(procfs.text(parts[4]), tuple(procfs.text(parts[5]).split(",")),
                            procfs.text(tail[0])))
    return mounts


def _mounts(pid: int) -> tuple[list[Mount], bool] | None:
    try:
        data, truncated = procfs.read(pid, "mountinfo")
    except OSError:
        return None
    return parse_mountinfo(data, truncated), truncated


def _writable_mounts(mounts: list[Mount]) -> list[str]:
    return [f"{m.point} ({m.fstype})" for m in mounts
            if "rw" in m.options and m.fstype not in ("proc", "devtmpfs", "mqueue", "devpts")]


def _proc_sys(pid: int, mounts: list[Mount]) -> str:
    """read-only, absent (ProcSubset=pid hides it), or writable."""
    for mount in reversed(mounts):  # the last mount on a path is the one in force
        if mount.point in ("/proc/sys", "/proc"):
            if mount.options[0] == "ro":
                return "read-only"
            if mount.point == "/proc/sys":
                return "writable"
            return "writable" if os.path.isdir(f"/proc/{pid}/root/proc/sys") else "absent"
    return "absent"


def _template(recorded: state.JailState) -> str:
    """An accept: true jail's template (its main unit is the socket): "" for the others."""
    return next((u for u in recorded.extra_units if systemd.is_template(u)), "")


def confinement(recorded: state.JailState, report: Report) -> None:
    if _template(recorded):
        return  # an instance per connection, none for long: the template's score and the tree are checked
    main = systemd.main_pid(recorded.unit)
    if not main:
        report.findings.append(f"{recorded.unit} is not running: the program's confinement can't be checked")
        return
    seen = procfs.observe(main, recorded.launcher, recorded.launcher_init)
    pid = seen.program_pid or main
    fields = seen.confinement
    mounts, truncated = _mounts(pid) or ([], False)
    conf = report.confinement = Confinement(
        pid=pid, capabilities=procfs.decode_caps(fields.get("CapBnd", "0")),
        no_new_privs=fields.get("NoNewPrivs") == "1", seccomp=fields.get("Seccomp") == "2",
        namespaces={ns.type: ("host" if ns.shared_with_host else ns.inode) for ns in seen.namespaces},
        writable_mounts=_writable_mounts(mounts),
        proc_sys="unknown" if truncated or not mounts else _proc_sys(pid, mounts))
    if truncated:
        report.findings.append(f"the program's mount table is longer than {procfs.LIMITS['mountinfo']} bytes: "
                               "only its start was read")
    if not conf.no_new_privs:
        report.findings.append("the program can gain privileges (NoNewPrivs 0)")
    if not conf.seccomp:
        report.findings.append("the program has no seccomp filter")
    if "sys_admin" in conf.capabilities:
        report.findings.append("the program holds CAP_SYS_ADMIN in its bounding set")
    if conf.proc_sys == "writable":
        report.findings.append("/proc/sys is writable inside the jail")
    for path in recorded.entries:
        if recorded.entries[path].get("kind") == "mountpoint":
            _library_age(recorded, path, pid, report)
    gone = deleted_mappings(pid)
    for path in gone[:SHOWN]:
        report.findings.append(f"the program still maps {path}, replaced or removed since it started "
                               f"(a library upgrade): restart {recorded.unit} to use the new one")
    if len(gone) > SHOWN:
        report.findings.append(f"... and {len(gone) - SHOWN} more files the program maps were replaced or removed")


SHOWN = 20  # the most replaced files named one by one (a jail decides how many it maps)
_DELETED = b" (deleted)"


def parse_deleted(data: bytes, truncated: bool = False) -> list[str]:
    """Files a /proc/PID/maps text maps that are gone from disk (as needrestart looks for them), each once,
    in the order first mapped.  Linear in the text: one pass, a dict for the ones seen."""
    found: dict[bytes, None] = {}
    for line in procfs.lines(data, truncated):
        if not line.endswith(_DELETED):
            continue
        parts = line.split(None, 5)
        if len(parts) == 6:
            found[parts[5][:-len(_DELETED)]] = None
    return [path for path in map(procfs.text, found)
            if path.startswith("/") and not path.startswith(("/memfd:", "/dev/", "/SYSV"))]


def deleted_mappings(pid: int) -> list[str]:
    try:
        data, truncated = procfs.read(pid, "maps")
    except OSError:
        return []
    return parse_deleted(data, truncated)


def stale_files(pids: list[int]) -> list[str]:
    """The replaced files any of `pids` maps, sorted, each once."""
    return sorted({path for pid in pids for path in deleted_mappings(pid)})


def _library_age(recorded: state.JailState, path: str, pid: int, report: Report) -> None:
    """A bound host file changed after the program started: it runs the old one until restarted."""
    origin = os.path.realpath(path) if os.path.exists(path) else path
    try:
        if os.stat(origin).st_mtime > started_at(pid):
            report.findings.append(f"{path}: the host's copy is newer than the running program; "
                                   f"restart {recorded.unit} to use it")
    except OSError:
        pass


def tree(recorded: state.JailState, report: Report) -> None:
    """Findings in the tree on disk, walked read-only from directory fds (safefs.Tree.walk)."""
    writable = recorded.writable_dirs()
    try:
        root = Tree(recorded.root, create=False)
    except TreeError as exc:
        report.findings.append(str(exc))
        return
    with root:
        for inside, st, walked in root.walk():
            if st.st_mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISDIR(st.st_mode):
                report.findings.append(f"{inside}: set-user/group-ID file in the tree")
            in_writable = any(inside.startswith(w + "/") for w in writable)
            if st.st_mode & stat.S_IWOTH and not stat.S_ISLNK(st.st_mode) and inside not in writable:
                report.findings.append(f"{inside}: world-writable")
            unknown = inside not in recorded.entries and inside not in SYSTEMD_MOUNT_POINTS
            if unknown and not recorded.rootfs_sha256 and not in_writable:
                report.findings.append(f"{inside}: not put there by jailmgr")
            if stat.S_ISDIR(st.st_mode) and not walked:
                report.findings.append(f"{inside}: not looked into (deeper than {WALK_DEPTH} levels, "
                                       "a mount point, or unreadable)")


def check(name: str, recorded: state.JailState | None, drift: list[str]) -> Report:
    report = Report(name)
    if recorded is None:
        report.findings.append("not managed by jailmgr")
        return report
    template = _template(recorded)
    if template:  # (systemd-analyze judges services: the instances' unit, read from its file)
        text = paths.read_unit(template)
        report.exposure = systemd.exposure(template.replace("@.", "@check."), text) if text else None
    else:
        report.exposure = systemd.exposure(recorded.unit)
    report.findings += [f"drift: {line}" for line in drift]
    confinement(recorded, report)
    if os.path.isdir(recorded.root):
        tree(recorded, report)
    return report
