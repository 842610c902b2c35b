"""When a started jail counts as started: ready as its file says, or failed, and why.

- No `ready:` (the default): systemd saw the program executed (Type=exec),
  and it is watched a little longer: a daemon that can't bind its port or
  read its config dies within milliseconds (dnsmasq on a taken port: 15 ms
  after systemd's "Started" on an idle machine).  A guess, and said so.
- `ready: notify`: Type=notify; `systemctl start` returned once the program
  said READY=1 (relayed by the launcher's supervisor), or once it failed or
  TimeoutStartSec= (start_timeout) ran out.
- `ready: {port: N}`: a process of the jail listens on port N and a TCP
  connection from the host side to the jail's address is accepted, within
  start_timeout (a daemon that retries a taken port for seconds is running,
  not ready, and the port's other owner must not make it look ready); one
  that is not ready then is stopped.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from . import procfs, systemd
from .model import Jail

SETTLE_AT_LEAST = 0.05  # seconds a started program must have run before apply reports it started
_TELL_AFTER = 1.0  # a wait longer than this is said on the way (a terminal shows progress)


def address(jail: Jail) -> tuple[str, int]:
    """Where the host reaches the jail's ready port: loopback, or the jail's side of its veth pair."""
    assert jail.ready is not None and jail.ready.port is not None
    host = "127.0.0.1"
    if jail.namespaces.net == "private" and jail.network is not None:
        host = jail.network.jail.split("/")[0]
    return host, jail.ready.port


def accepts(where: tuple[str, int], timeout: float = 0.25) -> bool:
    try:
        with socket.create_connection(where, timeout=timeout):
            return True
    except OSError:
        return False


def jail_listens(main_pid: int, port: int) -> bool:
    """A process of the unit (main_pid and below) holds a socket listening on `port`."""
    pids = procfs.descendants(main_pid) if main_pid > 0 else []
    listening: set[int] = set()
    seen_ns: set[int] = set()
    for pid in pids:  # one reading of the table per network namespace
        inode = procfs.ns_inode(pid, "net")
        if inode and inode not in seen_ns:
            seen_ns.add(inode)
            listening |= procfs.listening_inodes(pid, port)
    return bool(listening & procfs.socket_inodes(pids)) if listening else False


def wait(jails: list[Jail], runs: Callable[[str, int], bool], say: Callable[[str], None]) -> dict[str, str]:
    """Wait until each just-started jail is ready or failed; unit -> why it failed."""
    watched = [j.unit_name for j in jails if j.ready is None]
    notified = [j.unit_name for j in jails if j.ready is not None and j.ready.notify]
    ported = [j for j in jails if j.ready is not None and j.ready.port is not None]
    failures: dict[str, str] = {}
    if watched:
        failures.update(systemd.settled_failures(watched, started=runs, at_least=SETTLE_AT_LEAST))
    if notified:  # systemd has already waited for READY=1: active now, or failed
        failures.update(systemd.settled_failures(notified, started=lambda unit, pid: True))
    if ported:
        failures.update(_wait_for_ports(ported, say))
    return failures


def _wait_for_ports(jails: list[Jail], say: Callable[[str], None]) -> dict[str, str]:
    begin = time.monotonic()
    waiting = {j.unit_name: j for j in jails}
    failures: dict[str, str] = {}
    told = False
    while waiting:
        for unit, props in systemd.states(list(waiting), *systemd.FAILURE_PROPS, "MainPID").items():
            reason = systemd.failure(props)
            if reason:
                failures[unit] = reason
                del waiting[unit]
            elif (props.get("ActiveState") == "active" and accepts(address(waiting[unit]))
                  and jail_listens(int(props.get("MainPID") or 0), address(waiting[unit])[1])):
                del waiting[unit]
        elapsed = time.monotonic() - begin
        late = [unit for unit, jail in waiting.items() if elapsed >= jail.start_timeout]
        for unit in late:
            host, port = address(waiting.pop(unit))
            failures[unit] = (f"not ready: nothing of the jail accepted a connection on {host}:{port} in "
                              f"{elapsed:.0f} s (start_timeout)")
        if late:
            systemd.systemctl("stop", *late, check=False)
        if waiting and not told and elapsed >= _TELL_AFTER:
            say("waiting for " + ", ".join(f"{u} ({address(j)[0]}:{address(j)[1]})" for u, j in waiting.items()))
            told = True
        if waiting:
            time.sleep(0.02)
    return failures
