"""An apply with nothing to do is decided from records and stat() alone (noop.py), on a real systemd: it
says so and imports neither the jail file's model, YAML nor the full command line; a change, a flag or a
bad PATH goes the full way, which says everything."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.testbed import Testbed

JAIL = "/srv/noop/noop.yaml"
TEXT = "name: noop\nexec: [/usr/bin/sleep, infinity]\ntree: {binaries: [/usr/bin/sleep]}\n"


@pytest.fixture
def applied(bed: Testbed) -> Iterator[Testbed]:
    bed.path("/srv/noop").mkdir(parents=True, exist_ok=True)
    bed.path(JAIL).write_text(TEXT)
    bed.run(["jailmgr", "apply", "-q", JAIL])
    yield bed
    bed.run(["jailmgr", "destroy", "noop"], check=False, timeout=60)


def _imports(bed: Testbed, *args: str) -> tuple[int, str, set[str]]:
    proc = bed.run(["python3", "-X", "importtime", "/usr/sbin/jailmgr", *args], check=False)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc.returncode, proc.stdout, modules


def test_nothing_to_do_is_said_without_loading_the_model(applied: Testbed) -> None:
    code, out, modules = _imports(applied, "apply", JAIL)
    assert code == 0 and out == "nothing to change\n", out
    assert modules & {"jailmgr.model", "jailmgr.spec", "yaml", "jinja2", "argparse", "jailmgr.cli"} == set()
    assert "jailmgr.noop" in modules


def test_a_change_a_flag_or_a_bad_path_takes_the_full_path(applied: Testbed) -> None:
    code, out, modules = _imports(applied, "apply", "--detailed-exitcode", JAIL)
    assert code == 0 and "nothing to change" in out and "jailmgr.cli" in modules
    code, _, modules = _imports(applied, "apply", "/srv/noop/nowhere.yaml")
    assert code == 1 and "jailmgr.cli" in modules
    applied.path(JAIL).write_text(TEXT + "limits: {tasks: 16}\n")
    code, out, modules = _imports(applied, "apply", JAIL)
    assert code == 0 and "jailmgr.model" in modules and "restarting jail-noop.service" in out, out
    code, out, _ = _imports(applied, "apply", JAIL)
    assert code == 0 and out == "nothing to change\n"


@pytest.fixture(params=["bookworm", "trixie"])
def either(request: pytest.FixtureRequest) -> Iterator[Testbed]:
    """The no-op jail, and one with `restart: "no"`, applied on systemd 252 and on 257."""
    bed: Testbed = request.getfixturevalue("bed" if request.param == "bookworm" else "trixie")
    bed.path("/srv/noop").mkdir(parents=True, exist_ok=True)
    bed.path(JAIL).write_text(TEXT)
    bed.path(ONCE).write_text(TEXT.replace("noop", "noopk") + 'restart: "no"\n')
    bed.run(["jailmgr", "apply", "-q", JAIL, ONCE])
    yield bed
    bed.run(["jailmgr", "destroy", "noop", "noopk"], check=False, timeout=60)


ONCE = "/srv/noop/noopk.yaml"


def _linked(bed: Testbed, unit: str) -> bool:
    """systemd's invocation link of the unit is there (/run: a tmpfs of the container's own)."""
    return bed.run(["test", "-L", f"/run/systemd/units/invocation:{unit}"], check=False).returncode == 0


def test_a_running_jail_is_known_to_run_without_asking_systemctl(either: Testbed) -> None:
    """systemd's own invocation link says it runs: no systemctl process (no subprocess module) at all."""
    code, out, modules = _imports(either, "apply", JAIL, ONCE)
    assert code == 0 and out == "nothing to change\n", out
    assert "subprocess" not in modules and "jailmgr.systemd" not in modules
    assert _linked(either, "jail-noop.service")


def test_a_stopped_or_killed_jail_is_asked_about_and_started_again(either: Testbed) -> None:
    either.run(["systemctl", "stop", "jail-noop.service"])
    assert not _linked(either, "jail-noop.service")  # (gone when inactive)
    code, out, modules = _imports(either, "apply", JAIL)
    assert code == 0 and "starting jail-noop.service" in out and "jailmgr.cli" in modules, out
    # A jail that dies (restart: "no", so systemd does not start it again) is failed, not running.
    either.run(["systemctl", "kill", "--signal=SIGKILL", "jail-noopk.service"])
    for _ in range(100):
        if either.run(["systemctl", "is-failed", "-q", "jail-noopk.service"], check=False).returncode == 0:
            break
        time.sleep(0.05)
    assert not _linked(either, "jail-noopk.service")
    code, out, modules = _imports(either, "apply", ONCE)
    assert code == 0 and "starting jail-noopk.service" in out and "jailmgr.cli" in modules, out
    assert _linked(either, "jail-noop.service") and _linked(either, "jail-noopk.service")
    code, out, modules = _imports(either, "apply", JAIL, ONCE)
    assert code == 0 and out == "nothing to change\n" and "subprocess" not in modules, out
