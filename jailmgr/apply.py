"""Converge jails to their files: the steps, in order (destroy.py removes them).

apply: validate and render everything first (bad input changes nothing) ->
take the lock -> per jail: mark a restart pending in its record, create host
dirs, build the tree, remove what is no longer wanted, write the unit ->
enable -> one daemon-reload when systemd had loaded a unit that changed (a
new unit is loaded from disk by its start: plan.needs_reload) -> (re)start
only the jails that changed -> record what was built.  Each step is
idempotent, so an apply killed anywhere is finished by the next one.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from dataclasses import field

from . import credentials, diagnose, durable, fingerprint, journal, ops, preflight, readiness, state, systemd, unchanged
from .destroy import remove_tree_of, remove_units_of
from .host import Host
from .plan import Doomed, JailPlan, observe, plan_jail, plan_removal
from .problems import InvalidJails, JailError, Problem
from .procfs import children_of, processes, program_pid
from .quickdata import dataclass
from .render import Rendered, render_all
from .safefs import Tree, TreeError
from .spec import jail_files, load, load_or_raise

Say = Callable[[str], None]


@dataclass
class Outcome:
    name: str
    plan: JailPlan
    restarted: bool = False
    left: list[str] = field(default_factory=list)
    error: str = ""  # this jail failed (the others went on); the message says what and where
    problems: list[Problem] = field(default_factory=list)  # the preflight refused it: its host state, in its file


def prepare(paths: list[str]) -> list[Rendered]:
    rendered, problems = render_all(load_or_raise(paths))
    if problems:
        raise InvalidJails(problems)
    return rendered


def plan_all(rendered: list[Rendered], warn: Say, states: dict[str, dict[str, str]] | None = None,
             records: state.Records | None = None) -> list[JailPlan]:
    """Every jail's plan against one snapshot of the host: the records, the trees, one systemctl query
    (none when `states` already holds every unit)."""
    if records is None:
        records = state.read_records(warn)
    units = [name for item in rendered for name in item.units]
    units += [name for item in rendered if item.name in records
              for name in [records[item.name].unit, *records[item.name].extra_units]]
    known = dict(states or {})
    missing = sorted({unit for unit in units if unit not in known})
    if missing:
        known.update(systemd.overview(missing))
    return [plan_jail(item, records.get(item.name), observe(item, records.get(item.name), known))
            for item in rendered]


@dataclass
class Survey:
    """Every jail under the paths: those with something to do rendered and planned, the rest left alone."""

    rendered: list[Rendered]
    plans: list[JailPlan]  # the rendered jails' plans, in order
    unchanged: list[state.JailState]  # nothing to do: not even parsed (unchanged.py)
    records: state.Records
    removals: list[JailPlan]  # --prune: managed jails no longer defined under the paths
    refused: dict[str, list[Problem]] = field(default_factory=dict)  # jails the host's state refuses, left as they are
    notes: list[str] = field(default_factory=list)  # what the preflight could not check


def survey(paths: list[str], warn: Say, prune: bool = False) -> Survey:
    """Validate, check the host and plan: jail files whose fingerprints say nothing changed are skipped; the
    others are loaded, rendered and checked against the host (preflight.py), every problem of every file at
    once, before anything is written.  A problem of a file, or between jails, changes nothing at all; one
    of a jail's host state (a bind source missing, a port taken) leaves that jail alone, and the others
    are planned."""
    files, problems = jail_files(paths)
    if problems:
        raise InvalidJails(problems)
    records = state.read_records(warn)
    split = unchanged.split(files, records)
    loaded, problems = load(split.changed) if split.changed else ([], [])
    names = {recorded.name: recorded.source for recorded in split.unchanged}
    problems += [item.problem("name", f"jail {item.jail.name!r} is also defined in {names[item.jail.name]}")
                 for item in loaded if item.jail.name in names]
    host = Host.read(shadow=any(item.jail.tree.shadow for item in loaded)) if loaded else None
    rendered: list[Rendered] = []
    if host is not None:
        rendered, found = render_all(loaded, host)
        problems += found
    defined = {item.jail.name for item in loaded} | set(names)
    leaving = [name for name in state.managed() if name not in defined] if prune else []
    # What only the host shows, checked here so that `plan` refuses what `apply` would.
    checked = preflight.check(loaded, rendered, host, records, frozenset(leaving)) if host else preflight.Found()
    if problems or checked.across:
        raise InvalidJails(sorted([*problems, *checked.problems]))
    rendered = [item for item in rendered if item.name not in checked.own]
    plans = plan_all(rendered, warn, split.states, records)
    removals = [plan_removal(name, warn) for name in leaving]  # (a damaged record is managed, and pruned, too)
    return Survey(rendered, plans, split.unchanged, records, removals, checked.own, checked.notes)


def tree_prints(item: Rendered) -> dict[str, str]:
    """The fingerprints of the tree as apply wrote it: taken before anything of the jail runs (fingerprint.py)."""
    jail = item.loaded.jail
    writable = {d.path for d in jail.tree.dirs if d.writable}
    return fingerprint.built(jail.root_dir, {p: p in writable for p in item.contents.entries})


def _new_state(item: Rendered, pending: bool, built: dict[str, str] | None = None) -> state.JailState:
    """The record of a jail; with `built` (tree_prints, taken before the start), the fingerprints a later
    apply compares against."""
    jail = item.loaded.jail
    sets = preflight.sets_of(item.loaded, item)
    return state.JailState(
        inputs=item.fingerprints if built is not None else {},
        source_sha256=item.loaded.sha256 if built is not None else "", built=built or {},
        host_writable={p.path: p.key for p in sets.writable}, host_resolved={p.path: p.key for p in sets.resolved},
        enable=jail.enable, restart=jail.restart,
        name=jail.name, source=os.path.realpath(item.loaded.source), root=jail.root_dir, unit=jail.unit_name,
        unit_sha256=fingerprint.text_sha256(item.unit_text),
        entries={path: entry.record() for path, entry in item.contents.entries.items()},
        host_dirs=[path for path, _, _ in item.contents.host_dirs], pending_restart=pending,
        launcher=item.mechanism.launched, rootfs_sha256=item.contents.rootfs_sha256,
        launcher_init=item.mechanism.init, workdir=jail.workdir, users=item.users,
        extra_units=sorted(item.extra_units),
        extra_units_sha256={name: fingerprint.text_sha256(text) for name, text in item.extra_units.items()},
        environment={**dict(jail.environment), **credentials.environment(jail)}, id_shift=jail.id_shift,
        program_uid=item.program_uid)


def save_intent(item: Rendered, plan: JailPlan) -> None:
    """Before a jail's tree or units change: its record says a restart is pending and claims nothing new as
    built (an apply killed from here on is finished by the next one)."""
    recorded = plan.recorded
    if recorded is None:
        intent = _new_state(item, pending=True)
        intent.entries, intent.rootfs_sha256, intent.unit_sha256, intent.extra_units_sha256 = {}, "", "", {}
    else:
        intent = state.JailState(**{**recorded.__dict__, "pending_restart": True})
    try:
        state.save(intent)
    except OSError as exc:
        raise JailError(_host_failure(item.name, "write its record", state.record_path(item.name), exc)) from exc


def converge(item: Rendered, plan: JailPlan, say: Say, detail: Say) -> tuple[bool, list[str]]:
    """Run one jail's tree and unit operations, as planned (its intent saved and made durable before);
    whether systemd must reload its unit files for them (plan.needs_reload), and what was left."""
    if not plan.changes:
        return False, []
    try:
        with Tree(item.loaded.jail.root_dir) as tree:
            ctx = ops.Context(tree, say=lambda text: say(f"{item.name}: {text}"))
            for op in plan.changes:
                detail(f"{item.name}: {op.describe().strip()}")
                try:
                    op.apply(ctx)
                except OSError as exc:
                    where = op.path if op.what in ("unit", "host-dir", "rootfs") else tree.host_path(op.path)
                    raise JailError(_host_failure(item.name, f"{VERBS.get(op.op, 'change')} {op.what}", where,
                                                  exc)) from exc
    except TreeError as exc:
        raise JailError(f"{item.name}: {exc}") from exc
    except OSError as exc:  # making the root itself (each operation's own failure is said above)
        raise JailError(_host_failure(item.name, "make its tree", item.loaded.jail.root_dir, exc)) from exc
    counts: dict[str, int] = {}
    for change in plan.changes:
        counts[change.op] = counts.get(change.op, 0) + 1
    summary = ", ".join(f"{n} {dict(zip('+~-', ('created', 'changed', 'removed'), strict=True))[op]}"
                        for op, n in sorted(counts.items()))
    say(f"{item.name}: {summary}" + (" (unit rewritten)" if plan.units_changed else ""))
    journal.record_action(item.name, "build", f"jail {item.name}: {summary}", CHANGES=str(len(plan.changes)))
    return plan.needs_reload, ctx.left


def _start_failure(item: Rendered, failure: str, since: float) -> str:
    jail = item.loaded.jail
    unit = jail.unit_name
    # (readiness says "not ready: ..." itself; a unit state is how the program ended)
    said = failure if failure.startswith("not ready") else f"it exited before it was ready: {failure}"
    journal.record_action(item.name, "start-failed", f"jail {item.name}: {unit} did not start: {said}")
    # (the program's last words, "address in use" and the like, say why)
    program = jail.exec[0].rsplit("/", 1)[-1]
    lines = journal.last_lines(unit, program=program, since=since)
    shown = "".join(f"\n  {line}" for line in lines)
    sources = frozenset({m.source for m in jail.mounts if m.source} | {b.source for b in item.contents.binds})
    shown += "".join(f"\n  hint: {hint}" for hint in diagnose.hints(lines, sources))
    return (f"{item.name}: {unit} did not start: {said}{shown}\n"
            f"  (`jailmgr logs {item.name}` shows its journal; the tree and unit are in place)")


def _programs_run(items: dict[str, Rendered], main_pids: dict[str, int]) -> set[str]:
    """The units whose jail's program has been executed (under the launcher: bwrap and jailmgr-init have
    handed over); the process table is read once for all of them."""
    launched = any(items[unit].mechanism.launched for unit in main_pids)
    tree = children_of(processes()) if launched else {}
    out = set()
    for unit, main_pid in main_pids.items():
        item = items[unit]
        if item.loaded.jail.accept:
            out.add(unit)  # the socket listens (systemctl restart returned): instances come with connections
            continue
        if main_pid <= 0:
            continue
        if not item.mechanism.launched:
            out.add(unit)  # Type=exec: systemd saw the program itself executed
            continue
        pid = program_pid(main_pid, True, item.mechanism.init, tree=tree)
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe")) if pid else ""
        except OSError:
            continue
        if exe and exe not in ("bwrap", "jailmgr-init"):
            out.add(unit)
    return out


def _enable_all(pairs: list[tuple[Rendered, Outcome]]) -> bool:
    """The plans' enable and disable operations, all at once; whether systemd must reload for them."""
    actions = [op for _, o in pairs for op in o.plan.service if not isinstance(op, ops.StartUnit)]
    ops.run_service(actions)
    return any(ops.needs_reload(op) for op in actions)


