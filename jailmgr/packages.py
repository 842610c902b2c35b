"""What a Debian package named in `tree.packages` brings into a jail's tree: decided from dpkg's file list.

- Its files that a running service reads: programs, libraries and the
  modules it loads itself (lighttpd's mod_*.so, PostgreSQL's lib), its data
  under /usr/share, its configuration files under /etc. Not what only the
  system around a service uses: docs, man pages, init scripts and jobs,
  units, logrotate, cron, resolvconf hooks, C headers, /var and /run (the
  jail's state is its writable dirs).
- All bound read-only from the host, so security updates reach the jail at
  its next start, as `libraries: bind`. A directory whose whole content on
  the disk belongs to the package is bound as one (PostgreSQL's 1,100 files
  of /usr/lib/postgresql/15/lib are one bind); a directory shared with other
  packages gets a bind per file of this one.
- /etc is never bound as a directory, so a template in tree.files replaces
  one configuration file and keeps the others.
- What others may not read on the host (a key, a password file) is left
  out: a package never hands a jail a secret; a jail file binds one itself.
- A directory it lists that the host has as a link (/lib, /bin, /sbin on
  a merged-/usr host) is never bound: it would bring the link's target.
- Libraries come from the ELF headers of every program and module it
  brings (host.Libraries.closure), never from Depends, which would pull in
  whole distributions. A module whose own library is not installed is left
  as it is: the program fails to load it only if it is used.
"""

from __future__ import annotations

import posixpath
from dataclasses import field

from .host import Host
from .quickdata import dataclass

# What no service reads at run time.
SKIPPED = ("/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/lintian", "/usr/share/bug",
           "/usr/share/menu", "/usr/share/bash-completion", "/usr/share/zsh", "/usr/share/fish", "/usr/share/apport",
           "/usr/share/doc-base", "/usr/share/locale", "/usr/lib/systemd", "/lib/systemd", "/usr/lib/tmpfiles.d",
           "/usr/lib/sysusers.d", "/usr/share/polkit-1", "/usr/share/dbus-1", "/etc/init.d", "/etc/default",
           "/etc/systemd", "/etc/logrotate.d", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly",
           "/etc/cron.weekly", "/etc/cron.monthly", "/etc/apparmor.d", "/etc/ufw", "/etc/rsyslog.d",
           "/etc/network", "/etc/ppp", "/etc/sudoers.d", "/etc/pam.d", "/etc/security", "/var", "/run", "/boot",
           # C headers (memcached's), upstart jobs and sysvinit ordering (tftpd-hpa's, unbound's), resolvconf hooks
           "/usr/include", "/etc/init", "/etc/insserv.conf.d", "/etc/resolvconf", "/usr/lib/resolvconf")
# Directories that may be bound whole when the package owns all of them: below these, two levels down at
# least (/usr/lib/NAME, /usr/share/NAME), never these themselves.
WHOLE_UNDER = ("/usr/lib/", "/usr/libexec/", "/usr/share/", "/opt/", "/lib/")


@dataclass
class Brought:
    """One package's share of the tree."""

    name: str
    dirs: list[str] = field(default_factory=list)  # bound whole
    tree_dirs: list[str] = field(default_factory=list)  # its empty directories: made in the tree
    files: list[str] = field(default_factory=list)  # bound one by one
    elf: list[str] = field(default_factory=list)  # its programs and modules: their libraries are needed too
    private: list[str] = field(default_factory=list)  # not readable by others: left out (a jail file may bind it)


def under(path: str, tops: tuple[str, ...] | list[str]) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in tops)


# Where a jail's state lives: a package path that leads there (a link into /var/lib/NAME) is not the
# package's but whatever is there at the next start.
VOLATILE = ("/var", "/run", "/tmp", "/dev/shm", "/home", "/root", "/srv")


def _whole_dir(path: str, owned: set[str], host: Host, declared: set[str], writable: tuple[str, ...]) -> bool:
    """The package owns the directory's every entry on the disk, the tree declares nothing below it, and no
    place a jail writes lies below it."""
    if not path.startswith(WHOLE_UNDER) or path.count("/") < 3 or host.packages.private(path):
        return False
    if any(d == path or d.startswith(path + "/") for d in (*declared, *writable)):
        return False
    return all(entry in owned and not host.packages.private(entry) for entry in host.packages.below(path))


def reaches(path: str, host: Host, writable: tuple[str, ...]) -> bool:
    """The path, or where it leads on the host, is at or below a place a jail writes, or where state lives:
    root binding it at a start would take whatever was put there."""
    return _leads_where_written(path, host.packages.resolve(path), writable)


def _leads_where_written(path: str, real: str, writable: tuple[str, ...]) -> bool:
    return under(path, writable) or under(real, writable) or under(real, VOLATILE)


def brought(name: str, listed: tuple[str, ...], host: Host, declared: set[str],
            writable: tuple[str, ...] = (), inside: tuple[str, ...] = ()) -> Brought:
    """What the package brings (`declared`: the paths the jail file itself puts in the tree: kept;
    `writable`: host paths the jail writes; `inside`: paths in the jail it writes: nothing is bound from
    below the first or onto a place below the second)."""
    out = Brought(name)
    owned = set(listed)
    # A directory of the package (something it lists is below it) that the host has as a link: /lib on a
    # merged-/usr host, a link to usr/lib. It is the host's, not the package's: bound, it would bring the
    # link's whole target. What the package has below it is brought by its own paths.
    linked = {p for p in {posixpath.dirname(p) for p in listed} & owned if not host.packages.is_dir(p)}
    wanted: list[str] = []
    dirs: set[str] = set()
    for path in listed:
        if under(path, SKIPPED) or path in declared or path in linked or under(path, inside):
            continue
        real = host.packages.resolve(path)
        if _leads_where_written(path, real, writable):
            continue
        if host.packages.is_dir(path):
            dirs.add(path)
        elif host.packages.is_dir(real):
            # A link the package ships to a directory (a compatibility name): a mount point in the tree is a
            # file or a directory, fixed when apply builds it, so such a link is left out (what it leads to
            # is the package's own or another's path, brought by that path).
            continue
        wanted.append(path)
    for path in sorted(dirs, key=lambda p: (p.count("/"), p)):
        if not under(path, out.dirs) and _whole_dir(path, owned, host, declared, writable):
            out.dirs.append(path)
    parents = {posixpath.dirname(p) for p in wanted}
    for path in wanted:
        if under(path, out.dirs):
            continue
        if path in dirs:
            if path not in parents:  # (an empty one: the others come with what is bound below them)
                out.tree_dirs.append(path)
        elif host.packages.private(path):
            out.private.append(path)
        elif host.libraries.exists(path):  # (a dangling link of the package would fail the start)
            out.files.append(path)
    # Only what is bound: a file left out (private: perhaps a jail below whose rw mount it lies made it so) is
    # neither read as ELF nor has what it names bound.
    private = set(out.private)
    out.elf = [p for p in wanted if p not in dirs and p not in private and not p.startswith(("/usr/share/", "/etc/"))
               and host.packages.is_elf(p)]
    return out
