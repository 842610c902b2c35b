"""The commands that act on the host (root only): plan, apply, destroy, list, status, logs, exec, check, stale."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable

from . import paths, procfs, run, state, systemd
from .output import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, Output, read_stdin_as, require_root
from .quickdata import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .plan import JailPlan
    from .render import Rendered


def _paths(args: argparse.Namespace) -> list[str]:
    from .spec import default_paths

    return args.paths or default_paths()


def _setup(args: argparse.Namespace, out: Output) -> None:
    require_root(args.command)
    run.VERBOSE = bool(args.verbose)


def _show_plans(plans: list[JailPlan], out: Output) -> bool:
    from . import ops  # (with the model: not for `status`)

    any_change = False
    docs = []
    for plan in plans:
        for warning in plan.warnings:
            out.warn(f"{plan.name}: {warning}")
        if plan.changes or plan.pending_restart or plan.after:
            any_change = True
            out.line(f"{plan.name}:")
            for change in [*plan.changes, *plan.after]:
                out.line(change.describe())
                if isinstance(change, ops.WriteUnit):
                    for line in change.diff():
                        out.line(f"      {line}")
            if plan.pending_restart and not plan.changes:
                out.line("  ~ service    restart left pending by an interrupted apply")
            elif plan.start and not plan.destroy:
                out.line(f"  ~ service    {'restart' if plan.start == 'restart' else 'start'}")
        docs.append(plan.doc())
    out.doc["jails"] = docs
    out.doc["changed"] = any_change
    return any_change


def _exposure_change(item: Rendered, out: Output) -> None:
    """Say when the new unit scores worse than the one in place (systemd-analyze security --offline)."""

    unit = item.loaded.jail.unit_name
    new = systemd.exposure(unit, item.unit_text)
    current = paths.read_unit(unit)
    old = systemd.exposure(unit, current) if current is not None else None
    if new is not None and old is not None and new > old:
        out.warn(f"{item.name}: the change makes the exposure score worse: {old:.1f} -> {new:.1f}")
    if new is not None:
        shown = f"{old:.1f} -> {new:.1f}" if old is not None else f"{new:.1f}"
        out.line(f"{item.name}: exposure {shown} (systemd-analyze security)")
    out.doc.setdefault("exposure", {})[item.name] = {"before": old, "after": new}


def cmd_plan(args: argparse.Namespace, out: Output) -> int:
    from .apply import survey
    from .plan import JailPlan

    _setup(args, out)
    read_stdin_as(args)
    with state.locked():
        found = survey(_paths(args), out.warn, prune=args.prune)
        rendered, plans = found.rendered, found.plans
        if found.refused:
            out.problems(sorted(p for problems in found.refused.values() for p in problems))
        for note in found.notes:
            out.warn(f"not checked: {note}")
        for item in rendered:
            for warning in item.warnings:
                out.warn(warning)
        changed = _show_plans(plans + found.removals + [JailPlan(r.name, r) for r in found.unchanged], out)
    for item, plan in zip(rendered, plans, strict=True):
        if plan.units_changed:
            _exposure_change(item, out)
    refused = [plan.refused for plan in found.removals if plan.refused]
    for reason in refused:  # (apply would leave these jails and fail the same way)
        out.error(reason)
    for name in found.refused:  # (the preflight's problems of their host state, said above)
        out.error(f"{name}: apply would refuse it, and write nothing of it", hint="fix what is said above")
    if refused or found.refused:
        return EXIT_ERROR
    if not changed:
        out.line("nothing to change")
    return EXIT_CHANGES if changed and args.detailed_exitcode else EXIT_OK


def cmd_apply(args: argparse.Namespace, out: Output) -> int:
    from .apply import apply

    _setup(args, out)
    progress = None
    if sys.stderr.isatty() and not (args.quiet or args.json or args.verbose):
        def progress(done: int, total: int, name: str) -> None:
            print(f"jailmgr: [{done}/{total}] {name}", file=sys.stderr, flush=True)
    outcomes = apply(_paths(args), say=out.line, warn=out.warn, check=args.check, prune=args.prune,
                     detail=out.line if args.verbose else lambda _: None, progress=progress)
    if any(o.problems for o in outcomes):
        out.problems(sorted(p for o in outcomes for p in o.problems))
    changed = _show_plans([o.plan for o in outcomes], out) if args.check else any(
        o.plan.restart_needed or o.restarted or o.plan.destroy for o in outcomes)
    for outcome in outcomes:
        for path in outcome.left:
            out.warn(f"{outcome.name}: left in place: {path}")
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        out.error(outcome.error)
    out.doc["restarted"] = [o.name for o in outcomes if o.restarted]
    out.doc["failed"] = {o.name: o.error for o in failed}
    out.doc["changed"] = changed
    if failed:
        out.error(f"{len(failed)} of {len(outcomes)} jails failed; the others were brought to their files",
                  hint="fix what is said above and apply again: only what is left is done again")
        return EXIT_ERROR
    if not changed:
        out.line("nothing to change")
    return EXIT_CHANGES if changed and args.detailed_exitcode else EXIT_OK


def cmd_destroy(args: argparse.Namespace, out: Output) -> int:
    from .destroy import destroy

    _setup(args, out)
    left = destroy(args.names, say=out.line)
    out.doc["destroyed"] = [name for name, items in left.items() if not items]
    out.doc["left"] = left
    return EXIT_ERROR if any(left.values()) else EXIT_OK


def cmd_reload(args: argparse.Namespace, out: Output) -> int:
    """`systemctl reload` of each jail: its ExecReload= hands reload_signal to the program."""
    _setup(args, out)
    units = {}
    for name in args.names:
        recorded = _recorded(name, out)
        if recorded is None:
            out.error(f"no jail named {name!r} is managed here", hint="`jailmgr list` shows them")
        else:
            units[name] = recorded.unit
    props = systemd.states(list(units.values()), "CanReload", "ActiveState")
    failed = len(args.names) - len(units)
    ready = []
    for name, unit in units.items():
        seen = props.get(unit, {})
        if seen.get("CanReload") != "yes":
            out.error(f"{name}: it has no reload_signal", hint="name one in its file (e.g. reload_signal: SIGHUP) "
                      "and apply; `jailmgr apply` restarts what changed")
            failed += 1
        elif seen.get("ActiveState") != "active":
            out.error(f"{name}: {unit} is {seen.get('ActiveState', 'unknown')}, not running: nothing to reload")
            failed += 1
        else:
            ready.append(name)
    if ready:
        systemd.systemctl("reload", *(units[name] for name in ready))
        for name in ready:
            out.line(f"{name}: reloaded {units[name]}")
    out.doc["reloaded"] = ready
    return EXIT_ERROR if failed else EXIT_OK


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    _setup(args, out)
    names = state.managed()
    for name in names:
        out.line(name)
    out.doc["jails"] = names
    return EXIT_OK


LIMIT_PROPS = ("MemoryMax", "MemoryHigh", "TasksMax", "CPUQuotaPerSecUSec", "IOWeight", "LimitNOFILE")
USAGE_PROPS = ("MemoryCurrent", "TasksCurrent")
STATUS_PROPS = ("ActiveState", "SubState", "MainPID", "Result", "UnitFileState", *LIMIT_PROPS, *USAGE_PROPS)


@dataclass
class StatusDoc:
    """What `status` says of one jail (the JSON is its fields)."""

    name: str
    unit: str
    root: str
    active: str
    sub: str
    main_pid: int
    program_pid: int
    result: str
    enabled: str
    launcher: bool
    namespaces: list[procfs.Namespace]
    confinement: dict[str, str]
    limits: dict[str, str]
    usage: dict[str, str]
    drift: list[str]
    units: dict[str, str]  # every unit of the jail (the main one first) -> its ActiveState
    source: str = ""  # the jail file of its last apply (what `plan` would read for it)

    def as_json(self) -> dict[str, object]:
        """dataclasses.asdict(self) without its deep copies (a fifth of `status` of 500 jails): the fields
        are strings, numbers, and lists and dicts of them, which nothing changes afterwards."""
        return {**vars(self), "namespaces": [dict(vars(ns)) for ns in self.namespaces]}


def _status_doc(name: str, recorded: state.JailState, units: dict[str, dict[str, str]], table: procfs.ProcTable,
                drift: list[str]) -> StatusDoc:
    props = units.get(recorded.unit, {})
    main_pid = int(props.get("MainPID", "0") or 0)
    seen = procfs.observe(main_pid, recorded.launcher, recorded.launcher_init, table)
    return StatusDoc(
        name=name, unit=recorded.unit, root=recorded.root, active=props.get("ActiveState", ""),
        sub=props.get("SubState", ""), main_pid=main_pid, program_pid=seen.program_pid,
        result=props.get("Result", ""), enabled=props.get("UnitFileState", ""), launcher=recorded.launcher,
        namespaces=seen.namespaces, confinement=seen.confinement,
        limits={k: props.get(k, "") for k in LIMIT_PROPS}, usage={k: props.get(k, "") for k in USAGE_PROPS},
        drift=drift,
        units={unit: _unit_state(units.get(unit, {})) for unit in [recorded.unit, *recorded.extra_units]},
        source=recorded.source or "")


def _unit_state(props: dict[str, str]) -> str:
    """A unit's ActiveState; a template's (accept: true) is how many instances run."""
    return f"{props['Instances']} running" if "Instances" in props else props.get("ActiveState", "")


def _recorded(name: str, out: Output) -> state.JailState | None:
    return state.recorded_state(name, out.warn)


def _drift(recorded: state.JailState | None, out: Output, seen: dict[str, str] | None = None) -> list[str]:
    """What differs from the last apply: its inputs, the unit file, the tree (from fingerprints, without
    rendering the jail again); a record without fingerprints is rendered and planned instead.  `seen`: the
    inputs' fingerprints already taken in this run (fingerprint.changed_inputs)."""
    from . import fingerprint, unchanged

    if recorded is None or not recorded.source:
        return []
    if not recorded.inputs or not recorded.built:
        return _drift_by_rendering(recorded, out)
    found = [f"{path}: changed since the last apply" for path in fingerprint.changed_inputs(recorded.inputs, seen)
             if path != recorded.source]
    if unchanged.source_changed(recorded.source, recorded):
        found.insert(0, f"{recorded.source}: the jail file changed since the last apply")
    if unchanged.unit_changed(recorded):
        found.append(f"{recorded.unit}: the unit file is not the one apply wrote")
    found += [f"{path}: changed in the tree" for path in unchanged.tree_changes(recorded)]
    return found


