"""Talk to systemd: systemctl through the subprocess gateway."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable

from . import unitstate
from .run import run

# (defined in unitstate.py, which the no-op apply imports without this module's subprocess)
running = unitstate.running
ran_and_ended = unitstate.ran_and_ended


SYSTEMCTL = ("systemctl", "--no-ask-password")


def systemctl(*args: str, check: bool = True, ok_codes: tuple[int, ...] = (0,)) -> str:
    return run([*SYSTEMCTL, *args], check=check, ok_codes=ok_codes).stdout


def daemon_reload() -> None:
    systemctl("daemon-reload")


def start_batch() -> int:
    """How many units one `systemctl restart` starts side by side.

    systemd starts every unit of one call at once; a jail's unit is heavy to
    start (mount and PID namespaces, a procfs, bubblewrap), and hundreds at
    once thrash a small machine: on 2 cores, 500 at once cost 52 ms a unit,
    8 to 25 at a time 28 ms.  Eight a CPU keeps every CPU busy.
    """
    return 8 * (os.cpu_count() or 1)


def restart(units: list[str], *, unloaded: frozenset[str] = frozenset(), no_block: bool = False) -> None:
    """`systemctl restart` of units, start_batch() at a time (all at once with no_block, which waits for
    none); whether each started is for its state to say.

    A unit that systemd has not loaded (`unloaded`: new since its last
    daemon-reload) needs no reload to start: systemd loads it from disk when
    asked, rebuilding its map of unit files when their directories' mtimes
    moved.  Should it still not find one (its map built within the same
    clock tick as the unit was written), it is reloaded and asked again.
    """
    argv = ["restart", *(["--no-block"] if no_block else [])]
    batch = len(units) if no_block else start_batch()
    for first in range(0, len(units), max(1, batch)):
        chunk = units[first:first + batch]
        proc = run([*SYSTEMCTL, *argv, *chunk], check=False)
        missing = sorted(unloaded & set(chunk)) if proc.returncode else []
        if missing:
            missing = [unit for unit, props in states(missing, "LoadState").items()
                       if props.get("LoadState") == "not-found"]
        if missing:
            daemon_reload()
            run([*SYSTEMCTL, *argv, *missing], check=False)


def enable(units: list[str]) -> None:
    """Enable units as `systemctl enable --no-reload` does, by their [Install] link (unitstate.wants_link).

    Through systemctl, systemd 255 and later mark every unit as needing a
    daemon-reload until the next one; the link alone is what boot reads, and
    a unit systemd has not loaded yet reads its enablement when it is loaded.
    """
    from .paths import unit_dir

    for unit in units:
        link, target = unitstate.wants_link(unit), os.path.join(unit_dir(), unit)
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        os.makedirs(os.path.dirname(link), mode=0o755, exist_ok=True)
        new = f"{link}.jailmgr-new"
        if os.path.lexists(new):
            os.unlink(new)
        os.symlink(target, new)
        os.replace(new, link)


def show(unit: str, *props: str) -> dict[str, str]:
    out = systemctl("show", unit, *[f"--property={p}" for p in props])
    values = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    return values


def main_pid(unit: str) -> int:
    """The unit's main PID as systemd knows it; 0 when it is not running."""
    return int(show(unit, "MainPID").get("MainPID", "0") or 0)


def is_template(unit: str) -> bool:
    """A template unit (jail-NAME@.service): systemd knows only its instances, never the template itself."""
    return unit.endswith("@.service")


def instances_pattern(template: str) -> str:
    """What systemctl matches every instance of a template with: jail-NAME@.service -> jail-NAME@*.service."""
    return template[:-len(".service")] + "*.service"


def instances(templates: list[str]) -> dict[str, dict[str, str]]:
    """A template's instances, as if it were a unit: active while any instance runs (Instances: how many;
    systemd knows no state of the template itself).  One list-units call for all."""
    found = {t: {"ActiveState": "inactive", "SubState": "dead", "LoadState": "loaded", "Instances": "0",
                 "Result": "success", "UnitFileState": "static"} for t in templates}
    if not templates:
        return found
    prefixes = {t[:-len(".service")]: t for t in templates}  # jail-NAME@
    out = systemctl("list-units", "--plain", "--no-legend", "--full", "--no-pager", "--",
                    *map(instances_pattern, templates))
    for line in out.splitlines():
        parts = line.split(None, 4)
        template = prefixes.get(parts[0].partition("@")[0] + "@") if parts and "@" in parts[0] else None
        if template is not None and len(parts) >= 4 and parts[2] in ("active", "activating", "reloading"):
            values = found[template]
            values["Instances"] = str(int(values["Instances"]) + 1)
            values["ActiveState"], values["SubState"] = "active", "running"
    return found


