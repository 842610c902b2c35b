"""`plan` refuses what `apply` refuses: the checks only the host can answer run in the one pass both share
(apply.survey), on a real systemd, and neither command changes anything when one fails.

The jails here live in a state and unit directory of their own (JAILMGR_STATE_DIR, JAILMGR_UNIT_DIR), so
--prune sees only them and never the other tests' jails in the shared container.
"""

from __future__ import annotations

import shutil
import subprocess

from tests.testbed import Testbed

HOME = "/srv/plan-checks"
ENV = ["env", f"JAILMGR_STATE_DIR={HOME}/state", f"JAILMGR_UNIT_DIR={HOME}/units", f"JAILMGR_LOCK={HOME}/lock"]


def _both(bed: Testbed, jails: str) -> list[subprocess.CompletedProcess[str]]:
    return [bed.run([*ENV, "jailmgr", command, "--prune", jails], check=False, timeout=60)
            for command in ("plan", "apply")]


def test_plan_refuses_what_apply_refuses_and_neither_changes_anything(bed: Testbed) -> None:
    home = bed.path(HOME)
    shutil.rmtree(home, ignore_errors=True)
    (home / "jails").mkdir(parents=True)
    (home / "units").mkdir()
    # A mount source through a symlink on the host (preflight.check_host_paths).
    (home / "real").mkdir()
    (home / "link").symlink_to(f"{HOME}/real")
    (home / "jails" / "pc.yaml").write_text(
        f"name: pc\nroot: {HOME}/pcroot\nexec: [/usr/bin/true]\nuser: nobody\n"
        "namespaces: {pid: false, uts: false, cgroup: false}\ntree: {binaries: [/usr/bin/true], users: [nobody]}\n"
        f"mounts: [{{source: {HOME}/link, target: /data}}]\n")
    for proc in _both(bed, f"{HOME}/jails"):
        assert proc.returncode == 1 and "is a symlink on the host" in proc.stderr, proc.stderr
    assert not (home / "pcroot").exists() and list((home / "units").iterdir()) == []
    assert not (home / "state").exists() or list((home / "state").glob("*.json")) == []

    # --prune of a jail whose record names a root jailmgr did not make (plan.doom).
    (home / "jails" / "pc.yaml").unlink()
    foreign = home / "foreign"
    foreign.mkdir()
    (foreign / "keep").write_text("not a jail's\n")
    bed.run([*ENV, "python3", "-c", "from jailmgr import state; state.save(state.JailState(name='old', "
             f"source='/nonexistent/old.yaml', root='{HOME}/foreign', unit='jail-old.service'))"])
    for proc in _both(bed, f"{HOME}/jails"):
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"{HOME}/foreign: not the default root of jail old and without jailmgr's mark" in proc.stderr
    assert (foreign / "keep").read_text() == "not a jail's\n"
    assert list((home / "state").glob("old*"))
    shutil.rmtree(home)