_SAY_START = {ops.Start.RESTART: "restarting {}", ops.Start.START: "starting {}",
              ops.Start.START_STOPPED: "starting {} (it was not running)"}


def _start_all(pairs: list[tuple[Rendered, Outcome]], say: Say) -> None:
    """The plans' start operations, in one systemctl call; who failed, per jail."""
    starts = {item.name: op for item, o in pairs for op in o.plan.service if isinstance(op, ops.StartUnit)}
    starting = [(item, o) for item, o in pairs if item.name in starts]
    for item, _ in starting:
        say(f"{item.name}: " + _SAY_START[starts[item.name].why].format(starts[item.name].path))
    units = [item.loaded.jail.unit_name for item, _ in starting]
    if not units:
        return
    # reset-failed clears the start-rate counter too: an operator who applies
    # often must not meet "start request repeated too quickly".  (A unit systemd
    # had not loaded has neither: a first start needs no call.)
    known = [item.loaded.jail.unit_name for item, _ in starting if starts[item.name].known]
    if known:
        systemd.systemctl("reset-failed", *known, check=False)
    since = time.time()
    by_unit = {item.loaded.jail.unit_name: item for item, _ in starting}
    # (the units systemd has not loaded: their start loads them, without a daemon-reload)
    unloaded = frozenset(os.path.basename(op.path) for _, o in starting for op in o.plan.changes
                         if isinstance(op, ops.WriteUnit) and not op.loaded)
    failures = readiness.restart_and_wait([item.loaded.jail for item, _ in starting],
                                          runs=lambda pids: _programs_run(by_unit, pids), say=say, unloaded=unloaded)
    for item, outcome in starting:
        failure = failures.get(item.loaded.jail.unit_name)
        if failure:
            outcome.error = _start_failure(item, failure, since)
        else:
            outcome.restarted = True
            journal.record_action(item.name, "start", f"jail {item.name}: {item.loaded.jail.unit_name} "
                                  "(re)started", UNIT=item.loaded.jail.unit_name)


