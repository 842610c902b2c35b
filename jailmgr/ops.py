"""The operations a plan is made of: each says what it does (`describe`, `doc`) and does it (`apply`).

`plan` decides, `apply` runs exactly the operations `plan` printed: nothing
is decided twice.  A tree operation runs against the jail's opened root
(safefs.Tree: no symlink followed, no mount entered); a unit operation writes
or removes one unit file atomically.  The service operations (EnableUnit,
DisableUnit, StartUnit) are typed like the others but run by apply for all
jails at once (run_service).
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import field
from enum import StrEnum

from . import model, state, systemd
from .quickdata import dataclass
from .safefs import Tree, TreeError, remove_root, write_file_atomic


@dataclass
class Context:
    """What the operations of one jail work on: its opened root, and what they report."""

    tree: Tree | None  # None for the operations that run once the service was started
    say: object = None  # Callable[[str], None]
    left: list[str] = field(default_factory=list)  # what could not be removed safely


class Sign(StrEnum):
    """How `plan` marks a change, as Terraform does."""

    CREATE = "+"
    CHANGE = "~"
    REMOVE = "-"


@dataclass(frozen=True)
class Op:
    """One change: `op` its sign, `what` the kind of thing, `path` which."""

    op: Sign
    what: str
    path: str
    detail: str = ""

    def describe(self) -> str:
        return f"  {self.op} {self.what:10} {self.path}" + (f"  ({self.detail})" if self.detail else "")

    def doc(self) -> dict[str, object]:
        return {"op": self.op, "what": self.what, "path": self.path, "detail": self.detail}

    def apply(self, ctx: Context) -> None:  # pragma: no cover - every operation defines it
        raise NotImplementedError


@dataclass(frozen=True)
class Note(Op):
    """A change that is shown, and done by something else (the tree's problem, a jail to destroy)."""

    def apply(self, ctx: Context) -> None:
        return None


@dataclass(frozen=True)
class MakeHostDir(Op):
    """A missing host source directory of a mount (`create: true`); an existing one is never touched."""

    owner: str = "root"
    group: str | None = None
    shift: int = 0

    def apply(self, ctx: Context) -> None:
        if os.path.isdir(self.path):
            return  # made since the plan: the operator's now, never chowned
        os.makedirs(self.path, mode=0o755)
        uid = pwd.getpwnam(self.owner).pw_uid
        gid = grp.getgrnam(self.group).gr_gid if self.group else pwd.getpwnam(self.owner).pw_gid
        os.chown(self.path, uid + self.shift, gid + self.shift)


@dataclass(frozen=True)
class WriteHostFile(Op):
    """A file jailmgr keeps outside every tree (the launcher's set-id filter), written atomically."""

    data: bytes = b""

    def apply(self, ctx: Context) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        write_file_atomic(self.path, self.data, 0o644)


@dataclass(frozen=True)
class UnpackRootfs(Op):
    limit: int = 0

    def apply(self, ctx: Context) -> None:
        from . import rootfs  # (tarfile is only imported by the jails that have a tarball)

        assert ctx.tree is not None
        try:
            count, skipped = rootfs.unpack(self.path, ctx.tree, self.limit)
        except rootfs.RootfsError as exc:
            raise TreeError(str(exc)) from exc
        if callable(ctx.say):
            ctx.say(f"unpacked {count} entries of {self.path}"
                    + (f"; skipped {len(skipped)}: {'; '.join(skipped[:5])}" if skipped else ""))


@dataclass(frozen=True)
class EnsureEntry(Op):
    """A directory, file or mount point of the tree, with its mode and (host) owner."""

    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes = b""

    def apply(self, ctx: Context) -> None:
        assert ctx.tree is not None
        if self.what == "dir":
            ctx.tree.ensure_dir(self.path, self.mode, self.uid, self.gid)
        else:
            ctx.tree.ensure_file(self.path, self.data, self.mode, self.uid, self.gid)


@dataclass(frozen=True)
class RemoveEntry(Op):
    def apply(self, ctx: Context) -> None:
        assert ctx.tree is not None
        ctx.left += ctx.tree.remove(self.path)


@dataclass(frozen=True)
class WriteUnit(Op):
    text: str = ""
    before: str | None = None  # the unit file as it is on disk (None: there is none)
    loaded: bool = True  # systemd has the unit loaded (then it must reload to see the new file)

    def diff(self) -> list[str]:
        """The unit's lines that change, as a unified diff without its headers."""
        if self.before is None:
            return []
        import difflib

        lines = difflib.unified_diff(self.before.splitlines(), self.text.splitlines(), lineterm="", n=0)
        return [line for line in lines if not line.startswith(("---", "+++", "@@"))]

    def doc(self) -> dict[str, object]:
        return {**super().doc(), "diff": self.diff(), "before": self.before, "after": self.text}

    def apply(self, ctx: Context) -> None:
        write_file_atomic(self.path, self.text.encode(), 0o644)


REMOVE_PROPS = ("LoadState", "UnitFileState")  # what remove_units reads of each unit (systemd.overview has them)


def remove_units(names: list[str], props: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Stop, disable and delete unit files, one systemctl call for each step; the names whose
    file was deleted.  `props`: the units' REMOVE_PROPS when the caller has read them already.
    Nothing here reloads systemd: the caller does, once."""
    if not names:
        return []
    # A template (accept: true) has no state of its own: its instances are stopped, each connection's jail.
    templates = [n for n in names if systemd.is_template(n)]
    if templates:
        patterns = [systemd.instances_pattern(t) for t in templates]
        systemd.systemctl("stop", "--", *patterns, ok_codes=(0, 5))
        systemd.systemctl("reset-failed", "--", *patterns, check=False)
    if props is None:
        props = systemd.states([n for n in names if n not in templates], *REMOVE_PROPS)
    loaded = [n for n in names if props.get(n, {}).get("LoadState") == "loaded" and n not in templates]
    if loaded:
        # One call: the units stop side by side, not one after the other.
        systemd.systemctl("stop", "--", *loaded, ok_codes=(0, 5))
    enabled = [n for n in names if props.get(n, {}).get("UnitFileState") == "enabled" and n not in templates]
    if enabled:
        systemd.systemctl("disable", "--quiet", "--no-reload", "--", *enabled)
    if loaded:
        systemd.systemctl("reset-failed", "--", *loaded, check=False)
    deleted = []
    for name in names:
        try:
            os.unlink(os.path.join(state.unit_dir(), name))
        except FileNotFoundError:
            continue
        deleted.append(name)
    return deleted


@dataclass(frozen=True)
class RemoveUnit(Op):
    name: str = ""
    seen: tuple[tuple[str, str], ...] = ()  # its REMOVE_PROPS when the plan was made: nothing is asked again

    def apply(self, ctx: Context) -> None:
        # (seen is empty only for a plan made without the units' states: then they are asked for now)
        remove_units([self.name], {self.name: dict(self.seen)} if self.seen else None)


class Start(StrEnum):
    """Why a jail's service is (re)started."""

    RESTART = "restart"  # something changed (or a restart was left pending) and it runs
    START = "start"  # something changed and it does not run
    START_STOPPED = "start-stopped"  # nothing changed, but it should run and does not


@dataclass(frozen=True)
class ServiceOp(Op):
    """An action on a jail's service (`path`: the unit); apply runs each kind for all jails at once."""

    def apply(self, ctx: Context) -> None:
        run_service([self])


@dataclass(frozen=True)
class EnableUnit(ServiceOp):
    loaded: bool = True  # systemd has the unit loaded: it read its enablement then, and reloads to read it again


@dataclass(frozen=True)
class DisableUnit(ServiceOp):
    pass


@dataclass(frozen=True)
class StartUnit(ServiceOp):
    why: Start = Start.START
    known: bool = True  # systemd had the unit loaded when planned (else it has no failure or start count to reset)

    def describe(self) -> str:
        return f"  {self.op} service    {'restart' if self.why == Start.RESTART else 'start'}"


def needs_reload(op: Op) -> bool:
    """Whether systemd must reload its unit files for this operation to be in force: a unit it has loaded
    was rewritten, removed, enabled or disabled.  (A new unit is loaded from disk by its start.)"""
    if isinstance(op, WriteUnit | EnableUnit):
        return op.loaded
    return isinstance(op, RemoveUnit | DisableUnit)


def run_service(actions: list[ServiceOp]) -> None:
    """Enable units (their links made by systemd.enable) and disable them (one systemctl call), before the
    daemon-reload when one is needed (needs_reload).  Starts are readiness.restart_and_wait's: apply runs them."""
    enable = [a.path for a in actions if isinstance(a, EnableUnit)]
    disable = [a.path for a in actions if isinstance(a, DisableUnit)]
    if enable:
        systemd.enable(enable)
    if disable:
        systemd.systemctl("disable", "--quiet", "--no-reload", "--", *disable)


def root_is_ours(name: str, root: str, id_shift: int) -> bool:
    """The default root of the jail, or a directory carrying jailmgr's mark with this jail's name
    (owned by root, shifted into the jail's range when it has a user namespace)."""
    if root == model.default_root(name):
        return True
    try:
        with Tree(root, create=False) as tree:
            return tree.matches(model.ROOT_MARKER, "file", f"{name}\n".encode(), 0o444, id_shift, id_shift)
    except (TreeError, OSError):
        return False


@dataclass(frozen=True)
class RemoveOldRoot(Op):
    """The tree the jail ran from before its root moved: removed once the service runs from the new one,
    and only when it is a root jailmgr made for this jail."""

    jail: str = ""
    id_shift: int = 0

    def apply(self, ctx: Context) -> None:
        if root_is_ours(self.jail, self.path, self.id_shift):
            ctx.left += remove_root(self.path)
            if callable(ctx.say):
                ctx.say(f"removed the old tree {self.path}")
        else:
            ctx.left.append(f"{self.path}: the old root, without jailmgr's mark; left in place")