def states(units: list[str], *props: str) -> dict[str, dict[str, str]]:
    """Properties of many units in one systemctl call (unknown units come back inactive; a template is said
    by its instances)."""
    templates = [u for u in units if is_template(u)]
    units = [u for u in units if not is_template(u)]
    if not units:
        return instances(templates) if templates else {}
    wanted = props or ("ActiveState", "SubState", "Result", "UnitFileState")
    out = systemctl("show", *[f"--property={p}" for p in ("Id", *wanted)], "--", *units)
    found: dict[str, dict[str, str]] = instances(templates) if templates else {}
    for block, unit in zip(out.split("\n\n"), units, strict=False):  # one block a unit, in order
        values = dict(line.partition("=")[::2] for line in block.strip().splitlines())
        found[values.get("Id") or unit] = values
    return found


_UNIT_PROPS = frozenset({"Id", "ActiveState", "SubState", "LoadState", "UnitFileState", "Description",
                         "ActiveEnterTimestampMonotonic"})


def bus_states(units: list[str], *props: str) -> dict[str, dict[str, str]]:
    """What states(units, *props) says, asked of systemd over its private socket, one Get a property (a unit
    that is not a service is asked only its Unit properties); through systemctl when that socket can't be used.

    systemctl show asks every property of every unit (GetAll): about 1-4 ms of systemd's time a unit,
    most of `status` of a fleet; a Get of the few wanted costs a hundredth of it (sdbus.py)."""
    from . import sdbus, showfmt

    templates = [u for u in units if is_template(u)]
    plain = [u for u in units if not is_template(u)]
    asked = [(unit, sdbus.UNIT_IFACE if prop in _UNIT_PROPS else sdbus.SERVICE_IFACE, prop)
             for unit in plain for prop in props if prop in _UNIT_PROPS or unit.endswith(".service")]
    try:
        if os.geteuid() != 0:
            raise sdbus.BusError("the private socket is root's")
        values = sdbus.get_many(asked)
    except sdbus.BusError:
        return states(units, *props)
    found: dict[str, dict[str, str]] = instances(templates) if templates else {}
    for unit in plain:
        found[unit] = {"Id": unit}
    for (unit, _iface, prop), value in zip(asked, values, strict=True):
        found[unit][prop] = showfmt.show_value(prop, value)
    return found


