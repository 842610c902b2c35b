"""Destroy jails: every name checked first, then all stopped at once, one reload, each tree removed.

A record is data: a damaged or hand-edited one must not aim destroy at a
unit or a directory of someone else (plan.untrusted_record_paths).  Removal never
follows a symlink and never enters a mount point (safefs.remove_root), so the
data in bound host directories survives.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from . import journal, model, ops, state, systemd
from .plan import Doomed, doom
from .safefs import remove_root

Say = Callable[[str], None]


_SIGNAL_NAMES = {str(number): name for name, number in model.SIGNAL_NUMBERS.items()}  # systemctl shows KillSignal=15


def remove_units_of(doomed: list[Doomed], say: Say) -> bool:
    """Stop them all at once (saying how long each may take), then disable and delete their units;
    True when a unit file went (the caller reloads systemd, once)."""
    if not doomed:
        return False
    units = [u for d in doomed for u in d.units]
    props = systemd.states(units, "ActiveState", "TimeoutStopUSec", "KillSignal", *ops.REMOVE_PROPS)  # one query
    for d in doomed:
        seen = props.get(d.units[0], {})
        if seen.get("ActiveState") in ("active", "activating", "reloading", "deactivating"):
            timeout = seen.get("TimeoutStopUSec", "")
            signal = _SIGNAL_NAMES.get(seen.get("KillSignal", ""), "its stop signal")
            say(f"{d.name}: stopping {d.units[0]}" + (f" (it has {timeout} to stop after {signal})" if timeout else ""))
    return bool(ops.remove_units(units, props))


def remove_tree_of(d: Doomed, say: Say) -> list[str]:
    """The tree and the record of a jail whose units are gone; returns what was left in place.

    Its service is stopped, so its mounts are gone before the tree is removed;
    removal never follows a symlink and never enters a mount point
    (safefs.remove_root), so data in bound host directories survives.
    """
    left = remove_root(d.root)
    if d.recorded is None:
        # No (readable) record: the default root is jailmgr's own and safe to
        # remove; a custom root can't be known and is named instead.
        say(f"{d.name}: no record of this jail's tree; removed {d.root} if it was there "
            "(a custom root, if the jail had one, is left)")
    if not left and d.root == model.default_root(d.name):
        with contextlib.suppress(OSError):  # our own per-jail directory; kept if anything else is in it
            os.rmdir(os.path.dirname(d.root))
    for item in left:
        say(f"{d.name}: left in place: {item}")
    if not left:
        state.forget(d.name)
    say(f"{d.name}: destroyed" + (" (some paths were left, see above)" if left else ""))
    journal.record_action(d.name, "destroy", f"jail {d.name} destroyed" + (f"; {len(left)} paths left" if left else ""))
    return left


def destroy(names: list[str], say: Say) -> dict[str, list[str]]:
    """Every name is checked before anything is removed; then all stop together, one reload."""
    with state.locked():
        doomed = [doom(name, say) for name in dict.fromkeys(names)]
        if remove_units_of(doomed, say):
            systemd.daemon_reload()
        return {d.name: remove_tree_of(d, say) for d in doomed}
