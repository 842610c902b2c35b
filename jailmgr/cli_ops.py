"""The commands that act on the host: plan, apply, destroy, list, status (root only)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import run, state, systemd
from .cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, Output, require_root


def _paths(args: argparse.Namespace) -> list[str]:
    from .spec import default_paths

    return args.paths or default_paths()


def _setup(args: argparse.Namespace, out: Output) -> None:
    require_root(args.command)
    run.VERBOSE = bool(args.verbose)


def _show_plans(plans: list, out: Output) -> bool:  # type: ignore[type-arg]
    any_change = False
    docs = []
    for plan in plans:
        for warning in plan.warnings:
            out.warn(f"{plan.name}: {warning}")
        if plan.changes or plan.pending_restart:
            any_change = True
            out.line(f"{plan.name}:")
            for change in plan.changes:
                out.line(change.describe())
            if plan.pending_restart and not plan.changes:
                out.line("  ~ service    restart left pending by an interrupted apply")
        docs.append({"name": plan.name, "restart": plan.restart_needed,
                     "changes": [c.__dict__ for c in plan.changes]})
    out.doc["jails"] = docs
    out.doc["changed"] = any_change
    return any_change


def cmd_plan(args: argparse.Namespace, out: Output) -> int:
    from .apply import plan_all, prepare

    _setup(args, out)
    rendered = prepare(_paths(args))
    for item in rendered:
        for warning in item.warnings:
            out.warn(warning)
    with state.locked():
        changed = _show_plans(plan_all(rendered, out.warn), out)
    if not changed:
        out.line("nothing to change")
    return EXIT_CHANGES if changed and args.detailed_exitcode else EXIT_OK


def cmd_apply(args: argparse.Namespace, out: Output) -> int:
    from .apply import apply

    _setup(args, out)
    outcomes = apply(_paths(args), say=out.line, warn=out.warn, check=args.check, prune=args.prune,
                     detail=out.line if args.verbose else lambda _: None)
    changed = _show_plans([o.plan for o in outcomes], out) if args.check else any(
        o.plan.restart_needed or o.restarted for o in outcomes)
    for outcome in outcomes:
        for path in outcome.left:
            out.warn(f"{outcome.name}: left in place: {path}")
    out.doc["restarted"] = [o.name for o in outcomes if o.restarted]
    out.doc["changed"] = changed
    if not changed:
        out.line("nothing to change")
    return EXIT_CHANGES if changed and args.detailed_exitcode else EXIT_OK


def cmd_destroy(args: argparse.Namespace, out: Output) -> int:
    from .apply import destroy

    _setup(args, out)
    left = destroy(args.names, say=out.line)
    out.doc["destroyed"] = [name for name, items in left.items() if not items]
    out.doc["left"] = left
    return EXIT_ERROR if any(left.values()) else EXIT_OK


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    _setup(args, out)
    names = state.managed()
    for name in names:
        out.line(name)
    out.doc["jails"] = names
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: Output) -> int:
    _setup(args, out)
    names = args.names or state.managed()
    docs, code = [], EXIT_OK
    for name in names:
        try:
            recorded = state.load(name)
        except state.StateProblem as exc:
            out.warn(str(exc))
            recorded = None
        if recorded is None:
            out.warn(f"{name}: not managed by jailmgr")
            code = EXIT_ERROR
            continue
        props = systemd.show(recorded.unit, "ActiveState", "SubState", "MainPID", "Result", "UnitFileState")
        doc = {"name": name, "unit": recorded.unit, "root": recorded.root,
               "active": props.get("ActiveState", ""), "sub": props.get("SubState", ""),
               "main_pid": int(props.get("MainPID", "0") or 0), "result": props.get("Result", ""),
               "enabled": props.get("UnitFileState", "")}
        docs.append(doc)
        out.line(f"{name}: {doc['active']} ({doc['sub']}), main PID {doc['main_pid']}, "
                 f"root {doc['root']}, unit {doc['unit']} ({doc['enabled']})")
    out.doc["jails"] = docs
    return code


def cmd_logs(args: argparse.Namespace, out: Output) -> int:
    from . import journal

    _setup(args, out)
    unit = f"jail-{args.name}.service"
    if args.follow:
        for entry in journal.follow(unit, args.lines):
            print(journal.format_entry(entry), flush=True)
        return EXIT_OK
    entries = journal.tail(unit, args.lines)
    for entry in entries:
        out.line(journal.format_entry(entry))
    out.doc["entries"] = [{"time": str(e.get("__REALTIME_TIMESTAMP", "")), "pid": e.get("_PID"),
                           "identifier": e.get("SYSLOG_IDENTIFIER"), "message": e.get("MESSAGE")}
                          for e in entries]
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "plan": cmd_plan, "apply": cmd_apply, "destroy": cmd_destroy, "list": cmd_list, "status": cmd_status,
    "logs": cmd_logs,
}