class AskedStates:
    """bus_states(units, *props) asked in a thread: systemd answers on its own CPU while the caller reads /proc
    and the trees (`status` of 500 jails: its 60 ms are hidden); result() waits, and raises what it raised."""

    def __init__(self, units: list[str], *props: str) -> None:
        import threading

        self._found: dict[str, dict[str, str]] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._ask, args=(units, props), daemon=True)
        self._thread.start()

    def _ask(self, units: list[str], props: tuple[str, ...]) -> None:
        try:
            self._found = bus_states(units, *props)
        except BaseException as exc:  # (handed to the caller by result())
            self._error = exc

    def result(self) -> dict[str, dict[str, str]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found


def overview(units: list[str]) -> dict[str, dict[str, str]]:
    """ActiveState, SubState, LoadState, Result and UnitFileState of many units, cheaply.

    `systemctl show` of N units costs N bus round trips (about 4 ms each: 2 s
    for 500 jails), so this asks `list-units` once (one ListUnitsByPatterns
    call; a unit it doesn't list is not loaded: inactive) and reads
    enablement from the [Install] symlink that `enable` makes for
    WantedBy=multi-user.target, which is all a jail unit's [Install] holds.
    """
    templates = [u for u in units if is_template(u)]
    units = [u for u in units if not is_template(u)]
    found = {unit: {"ActiveState": "inactive", "SubState": "dead", "LoadState": "not-found"} for unit in units}
    if units:
        out = systemctl("list-units", "--all", "--plain", "--no-legend", "--full", "--no-pager", "--", *units)
        for line in out.splitlines():
            parts = line.split(None, 4)
            if len(parts) >= 4 and parts[0] in found:
                found[parts[0]] = {"ActiveState": parts[2], "SubState": parts[3], "LoadState": parts[1]}
    for unit, values in found.items():
        values["Result"] = "failed" if values["ActiveState"] == "failed" else "success"
        values["UnitFileState"] = "enabled" if unitstate.enabled(unit) else "disabled"
    return {**found, **instances(templates)} if templates else found


FAILURE_PROPS = ("ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainCode")
_CLD_KILLED = ("2", "3")  # ExecMainCode: CLD_KILLED, CLD_DUMPED (ExecMainStatus is then the signal)


def failure(props: dict[str, str]) -> str | None:
    """Why a just-started unit failed (or is waiting to restart), from FAILURE_PROPS; None if it did not."""
    if props.get("ActiveState") != "failed" and props.get("SubState") != "auto-restart":
        return None
    how = "signal" if props.get("ExecMainCode") in _CLD_KILLED else "exit status"
    return f"{props.get('Result')} ({how} {props.get('ExecMainStatus')})"


def settled_failures(units: list[str], started: Callable[[dict[str, int]], set[str]] | None = None,
                     seconds: float = 0.5, at_least: float = 0.0) -> dict[str, str]:
    """Watch just-started units; for each that failed or is restarting, the reason.

    Under the launcher, systemd sees bwrap start even when the program then
    can't be executed: this catches a jail that dies at once.  A unit is
    settled when it failed, or (after `at_least`) when `started({unit: main
    PID})` says its program runs (one call a round, for every unit still
    watched: it reads the process table once, not once a unit); the others
    are watched for `seconds`.  systemd is asked again only when a main
    process it named has ended since (its pidfd says so): while each lives,
    no unit can have failed.
    """
    begin = time.monotonic()
    failed: dict[str, str] = {}
    settled: set[str] = set()
    mains: dict[str, tuple[int, int]] = {}  # unit -> its main PID as systemd said it, and a pidfd of it
    try:
        while True:
            watched = [u for u in units if u not in failed and u not in settled]
            if all(u in mains and _alive(mains[u][1]) for u in watched):
                running = {u: mains[u][0] for u in watched}
            else:
                running = {}
                for unit, props in bus_states(watched, *FAILURE_PROPS, "MainPID").items():
                    reason = failure(props)
                    if reason:
                        failed[unit] = reason
                    else:
                        running[unit] = int(props.get("MainPID") or 0)
                        _follow(mains, unit, running[unit])
            if started is not None and running and time.monotonic() - begin >= at_least:
                settled |= started(running)
            elapsed = time.monotonic() - begin
            if elapsed >= seconds or len(failed) + len(settled) == len(units):
                return failed
            # Before `at_least` nothing can settle: the next look is then.
            time.sleep(max(0.005, at_least - elapsed) if started is not None else 0.005)
    finally:
        for _, fd in mains.values():
            os.close(fd)


def _follow(mains: dict[str, tuple[int, int]], unit: str, pid: int) -> None:
    """Keep a pidfd of the unit's main process (none for 0, or one that is gone already)."""
    if unit in mains and mains[unit][0] == pid:
        return
    if unit in mains:
        os.close(mains.pop(unit)[1])
    if pid > 0:
        with contextlib.suppress(OSError):  # (gone already: systemd is asked next time)
            mains[unit] = (pid, os.pidfd_open(pid))


def _alive(pidfd: int) -> bool:
    """The process of a pidfd has not ended (the pidfd is readable once it has)."""
    import select

    return not select.select([pidfd], [], [], 0)[0]


def exposure(unit: str, offline_text: str | None = None) -> float | None:
    """systemd-analyze security's overall exposure (0 best, 10 worst) of a loaded unit,
    or of unit text not installed yet (--offline); None when it can't be had."""
    argv = ["systemd-analyze", "security", "--no-pager"]
    import tempfile  # (only the exposure score needs it: not the no-op apply)

    with tempfile.TemporaryDirectory(prefix="jailmgr-score-") as tmp:
        if offline_text is not None:
            path = f"{tmp}/{unit}"
            with open(path, "w", encoding="utf-8") as f:
                f.write(offline_text)
            argv += ["--offline=yes", path]
        else:
            argv.append(unit)
        proc = run(argv, check=False)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    return float(match.group(1)) if match else None