def _drift_by_rendering(recorded: state.JailState, out: Output) -> list[str]:
    from .apply import plan_all, prepare

    try:
        rendered = prepare([recorded.source])
    except Exception as exc:  # the jail file moved or broke: that is drift too, said plainly
        return [f"cannot render {recorded.source}: {exc}"]
    plans = plan_all(rendered, out.warn)
    return [c.describe().strip() for plan in plans for c in plan.changes]


def cmd_status(args: argparse.Namespace, out: Output) -> int:
    _setup(args, out)
    names = args.names or state.managed()
    docs, code = [], EXIT_OK
    records = {name: _recorded(name, out) for name in names}
    # One round of questions to systemd, answered on its own CPU while this one reads /proc once and each
    # jail's drift, for all the jails.
    asked = systemd.AskedStates([u for r in records.values() if r is not None for u in [r.unit, *r.extra_units]],
                                *STATUS_PROPS)
    table = procfs.ProcTable()
    inputs: dict[str, str] = {}  # the fingerprints of the inputs the jails share, taken once
    drifts = {name: _drift(recorded, out, inputs) for name, recorded in records.items() if recorded is not None}
    units = asked.result()
    for name in names:
        recorded = records[name]
        if recorded is None:
            out.warn(f"{name}: not managed by jailmgr")
            code = EXIT_ERROR
            continue
        doc = _status_doc(name, recorded, units, table, drifts[name])
        docs.append(doc.as_json())
        out.line(f"{name}: {doc.active} ({doc.sub}), main PID {doc.main_pid}, "
                 f"program PID {doc.program_pid}, root {doc.root}, unit {doc.unit} ({doc.enabled})")
        if doc.namespaces:
            out.line(f"  {'TYPE':7} {'NS':>11} {'NPROCS':>6} {'PID':>7} {'SHARED':6} COMMAND")
            for ns in doc.namespaces:
                shared = "host" if ns.shared_with_host else "own"
                out.line(f"  {ns.type:7} {ns.inode:>11} {ns.nprocs:>6} {ns.pid:>7} {shared:6} {ns.command}")
        if doc.confinement:
            out.line("  " + ", ".join(f"{k} {' '.join(v.split())}" for k, v in doc.confinement.items()))
        out.line("  limits: " + ", ".join(f"{k}={v}" for k, v in doc.limits.items()) +
                 "; usage: " + ", ".join(f"{k}={v}" for k, v in doc.usage.items()))
        if len(doc.units) > 1:
            out.line("  units: " + ", ".join(f"{unit} ({active})" for unit, active in doc.units.items()))
        for line in doc.drift:
            out.line(f"  drift: {line}")
    out.doc["jails"] = docs
    return code


