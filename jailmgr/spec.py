"""Load jail files: YAML text to a checked Jail, or every problem with its position."""

from __future__ import annotations

import os
import posixpath

from . import yamlsrc
from .fields import INVALID, Ctx, Record
from .model import CREDENTIALS_DIR, JOURNAL_DEV_LOG, Jail
from .paths import DEFAULT_JAILS_DIR, STDIN, yaml_files
from .problems import InvalidJails, Problem, parent_key
from .quickdata import dataclass

DEFAULT_DIR = DEFAULT_JAILS_DIR
# Roots that would put a jail over the host's own system: refused as the root
# itself, and (first group) anywhere below too.
_SYSTEM_TREES = ("/etc", "/usr", "/boot", "/proc", "/sys", "/dev", "/run", "/bin", "/sbin")
_SYSTEM_DIRS = ("/var", "/home", "/srv", "/opt", "/tmp", "/root", "/var/lib", "/var/lib/jailmgr",
                "/var/lib/jailmgr/jails", "/mnt", "/media", "/lost+found")


@dataclass(frozen=True)
class Loaded:
    """A valid jail and the file it came from (templates resolve relative to it)."""

    jail: Jail
    source: str  # the jail file's path as given (os.path, not pathlib: pathlib costs startup time)
    positions: dict[str, tuple[int, int]]
    sha256: str = ""  # of the text that was parsed (what a record says was applied)

    def problem(self, key: str, message: str, hint: str = "") -> Problem:
        """A problem found after loading (a missing template, say), at its key's position."""
        probe = key
        while probe and probe not in self.positions:
            probe = parent_key(probe)
        line, col = self.positions.get(probe, (1, 1))
        return Problem(str(self.source), line, col, key, message, hint)


def _check_root(jail: Jail, ctx: Ctx) -> None:
    root = jail.root
    if root is None:
        return
    top = "/" + root.split("/")[1] if root != "/" else "/"
    if root == "/" or root in _SYSTEM_DIRS or top in _SYSTEM_TREES or top.startswith("/lib"):
        ctx.at("root", f"{root!r} is a system directory; a jail root must be a directory of its own")


def _check_tree(jail: Jail, ctx: Ctx) -> None:
    tree = jail.tree
    users = {"root", *tree.users}
    taken: dict[str, str] = {}

    def claim(path: str, key: str) -> None:
        if path in taken:
            ctx.at(key, f"{path} is already placed in the tree by {taken[path]}")
        else:
            taken[path] = key

    for i, binary in enumerate(tree.binaries):
        claim(binary, f"tree.binaries[{i}]")
    for i, entry in enumerate(tree.files):
        key = f"tree.files[{i}]"
        claim(entry.path, f"{key}.path")
        sources = [s for s in ("template", "content", "from_") if getattr(entry, s) is not None]
        if len(sources) != 1:
            ctx.at(key, "needs exactly one of template, content or from")
        if entry.vars is not None and entry.template is None:
            ctx.at(f"{key}.vars", "vars is only used with template")
        if entry.mode & 0o002:
            ctx.at(f"{key}.mode", "a world-writable file is not allowed in a jail tree")
        for who in ("owner", "group"):
            if getattr(entry, who) not in users:
                ctx.at(f"{key}.{who}", f"{getattr(entry, who)!r} is not root nor in tree.users")
    for i, dir_entry in enumerate(tree.dirs):
        key = f"tree.dirs[{i}]"
        claim(dir_entry.path, f"{key}.path")
        if dir_entry.mode & 0o002 and not dir_entry.writable:
            ctx.at(f"{key}.mode", "world-writable directories must be declared writable: true")
        for who in ("owner", "group"):
            if getattr(dir_entry, who) not in users:
                ctx.at(f"{key}.{who}", f"{getattr(dir_entry, who)!r} is not root nor in tree.users")
    if jail.user not in users:
        ctx.at("user", f"{jail.user!r} must exist in the jail's passwd: add it to tree.users")
    if jail.group is not None and jail.group not in users:
        ctx.at("group", f"{jail.group!r} must exist in the jail's group file: add it to tree.users")


