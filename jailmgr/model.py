"""The jail file as typed, frozen dataclasses; field metadata drives parsing and the schema."""

from __future__ import annotations

from enum import StrEnum

from .fields import (
    Address,
    Anything,
    Choice,
    Duration,
    Flag,
    Integer,
    ListOf,
    MapOf,
    Mode,
    Multiline,
    Path,
    Percent,
    Record,
    Size,
    Text,
    WordOrRecord,
    spec,
)
from .paths import (  # noqa: F401  (re-exported)
    JOURNAL_DEV_LOG,
    LOCALES,
    LOCALTIME,
    NAME_RE,
    ZONEINFO,
    UnitRole,
    default_root,
    is_jail_name,
    jail_units,
    netns_unit_name,
    unit_name,
)
from .quickdata import dataclass
from .sockets import DEFAULT_MAX_CONNECTIONS, ListenKind, SocketType


class Libraries(StrEnum):
    BIND = "bind"  # host libraries bound read-only
    COPY = "copy"


class MountType(StrEnum):
    BIND = "bind"
    TMPFS = "tmpfs"
    PROC = "proc"


class MountMode(StrEnum):
    RO = "ro"
    RW = "rw"


class Net(StrEnum):
    HOST = "host"
    NONE = "none"  # only lo
    PRIVATE = "private"  # own netns, a veth pair to the host


class Restart(StrEnum):
    NO = "no"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"


# The signals a jail may name for stop and reload: those the launcher's supervisor and bubblewrap
# outlive (launcher/jailmgr-init.c's `forwarded`), so that they reach the program alone.
SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGPWR")
SIGNAL_NUMBERS = {"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGUSR1": 10, "SIGUSR2": 12, "SIGTERM": 15,
                  "SIGWINCH": 28, "SIGPWR": 30}  # Linux's numbers (x86, arm and the other generic ABIs)
ADDRESS_FAMILIES = ("AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET")
TYPE_CHECKING = False  # typing costs milliseconds at startup; it is only needed by checkers
if TYPE_CHECKING:
    from typing import Any

    import yaml

    from .fields import Ctx

USER_RE = r"[a-z_][a-z0-9_-]{0,31}\$?"
HOSTNAME_RE = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
CAPABILITIES = (
    "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_AUDIT_WRITE", "CAP_BLOCK_SUSPEND", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER", "CAP_FSETID", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE",
    "CAP_LINUX_IMMUTABLE", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_MKNOD", "CAP_NET_ADMIN",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_PERFMON", "CAP_SETFCAP",
    "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_CHROOT", "CAP_SYS_MODULE", "CAP_SYS_NICE", "CAP_SYS_PACCT", "CAP_SYS_PTRACE",
    "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
)
# Their numbers: linux/capability.h's order, 0 to 40 (what /proc/PID/status's masks and capset() use).
CAPABILITY_BITS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
SYSCALL_RE = r"~?(@[a-z0-9-]+|[a-z0-9_]+)(:[A-Z0-9]+)?"
ENV_RE = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class FileEntry:
    """A file placed in the jail tree: a template, inline content or a host file."""

    path: str = spec(Path(allow_root=False), "Absolute path inside the jail")
    template: str | None = spec(Text(r"[A-Za-z0-9_./-]+", "a template file name"), "Jinja2 template", None)
    vars: Any = spec(Anything(), "Variables for the template", None)
    content: str | None = spec(Multiline(), "Inline file content", None)
    from_: str | None = spec(Path(allow_root=False), "A host file to copy", None, name="from")
    mode: int = spec(Mode(), "Octal mode string", 0o644)
    owner: str = spec(Text(USER_RE, "a user name"), "Owner (a user of the jail)", "root")
    group: str = spec(Text(USER_RE, "a group name"), "Group", "root")


