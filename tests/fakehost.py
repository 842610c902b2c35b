"""Hosts that are not this machine: what render sees of a systemd 252 or 257 machine, for tests on any machine.

The users and groups of a Debian host with the daemons of the shipped jails,
and a loader's view in which every binary needs the loader and libc (those
that link PAM, libpam too): the units and trees rendered from them are the
same on every machine and architecture, with or without bubblewrap and
systemd installed.  The programs on its PATH, and a disk of the paths a test
names (for the preflight's checks), are the test's to choose.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping

from jailmgr.host import SEARCH_PATH, TEMPLATE_DIRS, Host, Node
from jailmgr.paths import BWRAP, IP

USERS = {"root": 0, "daemon": 1, "bin": 2, "www-data": 33, "nobody": 65534, "systemd-network": 998,
         "ftp": 101, "redis": 102, "postgres": 103, "dnsmasq": 104, "sshd": 105, "memcache": 106, "tftp": 107,
         "unbound": 108, "alice": 1000}
PASSWD = {name: (name, "x", str(uid), str(uid if name != "nobody" else 65534), name, f"/home/{name}", "/bin/sh")
          for name, uid in USERS.items()}
GROUP = {name: (name, "x", str(uid), "") for name, uid in USERS.items()} | {"nogroup": ("nogroup", "x", "65534", "")}
SHADOW = {name: (name, "$y$fakehash" if name == "alice" else "*", "19000", "0", "99999", "7", "", "", "")
          for name in USERS}

LOADER, LIBC = "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"
LIBPAM = "/lib/x86_64-linux-gnu/libpam.so.0"
SECURITY_DIR = "/usr/lib/x86_64-linux-gnu/security"
PAM_LINKED = {"/usr/sbin/vsftpd", "/usr/sbin/sshd"}
PAM_MODULES = {"unix", "deny", "permit", "nologin"}


class FakeLibraries:
    """Every absolute binary exists except under /nonexistent and those `absent` names (and those `denied` this
    user may not read); a pam_NAME module exists for PAM_MODULES."""

    def __init__(self, absent: Iterable[str] = (), denied: Iterable[str] = ()) -> None:
        self.absent, self.denied = frozenset(absent), frozenset(denied)

    def closure(self, binary: str) -> tuple[list[str], list[str]]:
        if binary.startswith("/nonexistent") or not binary.startswith("/") or binary in self.absent:
            raise FileNotFoundError(2, "No such file or directory", binary)
        if binary in self.denied:
            raise PermissionError(13, "Permission denied", binary)
        libs = [LOADER, LIBC]
        if binary in PAM_LINKED:
            libs.append(LIBPAM)
        if binary == "/usr/lib/lighttpd/mod_openssl.so":
            libs.append(LIBSSL)
        return ([] if binary in (LOADER, LIBC) else libs), []

    def pam_dirs(self, libpam: str) -> list[str]:
        return [SECURITY_DIR, "/lib/security"]

    def exists(self, path: str) -> bool:
        if any(path in listed for listed in PACKAGES.values()):
            return True
        return path.startswith(SECURITY_DIR + "/pam_") and path[len(SECURITY_DIR) + 5:-3] in PAM_MODULES


# A Debian package as dpkg lists it: lighttpd, with its modules in a directory of its own, a shared /usr/sbin,
# configuration, what no service reads (docs, an init script, a unit, /var), and /lib, which the package
# lists as a directory and a merged-/usr host has as a link to usr/lib (LINKS).
LIGHTTPD = ("/etc", "/etc/init.d", "/etc/init.d/lighttpd", "/etc/lighttpd", "/etc/lighttpd/lighttpd.conf",
            "/lib", "/lib/systemd", "/lib/systemd/system", "/lib/systemd/system/lighttpd.service",
            "/etc/lighttpd/conf-available", "/etc/lighttpd/conf-available/10-dir-listing.conf",
            "/etc/lighttpd/server.key", "/usr", "/usr/lib",
            "/usr/lib/lighttpd", "/usr/lib/lighttpd/mod_dirlisting.so", "/usr/lib/lighttpd/mod_openssl.so",
            "/usr/sbin", "/usr/sbin/lighttpd", "/usr/sbin/lighttpd-angel", "/usr/share", "/usr/share/doc",
            "/usr/share/doc/lighttpd", "/usr/share/doc/lighttpd/copyright", "/usr/share/lighttpd",
            "/usr/share/lighttpd/create-mime.conf.pl", "/var", "/var/www", "/var/www/html")
# The other packages of the shipped jails (jails.d), as Debian 12 lists them (docs and man pages shortened).
MEMCACHED = ("/etc", "/etc/default", "/etc/default/memcached", "/etc/init.d", "/etc/init.d/memcached", "/lib",
             "/lib/systemd", "/lib/systemd/system", "/lib/systemd/system/memcached.service", "/usr", "/usr/bin",
             "/usr/bin/memcached", "/usr/include", "/usr/include/memcached",
             "/usr/include/memcached/protocol_binary.h", "/usr/include/memcached/xxhash.h", "/usr/lib",
             "/usr/lib/tmpfiles.d", "/usr/lib/tmpfiles.d/memcached.conf", "/usr/share", "/usr/share/doc",
             "/usr/share/doc/memcached", "/usr/share/doc/memcached/copyright", "/usr/share/memcached",
             "/usr/share/memcached/memcached.conf.default", "/usr/share/memcached/scripts",
             "/usr/share/memcached/scripts/memcached-tool")
TFTPD_HPA = ("/etc", "/etc/init", "/etc/init/tftpd-hpa.conf", "/etc/init.d", "/etc/init.d/tftpd-hpa", "/usr",
             "/usr/sbin", "/usr/sbin/in.tftpd", "/usr/share", "/usr/share/doc", "/usr/share/doc/tftpd-hpa",
             "/usr/share/doc/tftpd-hpa/copyright", "/usr/share/man", "/usr/share/man/man8",
             "/usr/share/man/man8/in.tftpd.8.gz")
UNBOUND = ("/etc", "/etc/apparmor.d", "/etc/apparmor.d/usr.sbin.unbound", "/etc/init.d", "/etc/init.d/unbound",
           "/etc/insserv.conf.d", "/etc/insserv.conf.d/unbound", "/etc/resolvconf", "/etc/resolvconf/update.d",
           "/etc/resolvconf/update.d/unbound", "/etc/unbound", "/etc/unbound/unbound.conf",
           "/etc/unbound/unbound.conf.d", "/etc/unbound/unbound.conf.d/remote-control.conf",
           "/etc/unbound/unbound.conf.d/root-auto-trust-anchor-file.conf", "/lib", "/lib/systemd",
           "/lib/systemd/system", "/lib/systemd/system/unbound.service", "/usr", "/usr/lib", "/usr/lib/resolvconf",
           "/usr/lib/resolvconf/dpkg-event.d", "/usr/lib/resolvconf/dpkg-event.d/unbound", "/usr/libexec",
           "/usr/libexec/unbound-helper", "/usr/sbin", "/usr/sbin/unbound", "/usr/sbin/unbound-checkconf",
           "/usr/sbin/unbound-control", "/usr/share", "/usr/share/doc", "/usr/share/doc/unbound",
           "/usr/share/doc/unbound/copyright", "/var", "/var/lib", "/var/lib/unbound")
PACKAGES = {"lighttpd": LIGHTTPD, "libssl3": ("/usr/lib/x86_64-linux-gnu/libssl.so.3",), "memcached": MEMCACHED,
            "tftpd-hpa": TFTPD_HPA, "unbound": UNBOUND}
LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
LINKS = {"/lib", "/bin", "/sbin", "/lib64"}  # links to usr/... on a merged-/usr host, as on Debian 12 and 13


class FakePackages:
    """dpkg's database and the disk below the packages' directories: only what PACKAGES lists is there,
    but for /usr/sbin, which other packages share."""

    def installed(self) -> frozenset[str]:
        return frozenset(PACKAGES)

    def files(self, name: str) -> tuple[str, ...] | None:
        return PACKAGES.get(name)

    def list_path(self, name: str) -> str:
        return f"/var/lib/dpkg/info/{name}.list"

    def below(self, directory: str) -> list[str]:
        every = {p for listed in PACKAGES.values() for p in listed} | {"/usr/sbin/nginx"}
        return sorted(p for p in every if p.startswith(directory + "/"))

    def is_dir(self, path: str) -> bool:
        if path in LINKS:
            return False
        return any(p.startswith(path + "/") for listed in PACKAGES.values() for p in listed) or path == "/var/www/html"

    def is_elf(self, path: str) -> bool:
        return path.endswith(".so") or path.startswith(("/usr/sbin/", "/usr/bin/"))

    def resolve(self, path: str) -> str:
        return path

    def private(self, path: str) -> bool:
        return path.endswith(".key")


# What the fake host's PATH holds (the shipped jails' programs, and a few more to be found by name).
PROGRAMS = ("/usr/sbin/vsftpd", "/usr/sbin/sshd", "/usr/sbin/dnsmasq", "/usr/sbin/nginx", "/usr/bin/rsync",
            "/usr/bin/redis-server", "/usr/bin/true", "/usr/bin/sleep", "/usr/bin/memcached", "/usr/bin/sh")


class FakePrograms:
    """A PATH holding exactly these files."""

    def __init__(self, paths: Iterable[str] = PROGRAMS) -> None:
        self.paths = frozenset(paths)

    def where(self, name: str) -> list[str]:
        return [f"{d}/{name}" for d in SEARCH_PATH if f"{d}/{name}" in self.paths]

    def names(self, directory: str) -> list[str]:
        return sorted(p.rsplit("/", 1)[1] for p in self.paths if p.rsplit("/", 1)[0] == directory)


def node(mode: int = 0o755, uid: int = 0, gid: int | None = None, kind: int = stat.S_IFDIR) -> Node:
    """A path of the fake disk: a root-owned 0755 directory unless said otherwise."""
    return Node(kind | mode, uid, uid if gid is None else gid)


class FakeDisk:
    """The paths a test names (and the directories above them, root's and 0755 unless named); with
    `everything`, every other path too.  Paths below a name in `hidden` can't be looked at (EACCES)."""

    def __init__(self, nodes: Mapping[str, Node] | None = None, everything: bool = True,
                 hidden: Iterable[str] = ()) -> None:
        self.nodes = dict(nodes or {})
        self.everything = everything
        self.hidden = tuple(hidden)
        for path in list(self.nodes):
            while path not in ("/", ""):
                path = path.rsplit("/", 1)[0] or "/"
                self.nodes.setdefault(path, node())

    def lstat(self, path: str) -> Node | None:
        if any(path.startswith(h + "/") for h in self.hidden):
            raise PermissionError(13, "Permission denied", path)
        if path in self.nodes:
            return self.nodes[path]
        return node() if self.everything else None


def fake_host(systemd_version: int = 252, tools: tuple[str, ...] = (BWRAP, IP), *, absent: Iterable[str] = (),
              denied: Iterable[str] = (), programs: Iterable[str] = PROGRAMS, disk: FakeDisk | None = None) -> Host:
    return Host(systemd_version, frozenset(tools), PASSWD, GROUP, FakeLibraries(absent, denied), SHADOW, "",
                TEMPLATE_DIRS, packages=FakePackages(), programs=FakePrograms(programs), disk=disk or FakeDisk())


DEBIAN_12 = fake_host(252)
DEBIAN_13 = fake_host(257)
