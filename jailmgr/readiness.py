"""When a started jail counts as started: ready as its file says, or failed, and why.

- No `ready:` (the default): systemd saw the program executed (Type=exec),
  and it is watched a little longer: a daemon that can't bind its port or
  read its config dies within milliseconds (dnsmasq on a taken port: 15 ms
  after systemd's "Started" on an idle machine).  A guess, and said so.
- `ready: notify`: Type=notify; the unit is active (entered after the
  restart was asked for) once the program said READY=1 (relayed by the
  launcher's supervisor), or failed, at the latest when TimeoutStartSec=
  (start_timeout) ran out.  Its restart does not block, so a long wait is
  said on the way.
- `ready: {port: N}`: a process of the jail listens on port N and a TCP
  connection from the host side to the jail's address is accepted, within
  start_timeout (a daemon that retries a taken port for seconds is running,
  not ready, and the port's other owner must not make it look ready); one
  that is not ready then is stopped.
"""

from __future__ import annotations

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
    import socket  # (only `ready: {port: N}` needs it)

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


def restart_and_wait(jails: list[Jail], runs: Callable[[dict[str, int]], set[str]],
                     say: Callable[[str], None], unloaded: frozenset[str] = frozenset()) -> dict[str, str]:
    """(Re)start the jails and wait until each is ready or failed; unit -> why it failed.

    One systemctl call for the units systemd starts as Type=exec (a unit that
    fails makes it exit non-zero; each unit's own state, read next, says
    which), one without waiting for the notify units, which are then watched.
    `unloaded`: the units systemd has not loaded yet (systemd.restart).
    """
    notified = [j for j in jails if j.ready is not None and j.ready.notify]
    others = [unit for j in jails if j not in notified for unit in started_units(j)]
    asked = time.monotonic()
    if others:
        systemd.restart(others, unloaded=unloaded)
    if notified:
        systemd.restart([u for j in notified for u in started_units(j)], unloaded=unloaded, no_block=True)
    watched = [j.unit_name for j in jails if j.ready is None]
    ported = [j for j in jails if j.ready is not None and j.ready.port is not None]
    failures: dict[str, str] = {}
    if watched:
        failures.update(systemd.settled_failures(watched, started=runs, at_least=SETTLE_AT_LEAST))
    if notified:
        failures.update(_wait_until(notified, lambda jail, props: _entered_active(props, asked), say,
                                    lambda jail: "READY=1 from its program", slack=2.0))
    if ported:
        failures.update(_wait_until(ported, _listening, say,
                                    lambda jail: "a connection accepted by the jail on {}:{}".format(*address(jail))))
    return failures


def started_units(jail: Jail) -> list[str]:
    """What a (re)start of the jail restarts: with sockets (not accept) the socket and the service together,
    so a changed socket unit is in force and the service has its new descriptors; else its main unit."""
    if jail.sockets and not jail.accept:
        return [jail.enable_unit, jail.unit_name]
    return [jail.unit_name]


def _entered_active(props: dict[str, str], since: float) -> bool:
    """Active, and since the restart was asked for (not the instance it replaces)."""
    entered = props.get("ActiveEnterTimestampMonotonic", "0")
    return props.get("ActiveState") == "active" and entered.isdigit() and int(entered) / 1e6 >= since


def _listening(jail: Jail, props: dict[str, str]) -> bool:
    return (props.get("ActiveState") == "active" and accepts(address(jail))
            and jail_listens(int(props.get("MainPID") or 0), address(jail)[1]))


def _wait_until(jails: list[Jail], ready: Callable[[Jail, dict[str, str]], bool], say: Callable[[str], None],
                what: Callable[[Jail], str], slack: float = 0.0) -> dict[str, str]:
    """Poll until each jail is `ready` or failed; one not ready after start_timeout (+ `slack`, when systemd
    itself fails it then) is stopped and said not ready."""
    begin = time.monotonic()
    waiting = {j.unit_name: j for j in jails}
    failures: dict[str, str] = {}
    told = False
    while waiting:
        props_of = systemd.bus_states(list(waiting), *systemd.FAILURE_PROPS, "MainPID",
                                      "ActiveEnterTimestampMonotonic")
        for unit, props in props_of.items():
            reason = systemd.failure(props)
            if reason and props.get("Result") == "timeout":  # systemd's TimeoutStartSec= (start_timeout)
                failures[unit] = f"not ready: no {what(waiting.pop(unit))} within start_timeout ({reason})"
            elif reason:
                failures[unit] = reason
                del waiting[unit]
            elif ready(waiting[unit], props):
                del waiting[unit]
        elapsed = time.monotonic() - begin
        late = [unit for unit, jail in waiting.items() if elapsed >= jail.start_timeout + slack]
        for unit in late:
            failures[unit] = f"not ready: no {what(waiting.pop(unit))} in {elapsed:.0f} s (start_timeout)"
        if late:
            systemd.systemctl("stop", *late, check=False)
        if waiting and not told and elapsed >= _TELL_AFTER:
            say("waiting for " + ", ".join(f"{unit} ({what(jail)})" for unit, jail in waiting.items()))
            told = True
        if waiting:
            time.sleep(0.02)
    return failures
