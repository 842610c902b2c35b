"""The jail module's decisions (what it does for each state, from jailmgr's answers), without a host.

The module runs as Ansible runs it (its file, Debian's ansible-core, arguments as JSON) with `executable`
set to a stand-in jailmgr that answers `list`, `status`, `check` and `plan` from a scenario and records
every command.  What these answers do on a real systemd is tests/integration/test_ansible.py's part.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

COLLECTION = Path(__file__).resolve().parent.parent / "packaging" / "ansible"
HEADER = "# Written by Ansible (jailmgr.jailmgr.jail) from a playbook: change the playbook, not this file.\n"
STAND_IN = r'''#!/usr/bin/python3
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
world = json.load(open(os.path.join(here, "world.json")))
args = sys.argv[1:]
with open(os.path.join(here, "calls"), "a") as calls:
    calls.write(" ".join(args[1:]) + "\n")
cmd = args[1]
if cmd == "list":
    print(json.dumps({"jails": [j["name"] for j in world["jails"]]}))
elif cmd == "status":
    print(json.dumps({"jails": [j for j in world["jails"] if j["name"] in args[2:]]}))
elif cmd == "check":
    print(json.dumps({"jails": [{"name": n, "exposure": 2.5} for n in args[2:]]}))
elif cmd == "plan":
    print(json.dumps({"jails": world["plans"]}))
else:
    print(json.dumps({}))
'''


def debian_python() -> str:
    if not Path("/usr/lib/python3/dist-packages/ansible/module_utils/basic.py").exists():
        pytest.skip("Debian's ansible-core is not installed")
    return "/usr/bin/python3"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    collections = tmp_path / "collections" / "ansible_collections" / "jailmgr"
    collections.mkdir(parents=True)
    (collections / "jailmgr").symlink_to(COLLECTION)
    (tmp_path / "jailmgr").write_text(STAND_IN)
    (tmp_path / "jailmgr").chmod(0o755)
    (tmp_path / "jails.d").mkdir()
    return tmp_path


def world(host: Path, active: str | None, plan: dict | None = None, units: tuple[str, ...] = ("jail-web.service",)
          ) -> None:
    jails = [] if active is None else [{"name": "web", "unit": units[0], "active": active,
                                        "main_pid": 42 if active == "active" else 0, "enabled": "enabled",
                                        "source": str(host / "jails.d" / "web.yaml"),
                                        "units": {u: active for u in units}}]
    (host / "world.json").write_text(json.dumps({"jails": jails, "plans": [plan or {"name": "web"}]}))


def run(host: Path, check: bool = False, **params: object) -> tuple[dict, list[str]]:
    (host / "calls").write_text("")
    args = {"ANSIBLE_MODULE_ARGS": {"executable": str(host / "jailmgr"), "jails_dir": str(host / "jails.d"),
                                    "_ansible_check_mode": check, "_ansible_diff": True, **params}}
    (host / "args.json").write_text(json.dumps(args))
    env = {"PATH": f"{host}:/usr/bin:/bin", "PYTHONPATH": str(host / "collections"), "LANG": "C.UTF-8"}
    proc = subprocess.run([debian_python(), str(COLLECTION / "plugins" / "modules" / "jail.py"),
                           str(host / "args.json")], capture_output=True, text=True, env=env, timeout=60)
    result = json.loads(proc.stdout)
    calls = [c for c in (host / "calls").read_text().splitlines() if not c.startswith(("list", "status", "check"))]
    return result, calls


DEFINITION = {"name": "web", "exec": ["/usr/bin/sleep", "infinity"]}
CREATE = {"name": "web", "restart": True, "start": "start",
          "changes": [{"op": "+", "what": "unit", "path": "/etc/systemd/system/jail-web.service"}]}


def written(host: Path) -> None:
    """The module's own file for DEFINITION, as it would write it."""
    (host / "jails.d" / "web.yaml").write_text(HEADER + "name: web\nexec:\n- /usr/bin/sleep\n- infinity\n")