def cmd_logs(args: argparse.Namespace, out: Output) -> int:
    from . import journal

    _setup(args, out)
    unit = paths.unit_name(args.name)
    if args.follow:
        for entry in journal.follow(unit, args.lines, also=journal.jail_matches(args.name)):
            out.block(journal.format_entry(entry))
            sys.stdout.flush()
        return EXIT_OK
    entries = journal.tail(unit, args.lines, also=journal.jail_matches(args.name))
    for entry in entries:
        out.block(journal.format_entry(entry))
    out.doc["entries"] = [journal.as_json(e) for e in entries]
    return EXIT_OK


def cmd_exec(args: argparse.Namespace, out: Output) -> int:
    """Run a command in the running jail, confined exactly as its program (enter.py)."""
    from . import enter
    from .problems import JailError

    _setup(args, out)
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise JailError("exec needs a command: jailmgr exec NAME -- CMD [ARGS...]")
    recorded = _recorded(args.name, out)
    if recorded is None:
        raise JailError(f"no jail named {args.name!r} is managed here")
    props = systemd.show(recorded.unit, "MainPID", "ControlGroup")
    main_pid = int(props.get("MainPID", "0") or 0)
    target = procfs.program_pid(main_pid, recorded.launcher, recorded.launcher_init) if main_pid else 0
    if not target or not props.get("ControlGroup"):
        raise JailError(f"{args.name} is not running", hint=f"jailmgr status {args.name}")
    user = None
    if args.user:
        # Users as the jail's passwd holds them (recorded at apply), never as
        # the jail's tree says now: that file is the jail's to rewrite.
        by_uid = {str(ids[0]): ids for ids in recorded.users.values()}
        ids = recorded.users.get(args.user) or by_uid.get(args.user)
        if ids is None:
            raise JailError(f"{args.user!r} is not a user of jail {args.name}",
                            hint="users come from tree.users (apply again if the jail predates this)")
        user = enter.Ids(ids[0], ids[1], (ids[1],))
    try:
        facts = enter.observe_program(target, props["ControlGroup"], recorded.workdir, recorded.environment,
                                      argv, user)
        return enter.run(facts)
    except enter.EntryError as exc:
        raise JailError(f"exec in {args.name}: {exc}") from exc


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    from . import audit, hostunits

    _setup(args, out)
    names = args.names or state.managed()
    docs, findings = [], 0
    procs: dict[int, tuple[str, str]] | None = None  # the host's processes, read once for every jail
    for name in names:
        recorded = _recorded(name, out)
        report = audit.check(name, recorded, _drift(recorded, out))
        program = _program(recorded)
        if program and procs is None:
            procs = hostunits.host_processes()
        twins = hostunits.warnings(name, program, procs) if program and procs is not None else []
        for warning in twins:
            out.warn(warning)
        findings += len(report.findings)
        score = f"{report.exposure:.1f}" if report.exposure is not None else "unknown"
        out.line(f"{name}: exposure {score} (systemd-analyze security; 0 best, 10 worst)")
        conf = report.confinement
        if conf:
            own = [t for t, v in conf.namespaces.items() if v != "host"]
            out.line(f"  program PID {conf.pid}: capabilities {','.join(conf.capabilities) or 'none'}; "
                     f"no_new_privs {'yes' if conf.no_new_privs else 'NO'}; "
                     f"seccomp {'yes' if conf.seccomp else 'NO'}; own namespaces {' '.join(own)}; "
                     f"/proc/sys {conf.proc_sys}")
            out.line(f"  writable mounts: {', '.join(conf.writable_mounts) or 'none'}")
        for finding in report.findings:
            out.line(f"  ! {finding}")
        if not report.findings:
            out.line("  no findings")
        docs.append({**dataclasses.asdict(report), "host_units": twins})
    out.doc["jails"] = docs
    return EXIT_ERROR if findings else EXIT_OK


