#!/usr/bin/python3
"""The VM's side of tests/vm: each case through `jailmgr apply` and real services, on cgroup v2.

Run as root inside the VM (jailmgr installed from the checkout by the runner
unit); writes {case: {"ok": bool, "detail": str}} to the path given.  Each
jail runs the static attack program (tests/integration/attack.c) as its
program: it allocates, forks, spins or tries to break out from inside, and
this side reads what the kernel and systemd say of it.  Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

ATTACK = "/usr/local/bin/attack"
JAILS = "/srv/vm"
CASES: dict[str, Callable[[], str]] = {}


class Failed(Exception):
    pass


def case(fn: Callable[[], str]) -> Callable[[], str]:
    CASES[fn.__name__] = fn
    return fn


def check(condition: bool, detail: str) -> None:
    if not condition:
        raise Failed(detail)


def sh(*argv: str, check_rc: bool = True) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check_rc and proc.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited {proc.returncode}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return proc.stdout


def jail(name: str, actions: str, extra: str = "", owner: str = "root", may_fail: bool = False) -> str:
    """Write and apply a jail running the attack program with these actions."""
    argv = ", ".join(["/attack", "serve", *actions.split()])
    text = (f"name: {name}\nexec: [{argv}]\nenable: false\nstop_timeout: 2\n{extra}"
            "tree:\n  files: [{path: /attack, from: " + ATTACK + ", mode: \"0755\"}]\n"
            f"  dirs: [{{path: /data, writable: true, owner: {owner}}}]\n  users: [nobody]\n"
            "mounts: [{type: proc}, {type: tmpfs, target: /tmp}]\n")
    os.makedirs(JAILS, exist_ok=True)
    path = f"{JAILS}/{name}.yaml"
    with open(path, "w") as f:
        f.write(text)
    proc = subprocess.run(["jailmgr", "apply", "-q", path], capture_output=True, text=True)
    if proc.returncode != 0 and not may_fail:
        raise Failed(f"apply {name}: {proc.stderr[-2000:]}")
    return f"jail-{name}.service"


def destroy(*names: str) -> None:
    subprocess.run(["jailmgr", "destroy", "-q", *names], capture_output=True)


def show(unit: str, *props: str) -> dict[str, str]:
    out = sh("systemctl", "show", *[f"--property={p}" for p in props], unit)
    return dict(line.partition("=")[::2] for line in out.splitlines())


def journal(unit: str) -> str:
    return sh("journalctl", "-u", unit, "-o", "cat", "--no-pager")


def wait_for(what: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.2)
    return what()


def cgroup(unit: str) -> str:
    return f"/sys/fs/cgroup/system.slice/{unit}"


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def status(name: str) -> dict:
    return json.loads(sh("jailmgr", "--json", "status", name))["jails"][0]


@case
def memory_max_kills_in_the_jails_own_cgroup() -> str:
    calm = jail("calm", "")
    # (apply may see it die at once: the OOM killer can be that quick)
    unit = jail("mem", "alloc=200", extra="restart: on-failure\nlimits: {memory: 64M}\n", may_fail=True)
    try:
        killed = wait_for(lambda: "oom-kill" in journal(unit), 60)
        check(killed, f"no oom-kill in the journal of {unit}:\n{journal(unit)[-1500:]}")
        check("alloc: got 200 MiB" not in journal(unit), "the program got its 200 MiB")
        restarted = wait_for(lambda: int(show(unit, "NRestarts").get("NRestarts", "0") or 0) >= 1, 30)
        check(restarted, f"not restarted per restart: on-failure: {show(unit, 'NRestarts', 'ActiveState')}")
        check(show(calm, "ActiveState")["ActiveState"] == "active", "the neighbour jail did not survive")
        sh("sh", "-c", "true")
        return f"oom-kill in its cgroup, NRestarts {show(unit, 'NRestarts')['NRestarts']}, neighbour active"
    finally:
        destroy("mem", "calm")


@case
def tasks_max_holds_a_fork_bomb() -> str:
    unit = jail("tasks", "forks=100", extra="limits: {tasks: 16}\n")
    try:
        wait_for(lambda: "forked:" in journal(unit), 30)
        found = re.findall(r"forked: (\d+)", journal(unit))
        check(bool(found), f"the program said nothing:\n{journal(unit)[-1500:]}")
        made = int(found[-1])
        pids = int(read(f"{cgroup(unit)}/pids.current"))
        limit = read(f"{cgroup(unit)}/pids.max").strip()
        check(limit == "16" and pids <= 16 and made < 16, f"forked {made}, pids.current {pids}, pids.max {limit}")
        sh("sh", "-c", "for i in $(seq 32); do sleep 0.1 & done; wait")  # the host still forks
        return f"forked {made} of 100, pids.current {pids} of {limit}; the host forks 32 more"
    finally:
        destroy("tasks")


@case
def cpu_quota_throttles_a_busy_loop() -> str:
    unit = jail("cpu", "spin=12", extra="limits: {cpu: 20%}\n")
    try:
        time.sleep(1.5)

        def usage() -> int:
            return int(re.search(r"usage_usec (\d+)", read(f"{cgroup(unit)}/cpu.stat")).group(1))  # type: ignore[union-attr]

        u0, t0 = usage(), time.monotonic()
        time.sleep(5)
        u1, t1 = usage(), time.monotonic()
        share = (u1 - u0) / 1e6 / (t1 - t0)
        throttled = int(re.search(r"nr_throttled (\d+)", read(f"{cgroup(unit)}/cpu.stat")).group(1))  # type: ignore[union-attr]
        quota = read(f"{cgroup(unit)}/cpu.max").strip()
        check(0.10 <= share <= 0.30 and throttled > 0, f"{share:.0%} of a CPU, nr_throttled {throttled}, "
                                                       f"cpu.max {quota}")
        return f"{share:.0%} of a CPU over 5 s (cpu.max {quota}), throttled {throttled} times"
    finally:
        destroy("cpu")


@case
def memory_high_io_weight_and_open_files_reach_the_kernel() -> str:
    name = "lims"
    unit = jail(name, "", extra="limits: {memory: 128M, memory_high: 100M, io_weight: 300, open_files: 321, "
                                "tasks: 32}\n")
    try:
        got = {"memory.max": read(f"{cgroup(unit)}/memory.max").strip(),
               "memory.high": read(f"{cgroup(unit)}/memory.high").strip()}
        io = f"{cgroup(unit)}/io.weight"
        got["io.weight"] = read(io).strip() if os.path.exists(io) else "(no io.weight: io controller off)"
        pid = status(name)["program_pid"]
        limits = read(f"/proc/{pid}/limits")
        nofile = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
        got["nofile"] = " ".join(nofile.groups()) if nofile else "?"
        check(got["memory.max"] == str(128 << 20) and got["memory.high"] == str(100 << 20)
              and got["io.weight"] == "default 300" and got["nofile"] == "321 321", str(got))
        return ", ".join(f"{k} {v}" for k, v in got.items())
    finally:
        destroy(name)


@case
def status_shows_live_memory_and_tasks_against_their_limits() -> str:
    name = "live"
    jail(name, "forks=3", extra="limits: {memory: 96M, tasks: 20}\n")
    try:
        time.sleep(1)
        doc = status(name)
        usage = doc["usage"]
        check(str(usage.get("MemoryCurrent", "")).isdigit() and str(usage.get("TasksCurrent", "")).isdigit(),
              f"usage {usage}")
        text = sh("jailmgr", "status", name)
        line = next((line for line in text.splitlines() if line.strip().startswith("limits:")), "")
        check("MemoryMax=100663296" in line and "TasksMax=20" in line
              and re.search(r"usage: MemoryCurrent=\d+, TasksCurrent=(\d+)", line) is not None, line)
        tasks = int(re.search(r"TasksCurrent=(\d+)", line).group(1))  # type: ignore[union-attr]
        check(tasks >= 4, f"TasksCurrent {tasks}: the program and its 3 children are not all counted")
        return f"{line.strip()} (limits MemoryMax={doc['limits']['MemoryMax']}, TasksMax={doc['limits']['TasksMax']})"
    finally:
        destroy(name)


def _breakout(name: str, extra: str, owner: str) -> str:
    journald = sh("systemctl", "show", "-P", "MainPID", "systemd-journald.service").strip()
    before = {"hostname": read("/proc/sys/kernel/hostname").strip(), "swappiness": read("/proc/sys/vm/swappiness"),
              "thp": read("/sys/kernel/mm/transparent_hugepage/enabled"), "modules": read("/proc/modules"),
              "clock": time.time()}
    unit = jail(name, f"breakout={journald}", extra=extra, owner=owner)
    try:
        wait_for(lambda: "breakout: done" in journal(unit), 30)
        text = journal(unit)
        lines = dict(re.findall(r"breakout (\w+): (.*)", text))
        expected = {"mount", "module", "ptrace", "kill", "sys", "procsys", "mknod", "hostname", "settime"}
        check(set(lines) == expected, f"attempts seen: {sorted(lines)}\n{text[-1500:]}")
        # Its own UTS namespace's hostname may be its to change under the launcher; the host's never.
        succeeded = [k for k, v in lines.items() if v == "ok" and not (k == "hostname" and "launcher" in name)]
        check(not succeeded, f"succeeded from inside: {succeeded}: {lines}")
        after = {"hostname": read("/proc/sys/kernel/hostname").strip(), "swappiness": read("/proc/sys/vm/swappiness"),
                 "thp": read("/sys/kernel/mm/transparent_hugepage/enabled"), "modules": read("/proc/modules")}
        for key, value in after.items():
            check(value == before[key], f"the host's {key} changed: {before[key]!r} -> {value!r}")
        check(abs(time.time() - before["clock"]) < 120, "the host's clock jumped")
        check(show("systemd-journald.service", "ActiveState")["ActiveState"] == "active", "journald was reached")
        check(not os.path.exists(f"/var/lib/jailmgr/jails/{name}/root/data/null2"), "a device node was made")
        return "; ".join(f"{k}: {v}" for k, v in sorted(lines.items()))
    finally:
        destroy(name)


@case
def no_escape_from_a_launcher_jail_as_its_root() -> str:
    return _breakout("launcher", "", "root")


@case
def no_escape_from_a_native_jail_as_its_user() -> str:
    return _breakout("native", "user: nobody\nnamespaces: {pid: false, uts: false, cgroup: false}\n", "nobody")


@case
def a_time_namespaced_jail_counts_its_uptime_from_its_start() -> str:
    """namespaces.time in both shapes: the program's boot and monotonic clocks start at its start (the VM's
    are tens of seconds on), `jailmgr exec` reads the same, and status lists the namespace as its own."""
    shapes = {"timens-launcher": "namespaces: {time: true}\n",
              "timens-native": "user: nobody\nnamespaces: {pid: false, uts: false, cgroup: false, time: true}\n"}
    said = []
    try:
        for name, extra in shapes.items():
            started = time.monotonic()
            unit = jail(name, "uptime", extra=extra, owner="nobody" if "native" in name else "root")
            wait_for(lambda unit=unit: "uptime: " in journal(unit), 30)
            age = time.monotonic() - started
            found = re.search(r"uptime: boottime ([\d.]+) monotonic ([\d.]+)", journal(unit))
            check(found is not None, f"{name}: no uptime line: {journal(unit)[-1500:]}")
            assert found is not None
            host = float(read("/proc/uptime").split()[0])
            boot, mono = float(found[1]), float(found[2])
            check(boot <= age and mono <= age and host > age, f"{name}: jail {boot}/{mono} s, age {age:.3f} s, "
                  f"VM {host} s")
            again = re.search(r"boottime ([\d.]+)", sh("jailmgr", "exec", name, "--", "/attack", "uptime"))
            check(again is not None and float(again[1]) <= time.monotonic() - started,
                  f"{name}: exec read {again and again[0]}")
            kinds = {ns["type"]: ns["shared_with_host"] for ns in status(name)["namespaces"]}
            check(kinds.get("time") is False, f"{name}: status lists {kinds}")
            said.append(f"{name}: {boot:.3f} s at its start (VM up {host:.0f} s)")
        return "; ".join(said)
    finally:
        destroy(*shapes)


def main() -> int:
    out = sys.argv[1]
    shutil.copy("/share/attack", ATTACK)
    os.chmod(ATTACK, 0o755)
    results: dict[str, dict[str, object]] = {}
    facts = {"cgroup2": os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
             "controllers": read("/sys/fs/cgroup/cgroup.subtree_control").strip()
             if os.path.exists("/sys/fs/cgroup/cgroup.subtree_control") else ""}
    for name, fn in CASES.items():
        started = time.monotonic()
        try:
            detail = fn()
            results[name] = {"ok": True, "detail": detail}
        except Failed as exc:
            results[name] = {"ok": False, "detail": str(exc)}
        except Exception:  # a broken case is a failed case, with its traceback
            results[name] = {"ok": False, "detail": traceback.format_exc()[-2000:]}
        results[name]["seconds"] = round(time.monotonic() - started, 1)
        print(f"vmtest: {name}: {'ok' if results[name]['ok'] else 'FAILED'}", flush=True)
    results["_machine"] = {"ok": True, "detail": json.dumps(facts)}
    with open(out + ".tmp", "w") as f:
        json.dump(results, f, indent=2)
    os.rename(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