def _check_exec(jail: Jail, ctx: Ctx) -> None:
    if not jail.exec:
        ctx.at("exec", "needs at least the program to run")
        return
    program = jail.exec[0]
    if not program.startswith("/"):
        ctx.at("exec[0]", f"{program!r} must be an absolute path inside the jail")
    elif (jail.tree.rootfs is None and not jail.tree.packages and program not in jail.tree.binaries
          and program not in {f.path for f in jail.tree.files}):
        # (with tree.packages, manifest checks it once it knows what they bring)
        ctx.at("exec[0]", f"{program} is not in the tree; add it to tree.binaries")


def _check_mounts(jail: Jail, ctx: Ctx) -> None:
    targets: set[str] = set()
    for i, mount in enumerate(jail.mounts):
        key = f"mounts[{i}]"
        if mount.type == "bind":
            if mount.source is None or mount.target is None:
                ctx.at(key, "a bind mount needs source and target")
            if mount.size is not None:
                ctx.at(f"{key}.size", "size is for tmpfs mounts")
        elif mount.type == "tmpfs":
            if mount.target is None:
                ctx.at(key, "a tmpfs mount needs a target")
            for extra in ("source",):
                if getattr(mount, extra) is not None:
                    ctx.at(f"{key}.{extra}", f"{extra} is for bind mounts")
        else:
            if mount.source is not None or mount.target not in (None, "/proc"):
                ctx.at(key, "a proc mount takes no source; its target is /proc")
        if mount.create and mount.type != "bind":
            ctx.at(f"{key}.create", "create is for bind mounts")
        target = mount.target or ("/proc" if mount.type == "proc" else None)
        if target is not None:
            if target in targets:
                ctx.at(f"{key}.target", f"{target} is mounted twice")
            targets.add(target)


def _check_network(jail: Jail, ctx: Ctx) -> None:
    import ipaddress

    if jail.namespaces.net != "private":
        if jail.network is not None:
            ctx.at("network", "network is only used with namespaces.net: private")
        return
    if jail.network is None:
        ctx.at("namespaces.net", "net: private needs a network section: {host: ADDR/PREFIX, jail: ADDR/PREFIX}")
        return
    try:
        host = ipaddress.ip_interface(jail.network.host)
        inside = ipaddress.ip_interface(jail.network.jail)
    except (TypeError, ValueError):
        return  # (the address itself was reported where it is)
    if host.network != inside.network or host.ip == inside.ip:
        ctx.at("network.jail", f"{inside} and {host} must be two addresses of one subnet")


def _check_misc(jail: Jail, ctx: Ctx) -> None:

    if not jail.namespaces.mount:
        ctx.at("namespaces.mount", "the mount namespace is always on (a jail is a mount namespace)")
    if jail.hostname is not None and not jail.namespaces.uts:
        ctx.at("hostname", "a jail hostname needs namespaces.uts: true")
    lim = jail.limits
    if isinstance(lim.memory, int) and isinstance(lim.memory_high, int) and lim.memory_high > lim.memory:
        ctx.at("limits.memory_high", "memory_high is above memory; it would never apply")


_LOADER_TREES = ("usr", "lib", "lib32", "lib64", "libx32", "bin", "sbin")


def _check_writable_layout(jail: Jail, ctx: Ctx) -> None:
    """No mount source or target may sit below what the jail can write.

    A writable dir is bound from the tree (root + path) and an rw mount's
    target is the jail's to change: a directory below either could be swapped
    for a symlink by the jail between two starts, and the bind made from it
    would then bring in a host directory (runc CVE-2021-30465).  With nothing
    mounted from or onto such places, every path a mount resolves lies in the
    read-only part of the tree, which only jailmgr writes.
    """
    writable = [(place.path, place.key) for place in jail_writable(jail)]
    for path, key in writable:
        if path == "/etc" or path.split("/")[1] in _LOADER_TREES:
            # The loader reads /etc/ld.so.preload and the libraries from there for every
            # program of the tree, the jail's own included.
            ctx.at(key, f"{path} can't be writable: the jail's programs, libraries and the loader's files "
                   "live there; make a directory beside them writable")
    placed = [(d.path, f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs) if d.writable]
    placed += [(m.target or "/proc", f"mounts[{i}].target") for i, m in enumerate(jail.mounts)]
    for path, key in placed:
        for top, top_key in writable:
            if path.startswith(top + "/"):
                ctx.at(key, f"{path} is mounted below {top} ({top_key}), which the jail can write: it could "
                       "swap the way there for a symlink; put it beside, not below")