def test_present_leaves_a_stopped_unchanged_jail_stopped(host: Path) -> None:
    written(host)
    world(host, "inactive", {"name": "web", "start": "start-stopped", "changes": []})
    result, calls = run(host, definition=DEFINITION)
    assert not result["changed"] and result["actions"] == [] and result["jail"]["plan"] == []
    assert result["jail"]["state"] == "stopped" and calls == [f"plan {host}/jails.d/web.yaml"]


def test_started_starts_it_through_apply(host: Path) -> None:
    written(host)
    world(host, "inactive", {"name": "web", "start": "start-stopped", "changes": []})
    result, calls = run(host, definition=DEFINITION, state="started")
    assert result["changed"] and result["actions"] == [f"apply {host}/jails.d/web.yaml"]
    assert calls[-1] == f"apply {host}/jails.d/web.yaml"


def test_stopped_stops_every_unit_of_the_jail_and_check_mode_only_says_so(host: Path) -> None:
    written(host)
    world(host, "active", units=("jail-web.service", "jail-web.socket"))
    result, calls = run(host, check=True, name="web", state="stopped")
    assert result["changed"] and result["actions"] == ["stop jail-web.service jail-web.socket"]
    assert result["jail"]["state"] == "stopped" and calls == [f"plan {host}/jails.d/web.yaml"]
    assert result["diff"][-1]["before"] == "state: started\n" and result["diff"][-1]["after"] == "state: stopped\n"


def test_stopped_on_a_stopped_jail_changes_nothing(host: Path) -> None:
    written(host)
    world(host, "inactive", {"name": "web", "start": "start-stopped", "changes": []})
    result, _ = run(host, name="web", state="stopped")
    assert not result["changed"] and result["actions"] == []


def test_a_new_jail_is_written_and_applied_and_its_name_comes_from_the_definition(host: Path) -> None:
    world(host, None, CREATE)
    result, calls = run(host, check=True, definition=DEFINITION)
    assert result["changed"] and result["actions"] == [f"write {host}/jails.d/web.yaml",
                                                        f"apply {host}/jails.d/web.yaml"]
    assert result["jail"]["name"] == "web" and result["jail"]["unit"] == "jail-web.service"
    assert not (host / "jails.d" / "web.yaml").exists()  # check mode
    assert calls == [f"plan --stdin-as {host}/jails.d/web.yaml {host}/jails.d/web.yaml"]


def test_restarted_restarts_once_when_apply_restarts_it_anyway(host: Path) -> None:
    world(host, "active", dict(CREATE, start="restart"))
    result, _ = run(host, check=True, definition=DEFINITION, state="restarted")
    assert result["actions"] == [f"write {host}/jails.d/web.yaml", f"apply {host}/jails.d/web.yaml"]
    written(host)
    world(host, "active")
    result, _ = run(host, check=True, definition=DEFINITION, state="restarted")
    assert result["changed"] and result["actions"] == ["restart jail-web.service"]


def test_absent_removes_the_modules_file_but_not_the_operators(host: Path) -> None:
    written(host)
    world(host, "active")
    result, calls = run(host, name="web", state="absent")
    assert result["actions"] == ["destroy web", f"remove {host}/jails.d/web.yaml"]
    assert calls == ["destroy web"] and not (host / "jails.d" / "web.yaml").exists()
    world(host, None)
    result, calls = run(host, name="web", state="absent")
    assert not result["changed"] and calls == [] and result["jail"]["state"] == "absent"
    theirs = host / "jails.d" / "web.yaml"
    theirs.write_text("name: web\nexec: [/usr/bin/sleep, infinity]\n")
    world(host, "active")
    result, _ = run(host, src=str(theirs), state="absent")  # the name comes from the file
    assert result["actions"] == ["destroy web"] and theirs.exists()
    assert any("creates jail web again" in w for w in result.get("warnings", []))


def test_a_name_that_disagrees_with_the_definition_fails(host: Path) -> None:
    world(host, None)
    result, calls = run(host, name="other", definition=DEFINITION)
    assert result["failed"] and "names jail 'web', not 'other'" in result["msg"] and calls == []
    result, _ = run(host)
    assert result["failed"]