def apply(paths: list[str], say: Say, warn: Say, check: bool = False, prune: bool = False,
          detail: Say | None = None, progress: Callable[[int, int, str], None] | None = None) -> list[Outcome]:
    """Converge every jail under paths; each jail's failure is its own (Outcome.error), the others finish."""
    with state.locked():
        found = survey(paths, warn, prune)
        rendered = found.rendered
        outcomes = [Outcome(plan.name, plan) for plan in found.plans]
        outcomes += [Outcome(recorded.name, JailPlan(recorded.name, recorded)) for recorded in found.unchanged]
        pruned = [Outcome(plan.name, plan, error=plan.refused) for plan in found.removals]
        # Refused by the preflight: nothing of them is written (the others go on, as when a start failed).
        # (Planned as nothing: a restart its record left pending waits, like the rest of it.)
        refused = [Outcome(name, JailPlan(name), problems=problems,
                           error=f"{name}: refused before anything was written: {_count(problems)} above")
                   for name, problems in found.refused.items()]
        for note in found.notes:
            warn(f"not checked: {note}")
        if check:
            return outcomes + refused + pruned
        with durable.batch():
            return _converge_all(rendered, outcomes, pruned, say, detail or say, progress) + refused + pruned


def _converge_all(rendered: list[Rendered], outcomes: list[Outcome], pruned: list[Outcome], say: Say,
                  detail: Say, progress: Callable[[int, int, str], None] | None) -> list[Outcome]:
    """Build, reload, start and record, inside one durable.batch(): each flush orders what must reach the disk
    before the next step (the intents before the trees, the trees and units before the starts)."""
    changing = [(item, outcome) for item, outcome in zip(rendered, outcomes[:len(rendered)], strict=True)
                if outcome.plan.changes]
    for item, outcome in changing:
        try:
            save_intent(item, outcome.plan)
        except JailError as exc:
            outcome.error = str(exc)
    durable.flush()
    built: list[tuple[Rendered, Outcome]] = []
    prints: dict[str, dict[str, str]] = {}
    reload_needed = False
    for index, (item, outcome) in enumerate(zip(rendered, outcomes[:len(rendered)], strict=True)):
        if outcome.error:
            continue
        if progress and outcome.plan.changes:
            progress(index + 1, len(rendered), item.name)
        try:
            changed_unit, outcome.left = converge(item, outcome.plan, say, detail)
        except JailError as exc:  # converge says every failure with the jail and the path
            outcome.error = str(exc)
            continue
        reload_needed |= changed_unit
        # Now, before it (re)starts: a declared file the jail rewrites at its start must show as changed.
        prints[item.name] = tree_prints(item)
        built.append((item, outcome))
    doomed: list[tuple[Outcome, Doomed]] = []
    for outcome in pruned:
        if outcome.plan.doomed is not None:  # (else refused when planned: outcome.error says why)
            say(f"{outcome.name}: no longer defined; destroying")
            doomed.append((outcome, outcome.plan.doomed))
    # The removed jails' units go with the same reload as the changed ones.
    reload_needed |= remove_units_of([d for _, d in doomed], say)
    reload_needed |= _enable_all(built)
    durable.flush()
    if reload_needed:
        systemd.daemon_reload()
    _start_all(built, say)
    for item, outcome in built:
        if outcome.error:
            continue  # its record keeps the restart pending: the next apply tries again
        ctx = ops.Context(None, say=lambda text, name=item.name: say(f"{name}: {text}"))
        for op in outcome.plan.after:
            op.apply(ctx)
        outcome.left += ctx.left
        state.save(_new_state(item, pending=False, built=prints[item.name]))
    for outcome, d in doomed:
        outcome.left = remove_tree_of(d, say)
    return outcomes


def _count(problems: list[Problem]) -> str:
    return "1 problem" if len(problems) == 1 else f"{len(problems)} problems"


VERBS = {"+": "create", "~": "update", "-": "remove"}
_ADVICE = {errno.ENOSPC: "free some space there", errno.EDQUOT: "raise the quota or free some space",
           errno.EROFS: "the file system is mounted read-only", errno.EACCES: "check its permissions",
           errno.EPERM: "check its attributes (chattr) and the security module's policy"}


def _host_failure(name: str, doing: str, path: str, exc: OSError) -> str:
    """A failure of the host, said with the jail, what it was doing, the path and what to do."""
    advice = _ADVICE.get(exc.errno or 0)
    return (f"{name}: cannot {doing} {path}: {exc.strerror or exc}" + (f" ({advice})" if advice else "")
            + "; the rest of this jail was left as it was")