# --- The jail-writable set, and the paths root resolves for a jail: computed here once, used by every check.
#
# Everything the launcher (bubblewrap) or systemd resolves as root when a jail
# starts, and everything apply reads as root, must lie outside what any jail can
# change, or the jail swaps a component for a symlink (to ../../etc, to
# /proc/self/fd/N) between two starts and root follows it (runc CVE-2021-30465).
#
# - `host_writable`: the host paths a jail can write, and everything below them:
#   its writable dirs (root + path), its rw bind sources, and with a rootfs the
#   whole tree (the archive put every entry there).
# - `host_resolved`: the host paths root resolves for the jail: bind sources,
#   `from:` files and binaries (read as root at apply), and the jail's root
#   (every mount target and the workdir lie below it).
# - `jail_writable` / the in-jail paths: writable dirs and rw mount targets as
#   the jail sees them; mount targets, the workdir and the program's path are
#   resolved below them.
#
# A path at a writable place itself is fine (its parent is not the jail's to
# change, and a mount point can't be renamed); one strictly below is not.
# Validate refuses what the jail file alone shows (_check_resolved); apply
# what only the host shows (preflight.check_host_paths: other jails' sets, from
# this apply and the records; symlinks on the host).  A rootfs tree counts for
# sources only: the workdir and the mount targets in it are declared tree
# dirs, which apply makes real directories (O_NOFOLLOW) over what the archive
# put there.

