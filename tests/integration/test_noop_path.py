"""An apply with nothing to do is decided from records and stat() alone (noop.py), on a real systemd: it
says so and imports neither the jail file's model, YAML nor the full command line; a change, a flag or a
bad PATH goes the full way, which says everything."""

from __future__ import annotations

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