def _program(recorded: state.JailState | None) -> str:
    """The jail file's program (exec[0]), for check's look at the host's own units; "" when unreadable."""
    from . import spec

    if recorded is None or not recorded.source:
        return ""
    loaded, _ = spec.load([recorded.source])
    return loaded[0].jail.exec[0] if loaded and loaded[0].jail.exec else ""


def cmd_stale(args: argparse.Namespace, out: Output) -> int:
    """Like needrestart: jails whose processes map a file deleted or replaced since they started.

    Run by the package's dpkg trigger after an upgrade of the library directories; it restarts
    them only when asked (--restart; /etc/default/jailmgr's RESTART_ON_LIBRARY_UPGRADE).
    """
    from .audit import SHOWN, stale_files

    _setup(args, out)
    names = args.names or state.managed()
    docs = []
    table = procfs.ProcTable()  # one reading of /proc for all the jails
    for name in names:
        recorded = _recorded(name, out)
        if recorded is None:
            continue
        main = systemd.main_pid(recorded.unit)
        if not main:
            continue
        files = stale_files(procfs.descendants(main, tree=table.children))
        if not files:
            continue
        restarted = False
        if args.restart:
            systemd.systemctl("restart", recorded.unit)
            restarted = True
        more = f" and {len(files) - SHOWN} more" if len(files) > SHOWN else ""
        out.line(f"{name}: runs {', '.join(files[:SHOWN])}{more}, replaced since it started; "
                 + (f"restarted {recorded.unit}" if restarted else f"restart {recorded.unit} to use the new one"))
        docs.append({"name": name, "files": files, "restarted": restarted})
    if not docs:
        out.line("no jail runs a replaced file")
    out.doc["jails"] = docs
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "plan": cmd_plan, "apply": cmd_apply, "destroy": cmd_destroy, "reload": cmd_reload, "list": cmd_list,
    "status": cmd_status,
    "logs": cmd_logs, "exec": cmd_exec, "check": cmd_check, "stale": cmd_stale,
}