# Magic links: root resolving through them reaches whatever a process holds open.
MAGIC = ("/proc", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/core")
ARCHIVE_KEY = "tree.rootfs"


@dataclass(frozen=True)
class Place:
    """A normalised path and the jail file key that puts it there."""

    path: str
    key: str


def norm(path: str) -> str:
    """No `.` or `..`, no repeated or trailing slash (what the checks compare)."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if path in ("/", "//") else path


def below(path: str, top: str) -> bool:
    """`path` lies strictly below `top` (both normalised)."""
    return path != top and path.startswith(top.rstrip("/") + "/")


def at_or_below(path: str, top: str) -> bool:
    return path == top or below(path, top)


def magic(path: str) -> str:
    """The magic-link tree `path` lies in ("" when none)."""
    return next((top for top in MAGIC if at_or_below(norm(path), top)), "")


def host_writable(jail: Jail) -> list[Place]:
    """The host paths this jail can write (and everything below each)."""
    root = norm(jail.root_dir)
    places = [Place(norm(root + d.path), f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs)
              if d.writable and isinstance(d.path, str)]
    places += [Place(norm(m.source), f"mounts[{i}].source") for i, m in enumerate(jail.mounts)
               if m.type == "bind" and m.mode == "rw" and m.source]
    if jail.tree.rootfs is not None:
        places.append(Place(root, ARCHIVE_KEY))
    return places


def host_resolved(jail: Jail) -> list[Place]:
    """The host paths root resolves or reads for this jail (its root last: the tree lies below it)."""
    places = [Place(norm(m.source), f"mounts[{i}].source") for i, m in enumerate(jail.mounts)
              if m.type == "bind" and m.source]
    places += [Place(norm(f.from_), f"tree.files[{i}].from") for i, f in enumerate(jail.tree.files) if f.from_]
    places += [Place(norm(b), f"tree.binaries[{i}]") for i, b in enumerate(jail.tree.binaries)]
    places += [Place(b.path, b.key) for b in jail.runtime_binds]
    places += [Place(norm(c.from_), f"credentials[{i}].from") for i, c in enumerate(jail.credentials)
               if isinstance(c.from_, str)]
    if jail.syslog:
        places.append(Place(JOURNAL_DEV_LOG, "runtime.syslog"))
    from .sockets import listens  # (systemd makes a unix socket at its path as root)

    places += [Place(norm(listen.unix), f"sockets[{i}].listen") for i, listen, _ in listens(jail) if listen.unix]
    places.append(Place(norm(jail.root_dir), "root"))
    return places


def jail_writable(jail: Jail) -> list[Place]:
    """The paths inside the jail it can write: writable dirs, rw mount targets."""
    # (a path that did not parse is None here, reported where it is)
    places = [Place(d.path, f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs)
              if d.writable and isinstance(d.path, str)]
    places += [Place(m.target, f"mounts[{i}].target") for i, m in enumerate(jail.mounts)
               if m.type == "bind" and m.mode == "rw" and m.target]
    return places


def through(path: Place, writable: list[Place], root_rule: bool = False) -> Place | None:
    """The writable place `path` passes through (strictly below it), if any; never its own key.

    With `root_rule`, a jail root counts at a writable place too: the tree lies below it.
    """
    for place in writable:
        if place.key == path.key:
            continue
        if below(path.path, place.path) or (root_rule and path.key == "root" and path.path == place.path):
            return place
    return None


def own_conflicts(jail: Jail) -> list[tuple[str, str]]:
    """(key, message) for every path root resolves through this jail's own writable set (the jail file alone)."""
    found: list[tuple[str, str]] = []
    writable = [p for p in host_writable(jail) if p.key != ARCHIVE_KEY]  # (the tree: sources only)
    archive = [p for p in host_writable(jail) if p.key == ARCHIVE_KEY]
    root = norm(jail.root_dir)
    for place in host_resolved(jail):
        trap = magic(place.path)
        if trap and place.key != "root":
            found.append((place.key, f"{place.path} lies in {trap}, whose entries are links to whatever a process "
                          "holds open: root would resolve it at each start; name the real path (devices go in "
                          "tree.devices)"))
            continue
        hit = through(place, writable, root_rule=True) or (through(place, archive) if place.key != "root" else None)
        if hit is None:
            continue
        if place.key == "root":
            found.append((hit.key, f"{hit.path} holds the jail's own tree ({root}), and the jail can write it: it "
                          "could change every path root resolves there at the next start; mount a directory "
                          "beside the tree, not above it"))
        elif hit.key == ARCHIVE_KEY:
            found.append((place.key, f"{place.path} lies below {hit.path}, the tree the rootfs archive (untrusted) "
                          "made: any entry there may be a symlink; name a path outside the tree"))
        else:
            found.append((place.key, f"{place.path} lies below {hit.path} ({hit.key}), which the jail can write: it "
                          "could swap the way there for a symlink (to ../../etc, to /proc/self/fd/N) and root "
                          "would follow it at the next start; name a path beside it, not below"))
    for place in writable:
        if place.key.startswith("mounts[") and below(place.path, root):
            found.append((place.key, f"{place.path} lies inside the jail's own tree ({root}): the jail could "
                          "write its tree through it; declare a writable dir in tree.dirs instead"))
    return found


def inside_conflicts(jail: Jail) -> list[tuple[str, str]]:
    """(key, message) for the workdir or the program's path below what the jail can write, or in /proc."""
    found: list[tuple[str, str]] = []
    writable = jail_writable(jail)
    wanted = [Place(jail.workdir, "workdir")]
    if jail.exec and jail.exec[0].startswith("/"):
        wanted.append(Place(norm(jail.exec[0]), "exec[0]"))
    for place in wanted:
        trap = magic(place.path)
        if trap:
            found.append((place.key, f"{place.path} lies in {trap}: root would resolve it through a magic link "
                          "at each start; name a directory of the tree"))
            continue
        hit = through(place, writable)
        if hit is not None:
            found.append((place.key, f"{place.path} lies below {hit.path} ({hit.key}), which the jail can write: "
                          "it could swap the way there for a symlink (to /proc/self/fd/N) and root would follow "
                          f"it at the next start; use {hit.path} itself or a directory beside it"))
    return found


@dataclass(frozen=True)
class Sets:
    """One jail's host sets, from its jail file or its record (for jails not in this apply)."""

    name: str
    writable: tuple[Place, ...]
    resolved: tuple[Place, ...]


def sets_of(jail: Jail) -> Sets:
    return Sets(jail.name, tuple(host_writable(jail)), tuple(host_resolved(jail)))


def _check_resolved(jail: Jail, ctx: Ctx) -> None:
    """Nothing root resolves at a start (mount sources, the jail's root, the workdir, the program) or reads at
    apply (`from:` files, binaries) passes through what the jail can write, nor through /proc (the set above)."""
    for key, message in [*own_conflicts(jail), *inside_conflicts(jail)]:
        ctx.at(key, message)


def _check_run(jail: Jail, ctx: Ctx) -> None:
    """systemd mounts an empty tmpfs on /run of a RootDirectory= service (MountAPIVFS=, which the
    hardening implies): tree entries there would be hidden, and binds from them fail to start."""
    if jail.uses_launcher():
        return  # the launcher binds them over its own /run tmpfs
    entries = [(d.path, f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs)]
    entries += [(f.path, f"tree.files[{i}].path") for i, f in enumerate(jail.tree.files)]
    for path, key in entries:
        if path.startswith("/run/"):
            ctx.at(key, f"{path} would be hidden: systemd mounts an empty tmpfs on /run of a jail without the "
                   "launcher; keep a pid, uts or cgroup namespace (the launcher puts the tree's /run entries "
                   "back), or put it outside /run")


def _check_isolation(jail: Jail, ctx: Ctx) -> None:
    """Without a PID namespace the jail sees the host's processes: only a uid of its own keeps them apart."""
    ns = jail.namespaces
    if not ns.pid and not ns.user and jail.user == "root":
        # kill() needs no capability between processes of one uid, and
        # /proc/PID/mem only ptrace's same-uid rules: root in such a jail
        # could signal every root daemon of the host and write the memory of
        # other jails' root processes.
        ctx.at("namespaces.pid", "without a PID namespace the program must not run as root: it could signal "
               "and trace the host's root processes; keep pid: true, set user: to a user of the jail's own, "
               "or set namespaces.user: true")


def _placed(jail: Jail) -> list[tuple[str, str]]:
    """Every path the file puts in the jail (tree dirs and files, mount targets), with its key: the places the
    start makes itself (/run/host, /run/credentials) must be free of them."""
    placed = [(d.path, f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs)]
    placed += [(f.path, f"tree.files[{i}].path") for i, f in enumerate(jail.tree.files)]
    placed += [(m.target or "", f"mounts[{i}].target") for i, m in enumerate(jail.mounts)]
    return placed


def _check_lifecycle(jail: Jail, ctx: Ctx) -> None:
    """What the start, readiness and the launcher's own paths need of the file."""
    if jail.ready is not None and jail.ready.port is not None and jail.namespaces.net == "none":
        ctx.at("ready.port", "with namespaces.net: none nothing outside the jail can connect to it; "
               "use ready: notify, or no ready")
    reserved = "/run/host"  # the launcher's: its init and the notify socket (paths.INIT_IN_JAIL)
    for path, key in _placed(jail):
        if path and (path == reserved or path.startswith(reserved + "/")):
            ctx.at(key, f"{path}: {reserved} is the launcher's (its init and the notify socket); "
                   "put it elsewhere")
    # Above them: the start makes /run/host (the launcher's init, bound there as root by bubblewrap, or by
    # systemd for a time namespace) and /run/credentials (the secrets' tmpfs) through whatever covers /run:
    # a directory the jail can write, or a host directory, there could hold a symlink the jail planted at its
    # last run.  (The credentials' checks and red team 4.)
    above = [(d.path, f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs) if d.writable]
    above += [(m.target or "", f"mounts[{i}].target") for i, m in enumerate(jail.mounts) if m.type == "bind"]
    for path, key in above:
        if isinstance(path, str) and path and below(reserved, path):
            ctx.at(key, f"{path} would cover {reserved} and {CREDENTIALS_DIR}, which the start makes as root each "
                   "time; mount or make writable a directory below /run instead (e.g. /run/app)")


def _check_runtime(jail: Jail, ctx: Ctx) -> None:
    """What `runtime:` puts in the jail is its own: no mount or tree entry at or below it; and /dev/log is
    useful only to a program that may open a Unix socket."""
    families = jail.security.address_families
    if jail.runtime.syslog and families is not None and "AF_UNIX" not in families:
        ctx.at("runtime.syslog", "the program can't send to /dev/log: security.address_families leaves out "
               "AF_UNIX; add AF_UNIX, or set syslog: false")
    placed = [(m.target or "/proc", f"mounts[{i}].target") for i, m in enumerate(jail.mounts)]
    placed += [(d.path, f"tree.dirs[{i}].path") for i, d in enumerate(jail.tree.dirs)]
    placed += [(f.path, f"tree.files[{i}].path") for i, f in enumerate(jail.tree.files)]
    placed += [(b, f"tree.binaries[{i}]") for i, b in enumerate(jail.tree.binaries)]
    for path, key in placed:
        if not isinstance(path, str):
            continue  # (a placeholder for a missing key, reported where it is)
        for target, runtime_key in jail.runtime_targets.items():
            if at_or_below(path, target):
                ctx.at(key, f"{path}: {runtime_key} puts {target} there already; remove this entry, or set "
                       f"{runtime_key.split('.')[1]}: false")
            elif key.startswith("mounts[") and below(target, path):
                ctx.at(key, f"{path} would cover {target}, which {runtime_key} puts there; mount it elsewhere, "
                       f"or set {runtime_key.split('.')[1]}: false")


# What no jail may have bound in: where the secrets of every unit are, and the key of encrypted ones.
HOST_SECRETS = {CREDENTIALS_DIR: "where systemd keeps every service's credentials",
                "/var/lib/systemd/credential.secret": "the host's key for encrypted credentials"}


def _check_credentials(jail: Jail, ctx: Ctx) -> None:
    """Each credential a name of its own; and /run/credentials is systemd's and the launcher's (the fresh
    directory the secrets are placed in): nothing of the tree or a mount goes there."""
    seen: set[str] = set()
    for i, cred in enumerate(jail.credentials):
        if cred.name in seen:
            ctx.at(f"credentials[{i}].name", f"{cred.name!r} is listed twice; each credential needs a name of "
                   "its own")
        seen.add(cred.name)
        if isinstance(cred.from_, str) and at_or_below(norm(cred.from_), norm(jail.root_dir)):
            ctx.at(f"credentials[{i}].from", f"{cred.from_} lies in the jail's own tree, where the jail and its "
                   "every user could read it; keep secrets outside (e.g. /etc/jailmgr/secrets, mode 0600)")
    secret = {c.from_ for c in jail.credentials}
    for i, entry in enumerate(jail.tree.files):
        if entry.from_ is not None and entry.from_ in secret:
            ctx.at(f"tree.files[{i}].from", f"{entry.from_} is a credential's source: copied into the tree, the "
                   "secret would be there for every user of the jail; read it at $CREDENTIALS_DIRECTORY")
    # A bind of the source, or of a directory above it, puts the host's file itself in the jail, where its
    # root (host uid 0 under the launcher: the file's owner) reads it whatever user the program is; and a
    # bind of systemd's credentials (every running unit's, on the host) or of the host key that decrypts
    # encrypted ones does so for every jail's, from any jail (red team 4).
    for i, mount in enumerate(jail.mounts):
        source = mount.source if mount.type == "bind" else None
        if not isinstance(source, str):
            continue
        hit = next((c.from_ for c in jail.credentials if isinstance(c.from_, str)
                    and at_or_below(norm(c.from_), norm(source))), None)
        if hit is not None:
            ctx.at(f"mounts[{i}].source", f"{source} holds {hit}, a credential's source: mounted, the secret "
                   "would be in the jail for its root to read; mount a directory beside it, not above")
        host = next((p for p in HOST_SECRETS if at_or_below(p, norm(source)) or below(norm(source), p)), None)
        if hit is None and host is not None:
            ctx.at(f"mounts[{i}].source", f"{source} is, holds or lies in {host}, {HOST_SECRETS[host]}: mounted, they "
                   "would be in the jail for its root to read; mount a directory beside it, not above")
    for path, key in _placed(jail):
        if isinstance(path, str) and at_or_below(path, CREDENTIALS_DIR):
            ctx.at(key, f"{path}: {CREDENTIALS_DIR} is where the jail's credentials are placed at each start; "
                   "put it elsewhere")


def _check_sockets(jail: Jail, ctx: Ctx) -> None:
    """sockets: and accept: (sockets.py); a unix socket path, made by systemd as root, never in the jail's tree
    (below what it can write: host_resolved's rule; another jail's tree: preflight.py)."""
    from . import sockets

    sockets.check(jail, ctx, {key for key in ctx.nodes if "." not in key and "[" not in key})
    for i, listen, _ in sockets.listens(jail):
        if listen.unix and at_or_below(norm(listen.unix), norm(jail.root_dir)):
            ctx.at(f"sockets[{i}].listen", f"{listen.unix} lies in the jail's own tree ({jail.root_dir}): systemd "
                   "makes the socket there as root; put it outside, e.g. /run/jailmgr-NAME.sock")


CHECKS = (_check_root, _check_tree, _check_exec, _check_mounts, _check_network, _check_misc,
          _check_writable_layout, _check_resolved, _check_run, _check_isolation, _check_lifecycle,
          _check_runtime, _check_credentials, _check_sockets)


def parse_text(text: str, name: str) -> tuple[Jail | None, list[Problem]]:
    """Parse one jail file's text; pure (no I/O)."""
    jail, problems, _ = parse_with_positions(text, name)
    return jail, problems


def parse_with_positions(text: str, name: str
                         ) -> tuple[Jail | None, list[Problem], dict[str, tuple[int, int]]]:
    src = yamlsrc.Source(name)
    node, problems = yamlsrc.compose(text, src)
    if node is None:
        return None, problems, {}
    ctx = Ctx(src)
    jail = Record(Jail).parse(node, ctx, "")
    if jail is not INVALID:
        for check in CHECKS:
            check(jail, ctx)
    problems = sorted(ctx.problems, key=lambda p: (p.line, p.col))
    positions = {k: (n.start_mark.line + 1, n.start_mark.column + 1) for k, n in ctx.nodes.items()}
    return (jail if not problems else None), problems, positions


# `--stdin-as PATH`: the text of PATH, read from standard input instead of the
# file (which may not exist yet).  Everything else (messages, templates found
# beside it, the record it is compared with) goes by PATH: what a jail file
# would do before it is written, as Ansible's check mode asks.


def jail_files(paths: list[str]) -> tuple[list[str], list[Problem]]:
    """Expand files and directories (every *.yaml in them, sorted)."""
    files: list[str] = []
    problems: list[Problem] = []
    for raw in paths or [DEFAULT_DIR]:
        if raw in STDIN:
            files.append(raw)
            continue
        found = yaml_files(raw)
        if found is None:
            problems.append(Problem(raw, 0, 0, "", "no such file or directory"))
            continue
        files.extend(found)
        if os.path.isdir(raw):
            files.extend(sorted(p for p in STDIN if os.path.dirname(p) == raw.rstrip("/") and p not in found))
    return files, problems


def load(paths: list[str]) -> tuple[list[Loaded], list[Problem]]:
    """Load every jail under PATHs; problems of every file are collected."""
    files, problems = jail_files(paths)
    loaded: list[Loaded] = []
    names: dict[str, str] = {}
    for path in files:
        try:
            if path in STDIN:
                data = STDIN[path].encode()
            else:
                with open(path, "rb") as f:
                    data = f.read()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, 0, "", f"cannot read: {exc}"))
            continue
        jail, found, positions = parse_with_positions(text, str(path))
        problems.extend(found)
        if jail is None:
            continue
        import hashlib

        item = Loaded(jail, path, positions, hashlib.sha256(data).hexdigest())
        if jail.name in names:
            problems.append(item.problem("name", f"jail {jail.name!r} is also defined in {names[jail.name]}"))
            continue
        names[jail.name] = path
        loaded.append(item)
    return loaded, problems


def load_or_raise(paths: list[str]) -> list[Loaded]:
    loaded, problems = load(paths)
    if problems:
        raise InvalidJails(problems)
    return loaded


def default_paths() -> list[str]:
    return [os.environ.get("JAILMGR_JAILS_DIR", DEFAULT_DIR)]
