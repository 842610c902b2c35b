"""Socket activation: the `sockets:` entries, their jail-NAME.socket unit, and `accept: true`.

systemd opens the listening sockets on the host (in the host's network namespace, before the jail
exists) and hands them to the program as descriptors 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and
LISTEN_PID (sd_listen_fds(3)).  A jail with `net: none` then serves its clients through them and can
open no connection of its own: its namespace has only lo.  Under the launcher the supervisor receives
them and jailmgr-init sets LISTEN_PID to the program's pid in the jail (launcher/jailmgr-init.c).

With `accept: true` the socket unit accepts each connection itself (Accept=yes) and starts an
instance of the template jail-NAME@.service for it, inetd style: the connection is the instance's
stdin and stdout, each instance has its own PID namespace, tmpfs writable dirs and the jail's limits,
and MaxConnections= caps how many run at once (the total).

Pure: parsing and checks (unit.py writes the units); nothing here touches the host.
"""

from __future__ import annotations

import re
from enum import StrEnum

from .fields import INVALID, Text
from .quickdata import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import yaml

    from .fields import Ctx
    from .model import Jail

DEFAULT_MAX_CONNECTIONS = 64  # systemd's own default for Accept=yes sockets
_PORT = r"([0-9]{1,5})"
_UNIX_OK = re.compile(r"/[A-Za-z0-9_./@+-]*")  # what a unix socket path may hold (no spaces, colons, quotes, %)


class SocketType(StrEnum):
    STREAM = "stream"
    DATAGRAM = "datagram"


@dataclass(frozen=True)
class Listen:
    """One parsed listen address: an IP address and port, or an absolute unix socket path."""

    host: str  # the address ("" for a unix path), IPv6 without brackets
    port: int  # 0 for a unix path
    unix: str  # the path, "" for an address

    @property
    def family(self) -> str:
        if self.unix:
            return "unix"
        return "ipv6" if ":" in self.host else "ipv4"

    @property
    def address(self) -> str:
        """As ListenStream=/ListenDatagram= take it: ADDRESS:PORT, [ADDRESS]:PORT, or the path."""
        if self.unix:
            return self.unix
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(value: str) -> tuple[Listen | None, str]:
    """`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:69` or `/run/app.sock`; (None, why) when it is none of them."""
    import ipaddress

    if value.startswith("/"):
        if not _UNIX_OK.fullmatch(value) or "//" in value or "/./" in value or "/../" in value \
                or value.endswith(("/", "/.", "/..")):
            return None, "a unix socket path is absolute and plain (letters, digits, _ . / @ + -, no . or .. step)"
        if len(value.encode()) > 107:
            return None, "a unix socket path has at most 107 bytes (sun_path)"
        return Listen("", 0, value), ""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:" + _PORT, value) or re.fullmatch(r"([0-9.]+):" + _PORT, value)
    if match is None:
        return None, "expected ADDRESS:PORT (IPv4), [ADDRESS]:PORT (IPv6) or an absolute unix socket path"
    try:
        address = ipaddress.ip_address(match.group(1))
    except ValueError:
        return None, f"{match.group(1)} is not an IP address"
    if value.startswith("[") != (address.version == 6):
        return None, "an IPv6 address is written in brackets, an IPv4 one without"
    port = int(match.group(2))
    if not 1 <= port <= 65535:
        return None, "the port must be 1 to 65535"
    return Listen(address.compressed, port, ""), ""


class ListenKind(Text):
    """A `listen:` value, checked by parse_listen."""

    def __init__(self) -> None:
        super().__init__(None, "a listen address")

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        value = super().parse(node, ctx, key)
        if value is INVALID:
            return value
        _, why = parse_listen(value)
        return ctx.fail(node, key, f"{value!r} is not a listen address: {why}") if why else value


def listens(jail: Jail) -> list[tuple[int, Listen, SocketType]]:
    """The sockets parsed, in order, with their index (an entry whose listen: was refused is left out: it was
    reported)."""
    out = []
    for i, entry in enumerate(jail.sockets):
        listen, _ = parse_listen(entry.listen) if isinstance(entry.listen, str) else (None, "")
        if listen is not None:
            out.append((i, listen, SocketType(entry.type)))
    return out


def check(jail: Jail, ctx: Ctx, given: set[str]) -> None:
    """What sockets and accept may be combined with; `given`: the top-level keys the file sets itself."""
    seen: dict[tuple[str, str, int, str], int] = {}
    for i, listen, kind in listens(jail):
        where = (kind.value if not listen.unix else "unix", listen.host, listen.port, listen.unix)
        if where in seen:
            ctx.at(f"sockets[{i}].listen", f"{jail.sockets[i].listen} is listed already (sockets[{seen[where]}])")
        seen[where] = i
        if listen.unix and (listen.unix == "/run" or listen.unix.startswith(("/proc/", "/sys/", "/dev/"))):
            ctx.at(f"sockets[{i}].listen", f"{listen.unix}: systemd makes the socket on the host; put it in a "
                   "directory of its own, e.g. /run/NAME.sock")
    if not jail.accept:
        if "max_connections" in given:
            ctx.at("max_connections", "max_connections is for accept: true (one instance per connection)")
        return
    if not jail.sockets:
        ctx.at("accept", "accept: true needs sockets: (the connections it accepts)")
        return
    for i, _, kind in listens(jail):
        if kind != SocketType.STREAM:
            ctx.at(f"sockets[{i}].type", "accept: true takes stream sockets only (a datagram has no connection)")
    refused = {
        "ready": "an instance serves one connection it is handed: there is nothing to wait for",
        "reload_signal": "instances live as long as their connection: there is no one program to reload",
        "restart": "an instance ends with its connection and is never restarted (the socket stays)",
    }
    for key, why in refused.items():
        if key in given:
            ctx.at(key, f"{key} can't be combined with accept: true: {why}; remove it")
    if not jail.namespaces.pid:
        # One uid for every instance, in the host's PID namespace: each would see, signal and read the
        # others' processes (/proc/PID/root: another client's files).
        ctx.at("namespaces.pid", "accept: true needs pid: true (a PID namespace of each instance's own): without "
               "it every instance, run as the same user, sees, signals and reads the files of the others")
    if not jail.namespaces.ipc:
        # (the same user in the host's IPC namespace: each would attach the others' System V shared memory)
        ctx.at("namespaces.ipc", "accept: true needs ipc: true (an IPC namespace of each instance's own): without "
               "it every instance, run as the same user, attaches the shared memory of the others")
    if jail.namespaces.net == "private":
        ctx.at("namespaces.net", "net: private can't be combined with accept: true yet (one network namespace "
               "per jail, not per instance); use none or host")