@dataclass(frozen=True)
class DirEntry:
    """A directory in the jail tree."""

    path: str = spec(Path(allow_root=False), "Absolute path inside the jail")
    mode: int = spec(Mode(), "Octal mode string", 0o755)
    owner: str = spec(Text(USER_RE, "a user name"), "Owner", "root")
    group: str = spec(Text(USER_RE, "a group name"), "Group", "root")
    writable: bool = spec(Flag(), "Writable by the service (the tree is read-only otherwise)", False)


class Device(Text):
    """A /dev node name; a bare YAML ``null`` names the null device."""

    def __init__(self) -> None:
        super().__init__("|".join(DEVICES), "a known device (" + ", ".join(DEVICES) + ")")

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if getattr(node, "tag", "") == "tag:yaml.org,2002:null" and node.value == "null":
            return "null"
        return super().parse(node, ctx, key)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"enum": list(DEVICES)}, {"type": "null"}]}


@dataclass(frozen=True)
class Tree:
    """What the chroot contains, nothing else."""

    binaries: tuple[str, ...] = spec(ListOf(Path(allow_root=False)),
                                     "Host executables, with every shared library they need", ())
    libraries: Libraries = spec(Choice(Libraries), "bind: host libraries mounted read-only; copy: copied",
                                Libraries.BIND)
    files: tuple[FileEntry, ...] = spec(ListOf(Record(FileEntry)), "Files in the tree", ())
    dirs: tuple[DirEntry, ...] = spec(ListOf(Record(DirEntry)), "Directories in the tree", ())
    devices: tuple[str, ...] = spec(ListOf(Device()), "The only nodes in the jail's /dev", ())
    users: tuple[str, ...] = spec(ListOf(Text(USER_RE, "a user name")),
                                  "passwd/group entries taken from the host", ())
    shadow: bool = spec(Flag(), "Also copy the users' shadow entries", False)
    pam: tuple[str, ...] = spec(ListOf(Text(r"[a-z0-9_]{1,64}", "a PAM module name (unix for pam_unix.so)")),
                                "PAM modules the program loads with dlopen (unix, permit, shells, ...): bound "
                                "with their libraries where the program's libpam looks for them, and stacked in "
                                "/etc/pam.d/other (required for auth and account, optional for session and "
                                "password) unless the tree has its own", ())
    packages: tuple[str, ...] = spec(
        ListOf(Text(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?", "a Debian package name")),
        "Debian packages installed on the host whose files the service needs, from dpkg's file lists: programs "
        "and modules with every library they need (by ELF, not Depends), data under /usr/share, configuration "
        "under /etc (a tree.files entry replaces one); all bound read-only, so upgrades reach the jail at its "
        "next start", ())
    rootfs: str | None = spec(Text(r"[^\x00]+", "a tarball path"),
                              "A root filesystem tarball (.tar, .tar.gz, .tar.xz; relative to the jail "
                              "file) unpacked first, safely; files, dirs and users go on top", None)
    rootfs_max_size: int | str = spec(Size(), "The most file data the rootfs tarball may unpack to "
                                      "(sparse files counted whole); larger archives are refused", 2 << 30)


@dataclass(frozen=True)
class Mount:
    """A mount applied by systemd when the service starts."""

    type: MountType = spec(Choice(MountType), "Mount type", MountType.BIND)
    source: str | None = spec(Path(), "Host path (bind)", None)
    target: str | None = spec(Path(allow_root=False), "Path inside the jail", None)
    mode: MountMode = spec(Choice(MountMode), "ro or rw (bind)", MountMode.RO)
    create: bool = spec(Flag(), "Create the host source directory if missing", False)
    size: int | str | None = spec(Size(), "tmpfs size", None)
    owner: str = spec(Text(USER_RE, "a user name"), "Owner of a source directory that create makes", "root")
    group: str | None = spec(Text(USER_RE, "a group name"), "Its group (default: the owner's)", None)


@dataclass(frozen=True)
class Namespaces:
    """Linux namespaces around the service."""

    pid: bool = spec(Flag(), "Own PID namespace", True)
    ipc: bool = spec(Flag(), "Own IPC namespace", True)
    uts: bool = spec(Flag(), "Own UTS namespace (hostname)", True)
    mount: bool = spec(Flag(), "Own mount namespace (always on)", True)
    cgroup: bool = spec(Flag(), "Own cgroup namespace", True)
    user: bool = spec(Flag(), "Map root inside to an unprivileged range outside", False)
    net: Net = spec(Choice(Net), "Network namespace", Net.HOST)
    time: bool = spec(Flag(), "Own time namespace: CLOCK_MONOTONIC and CLOCK_BOOTTIME (the uptime) start at the "
                      "jail's start (the host's can still be read in /proc/PID/timens_offsets); made by "
                      "jailmgr-init on the host's side", False)
    init: bool = spec(Flag(), "With pid: a minimal init is PID 1 and the program its child "
                      "(false: the program itself is PID 1, for a shell or an init)", True)


@dataclass(frozen=True)
class Network:
    """Addresses of the veth pair of `net: private` (address/prefix, one subnet)."""

    host: str = spec(Address("an address/prefix", interface=True), "Host side, e.g. 10.231.0.1/30")
    jail: str = spec(Address("an address/prefix", interface=True), "Jail side, e.g. 10.231.0.2/30")


@dataclass(frozen=True)
class Ready:
    """When a started jail counts as ready: its sd_notify READY=1, or a port that accepts."""

    port: int | None = spec(Integer(1, 65535), "A TCP port that accepts a connection from the host side", None)
    notify: bool = False

    @property
    def word(self) -> str:
        return "notify" if self.notify else f"port {self.port}"


READY_NOTIFY = Ready(notify=True)


@dataclass(frozen=True)
class Limits:
    """cgroup limits through systemd."""

    memory: int | str | None = spec(Size(), "MemoryMax=", None)
    memory_high: int | str | None = spec(Size(), "MemoryHigh=", None)
    cpu: int | None = spec(Percent(), "CPUQuota=", None)
    tasks: int | str | None = spec(Integer(1, 1 << 22, infinity=True), "TasksMax=", None)
    io_weight: int | None = spec(Integer(1, 10000), "IOWeight=", None)
    open_files: int | str | None = spec(Integer(1, 1 << 30, infinity=True), "LimitNOFILE=", None)


@dataclass(frozen=True)
class Socket:
    """A listening socket systemd opens on the host and hands to the program (socket activation)."""

    listen: str = spec(ListenKind(), "ADDRESS:PORT, [IPv6]:PORT, or an absolute unix socket path (made by "
                       "systemd on the host)")
    type: SocketType = spec(Choice(SocketType), "stream (TCP, unix stream) or datagram (UDP, unix datagram)",
                            SocketType.STREAM)


@dataclass(frozen=True)
class Security:
    """Privileges and filters."""

    capabilities: tuple[str, ...] = spec(ListOf(Choice(*CAPABILITIES)), "Capability bounding set", ())
    no_new_privileges: bool = spec(Flag(), "NoNewPrivileges=", True)
    syscall_filter: tuple[str, ...] = spec(ListOf(Text(SYSCALL_RE, "a syscall or @group")),
                                           "SystemCallFilter= entries", ("@system-service",))
    ip_allow: tuple[str, ...] | None = spec(ListOf(Address("an address, prefix or keyword")),
                                            "IPAddressDeny=any plus these (addresses, prefixes, localhost, "
                                            "link-local, multicast, any)", None)
    memory_deny_write_execute: bool = spec(Flag(), "MemoryDenyWriteExecute= (false for JITs)", True)
    address_families: tuple[str, ...] | None = spec(
        ListOf(Choice(*ADDRESS_FAMILIES)), "RestrictAddressFamilies=: the socket families the program may "
        "open ([] for none; default AF_UNIX, AF_INET, AF_INET6, or AF_UNIX alone with net: none); "
        "AF_NETLINK for daemons that read interfaces (dnsmasq)", None)


@dataclass(frozen=True)
class Runtime:
    """What daemons expect of a system as they run, each given from the host, and what each exposes."""

    syslog: bool | None = spec(
        Flag(), "/dev/log is the host journal's syslog socket (" + JOURNAL_DEV_LOG + ", bound read-only): the "
        "program's syslog() lines reach the journal under the jail's unit. Exposes: sending log lines to the "
        "host's journal, which stamps them with the jail's unit, pid and uid (nothing of the journal can be "
        "read). Default true; false when security.address_families leaves out AF_UNIX or a mount already "
        "targets /dev/log", None)
    shm: int | None = spec(
        Size(off=True, finite=True), "A private tmpfs at /dev/shm of this size (mode 1777, nosuid, nodev), for "
        "POSIX shared memory and semaphores (shm_open, sem_open); false: none. Exposes nothing of the host: "
        "it is the jail's own, empty at each start, its pages counted in the jail's memory. Default false "
        "(without the launcher, systemd's /dev would hold the host's /dev/shm: it is covered)", None)
    timezone: bool = spec(
        Flag(), "The host's time zone: " + ZONEINFO + " (the tz database) bound read-only, and " + LOCALTIME +
        " bound read-only from the host's, whose zone is followed at each start. Exposes: which time zone "
        "the host is set to, and the public tz database", False)
    locales: bool = spec(
        Flag(), "The host's compiled locales: " + LOCALES + " bound read-only (C.UTF-8, and the locales "
        "locale-gen made into locale-archive), for setlocale(). Exposes: which locales the host has "
        "generated", False)


CREDENTIAL_RE = r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,254}"
CREDENTIALS_DIR = "/run/credentials"  # systemd's; $CREDENTIALS_DIRECTORY is its subdir named after the unit


@dataclass(frozen=True)
class Credential:
    """A secret the program reads at $CREDENTIALS_DIRECTORY/NAME, loaded by systemd at each start.

    LoadCredential= (or LoadCredentialEncrypted=) names the host file; the secret never enters the tree,
    the record or the plan."""

    name: str = spec(Text(CREDENTIAL_RE, "a credential name (letters, digits, _ . @ + -; at most 255)"),
                     "The file name under $CREDENTIALS_DIRECTORY")
    from_: str = spec(Path(allow_root=False), "The host file it is read from at each start (0600, root's)",
                      name="from")
    encrypted: bool = spec(Flag(), "The file is `systemd-creds encrypt`'s output (LoadCredentialEncrypted=): "
                           "decrypted by systemd at the start, with the host's credential key or TPM2", False)


@dataclass(frozen=True)
class RuntimeBind:
    """A host path that a `runtime:` key binds read-only at the same path in the jail."""

    key: str  # the jail file key that asks for it (runtime.timezone)
    path: str
    directory: bool  # a directory (its mount point a directory of the tree), or a file


@dataclass(frozen=True)
class Jail:
    """One jail: a confined service."""

    name: str = spec(Text(NAME_RE, "a jail name (^[a-z0-9][a-z0-9-]{0,62}$)"), "Jail name; unit jail-NAME.service")
    exec: tuple[str, ...] = spec(ListOf(Text(numbers=True), unique=False), "argv; argv[0] absolute inside the jail")
    description: str = spec(Text(max_len=512), "One line", "")
    root: str | None = spec(Path(), "Jail root on the host", None)
    hostname: str | None = spec(Text(HOSTNAME_RE, "a hostname"), "UTS hostname inside", None)
    user: str = spec(Text(USER_RE, "a user name"), "User the service runs as", "root")
    group: str | None = spec(Text(USER_RE, "a group name"), "Group", None)
    workdir: str = spec(Path(), "Working directory inside the jail", "/")
    environment: tuple[tuple[str, str], ...] = spec(
        MapOf(ENV_RE, "an environment variable name", Text(numbers=True)), "Environment", ())
    restart: Restart = spec(Choice(Restart, false_means="no"), "Restart=", Restart.ON_FAILURE)
    enable: bool = spec(Flag(), "Start at boot", True)
    stop_signal: str = spec(Choice(*SIGNALS), "What a stop sends the program first (KillSignal=)", "SIGTERM")
    stop_timeout: int = spec(Duration(), "Seconds the program has to stop after its stop signal before it is "
                             "killed (TimeoutStopSec=); a shell as PID 1 ignores SIGTERM", 10)
    reload_signal: str | None = spec(Choice(*SIGNALS), "What `systemctl reload` and `jailmgr reload` deliver to "
                                     "the program (none: the jail can't be reloaded)", None)
    ready: Ready | None = spec(WordOrRecord({"notify": READY_NOTIFY}, Record(Ready), "{port: 5432}"),
                               "notify (sd_notify READY=1 from inside the jail) or {port: N} (accepts a "
                               "connection); absent: a short watch after the start", None)
    start_timeout: int = spec(Duration(), "Seconds a start may take before it failed (TimeoutStartSec=; apply "
                              "waits as long for `ready`)", 30)
    tree: Tree = spec(Record(Tree), "Tree contents", Tree())
    mounts: tuple[Mount, ...] = spec(ListOf(Record(Mount)), "Mounts", ())
    namespaces: Namespaces = spec(Record(Namespaces), "Namespaces", Namespaces())
    network: Network | None = spec(Record(Network), "veth addresses for namespaces.net: private", None)
    limits: Limits = spec(Record(Limits), "cgroup limits", Limits())
    security: Security = spec(Record(Security), "Security settings", Security())
    runtime: Runtime = spec(Record(Runtime), "What daemons expect as they run, from the host: syslog to the "
                            "journal, a private /dev/shm, the time zone, the locales", Runtime())
    credentials: tuple[Credential, ...] = spec(
        ListOf(Record(Credential)), "Secrets for the program, read by systemd from host files at each start: "
        "the program reads them at $CREDENTIALS_DIRECTORY/NAME (readable by its user only); never in the tree, "
        "the record, the plan or a diff", ())
    sockets: tuple[Socket, ...] = spec(
        ListOf(Record(Socket)), "Socket activation: a jail-NAME.socket unit listens on the host and the program "
        "gets the descriptors from 3 on, in this order (LISTEN_FDS, LISTEN_FDNAMES: the jail's name, LISTEN_PID: "
        "the program's pid in the jail); it serves its clients even with namespaces.net: none. The socket unit "
        "is what is enabled (sockets.target); apply also starts the service", ())
    accept: bool = spec(Flag(), "With sockets: a fresh jail instance per connection (Accept=yes, inetd style: the "
                        "connection is the program's stdin and stdout, jail-NAME@.service), each with its own "
                        "empty tmpfs at every writable dir and the limits: of its own; not with ready, restart, "
                        "reload_signal or net: private", False)
    max_connections: int = spec(Integer(1, 65536), "With accept: how many instances may run at once "
                                "(MaxConnections=; the total is this many times limits:)",
                                DEFAULT_MAX_CONNECTIONS)

    @property
    def unit_name(self) -> str:
        """The jail's main unit: its service, or with `accept: true` its socket (there is no one service)."""
        return jail_units(self.name)[UnitRole.SOCKET] if self.accept else unit_name(self.name)

    @property
    def units(self) -> dict[UnitRole, str]:
        """The units this jail has, by role, the main one first (paths.jail_units names every possible one)."""
        every = jail_units(self.name)
        if self.accept:  # the socket is what runs; each connection an instance of the template
            return {UnitRole.SOCKET: every[UnitRole.SOCKET], UnitRole.TEMPLATE: every[UnitRole.TEMPLATE]}
        roles = [UnitRole.MAIN, *([UnitRole.NETNS] if self.namespaces.net == "private" else []),
                 *([UnitRole.SOCKET] if self.sockets else [])]
        return {role: every[role] for role in roles}

    @property
    def enable_unit(self) -> str:
        """The unit `enable` links: the socket when the jail has sockets (sockets.target), else the service."""
        return jail_units(self.name)[UnitRole.SOCKET] if self.sockets else self.unit_name

    @property
    def root_dir(self) -> str:
        return self.root or default_root(self.name)

    @property
    def uts_name(self) -> str:
        return self.hostname or self.name

    def uses_launcher(self) -> bool:
        """Whether bubblewrap builds the jail on this host's systemd.

        uts (a hostname), cgroup, user, net: private and a PID namespace need
        it.  systemd 257's PrivatePIDs= is not used for a PID namespace: with it,
        systemd supervises the program as a process that is not its child and,
        at a stop, SIGKILLed redis right after its SIGTERM (1 of 3 restarts lost
        the writes since the last save, Debian 13); the launcher's supervisor
        lets the program stop.  So the host's systemd version does not decide it.
        """
        ns = self.namespaces
        # (A jail without the launcher has no PID namespace, so its program is never root
        # (spec._check_isolation): systemd's MAINPID= from a root sender can't come from one.)
        return ns.pid or ns.uts or ns.cgroup or ns.user or ns.net == "private"

    @property
    def syslog(self) -> bool:
        """Whether the jail's /dev/log is journald's syslog socket: runtime.syslog as set, or by default on,
        unless security.address_families leaves out AF_UNIX (the program could not send to it) or a mount of
        the file already targets /dev/log (a jail file from before the key binds it by hand)."""
        if self.runtime.syslog is not None:
            return self.runtime.syslog
        families = self.security.address_families
        return (families is None or "AF_UNIX" in families) and not any(m.target == "/dev/log" for m in self.mounts)

    @property
    def runtime_binds(self) -> list[RuntimeBind]:
        """The host paths `runtime:` binds read-only at the same place in the jail (syslog and shm are not
        binds of the tree: they land in the jail's own /dev)."""
        binds = []
        if self.runtime.timezone:
            binds += [RuntimeBind("runtime.timezone", ZONEINFO, True),
                      RuntimeBind("runtime.timezone", LOCALTIME, False)]
        if self.runtime.locales:
            binds.append(RuntimeBind("runtime.locales", LOCALES, True))
        return binds

    @property
    def runtime_targets(self) -> dict[str, str]:
        """Every path `runtime:` puts in the jail, with the key that puts it there."""
        out = {b.path: b.key for b in self.runtime_binds}
        if self.syslog:
            out["/dev/log"] = "runtime.syslog"
        if self.runtime.shm is not None:
            out["/dev/shm"] = "runtime.shm"
        return out

    @property
    def id_shift(self) -> int:
        """What host ids are shifted by: 0, or the user namespace's base."""
        return userns_base(self.name) if self.namespaces.user else 0


# A file at the top of every tree jailmgr builds, holding the jail's name: a
# root named by a record is removed only when it carries it (or is the
# default root), so a damaged or hand-edited record can't aim destroy at
# another directory.  The top of the tree is read-only to the jail.
ROOT_MARKER = "/.jailmgr-root"


USERNS_COUNT = 65536


def userns_base(name: str) -> int:
    """The host uid that root of a `user: true` jail maps to: one 65536-id block per
    jail, picked from its name, above the ids Debian gives users (1000-59999)."""
    import hashlib

    block = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 16000
    return (block + 16) * USERNS_COUNT  # 1048576 and up


def veth_names(name: str) -> tuple[str, str]:
    """Interface names of a jail's veth pair (host side at most 15 characters)."""
    import hashlib

    tag = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"jm{tag}h", "eth0"
