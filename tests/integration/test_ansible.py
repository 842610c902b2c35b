"""The Ansible collection, built and installed with ansible-galaxy, run by Debian's ansible-core inside the
real systemd container: create, no-op, check and diff, change, absent, a typo.  Twice: in Debian 12
(ansible-core 2.14, systemd 252) and in Debian 13 (ansible-core 2.19, whose templating changed; systemd 257).

The tests in this file run in order against each booted container.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.testbed import Testbed, ftp_session

COLLECTION = Path(__file__).resolve().parents[2] / "packaging" / "ansible"
PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    memory: 256M
    state: present
  tasks:
    - name: the ftp jail
      jailmgr.jailmgr.jail:
        name: ftp
        state: "{{ state }}"
        definition: "{{ (lookup('file', '/usr/share/doc/jailmgr/examples/ftp.yaml') | from_yaml)
                        | combine({'limits': {'memory': memory}}, recursive=true) }}"
      register: result
      when: state != "absent"
    - name: the ftp jail, gone
      jailmgr.jailmgr.jail:
        name: ftp
        state: absent
      register: gone
      when: state == "absent"
    - name: what the module returned, for the test to read
      ansible.builtin.copy:
        content: "{{ (result if state != 'absent' else gone) | to_json }}"
        dest: /srv/play/result.json
      check_mode: false
      changed_when: false
"""
TYPO = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - jailmgr.jailmgr.jail:
        name: typo
        definition:
          exec: [/usr/bin/sleep, infinity]
          tree: {binaries: [/usr/bin/sleep]}
          limits: {memroy: 64M}
      register: result
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{ result | to_json }}"
        dest: /srv/play/result.json
      changed_when: false
"""
# started / stopped / absent with the name taken from the definition, then jail_info's view of it.
STATES = """\
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    want: started
  tasks:
    - name: the ftp jail, in the state wanted
      jailmgr.jailmgr.jail:
        state: "{{ want }}"
        definition: "{{ lookup('file', '/usr/share/doc/jailmgr/examples/ftp.yaml') | from_yaml }}"
      register: result
    - name: its facts
      jailmgr.jailmgr.jail_info:
        name: ftp
      register: info
    - name: every jail's facts
      jailmgr.jailmgr.jail_info:
      register: every
    - name: what the modules returned, for the test to read
      ansible.builtin.copy:
        content: "{{ {'jail': result, 'info': info, 'every': every} | to_json }}"
        dest: /srv/play/result.json
      check_mode: false
      changed_when: false
"""
# The collection's own integration targets, run as the roles they are shaped as (ansible-test integration
# would run them the same way, with a venv and an inventory of its own).
TARGETS = """\
- hosts: localhost
  connection: local
  gather_facts: false
  roles: [jail, jail_info]
  post_tasks:
    - ansible.builtin.copy:
        content: "{}"
        dest: /srv/play/result.json
      changed_when: false
"""


def in_srv(argv: list[str]) -> list[str]:
    """argv run from /srv (ansible needs a working directory that exists in the container)."""
    return ["sh", "-c", 'cd /srv && exec "$0" "$@"', *argv]


def playbook(bed: Testbed, name: str, *args: str) -> dict:
    """Run a playbook; the recap's counts, the exit status, the output, and what the jail task returned."""
    result = bed.path("/srv/play/result.json")
    result.unlink(missing_ok=True)
    proc = bed.run(in_srv(["env", "HOME=/root", "ANSIBLE_ROLES_PATH=/srv/collection/tests/integration/targets",
                           "ANSIBLE_LOCALHOST_WARNING=false", "ANSIBLE_NOCOLOR=1",
                           "ANSIBLE_INVENTORY_UNPARSED_WARNING=false", "ansible-playbook", f"/srv/play/{name}",
                           *args]), check=False, timeout=300)
    recap = re.search(r"localhost\s*:\s*(.*)", proc.stdout)
    if recap is None or not result.exists():
        raise AssertionError(f"ansible-playbook ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}
    return {"rc": proc.returncode, "stats": counts, "output": proc.stdout, "result": json.loads(result.read_text())}


def task(doc: dict) -> dict:
    return doc["result"]


def host_view(bed: Testbed) -> tuple:
    """What check mode must leave alone: the unit, the jail file, the record, the tree's fingerprint, the PID."""
    unit = bed.path("/etc/systemd/system/jail-ftp.service").read_bytes()
    jail_file = bed.path("/etc/jailmgr/jails.d/ftp.yaml").read_bytes()
    record = bed.path("/var/lib/jailmgr/state/ftp.json").read_bytes()
    tree = bed.run(["sh", "-c", "find /var/lib/jailmgr/jails/ftp/root -xdev -printf '%p %i %s %T@ %m\\n' | sort"])
    pid = bed.run(["systemctl", "show", "-P", "MainPID", "jail-ftp.service"]).stdout
    return unit, jail_file, record, tree.stdout, pid


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def ansible(request: pytest.FixtureRequest) -> Testbed:
    bed: Testbed = request.getfixturevalue("bed" if request.param == "bookworm" else "trixie")
    if not shutil.which("ansible-galaxy", path=f"{bed.root}/usr/bin"):
        pytest.fail("ansible-core is not in the test container")
    work = bed.path("/srv/collection")
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(COLLECTION, work)
    bed.run(in_srv(["ansible-galaxy", "collection", "build", "--force", "--output-path", "/srv", "/srv/collection"]))
    bed.run(["sh", "-c", "cd /srv && ansible-galaxy collection install --force -p /usr/share/ansible/collections "
                         "/srv/jailmgr-jailmgr-*.tar.gz"])
    bed.path("/srv/play").mkdir(exist_ok=True)
    bed.path("/srv/play/ftp.yml").write_text(PLAY)
    bed.path("/srv/play/typo.yml").write_text(TYPO)
    bed.path("/srv/play/states.yml").write_text(STATES)
    bed.path("/srv/play/targets.yml").write_text(TARGETS)
    yield bed
    bed.run(["jailmgr", "destroy", "ftp"], check=False)  # (the other container's ftp jail needs port 2121)


def test_a_playbook_creates_the_jail_and_ftp_answers(ansible: Testbed) -> None:
    doc = playbook(ansible, "ftp.yml")
    assert doc["rc"] == 0, doc
    assert doc["stats"]["changed"] == 1
    result = task(doc)
    assert result["unit"] == "/etc/systemd/system/jail-ftp.service" and result["main_pid"] > 0
    assert result["exposure"] is not None and result["exposure"] <= 3.0
    assert any(line.startswith("+ unit") for line in result["plan"])
    assert ftp_session()[1].startswith("230")


def test_a_second_run_changes_nothing(ansible: Testbed) -> None:
    before = host_view(ansible)
    doc = playbook(ansible, "ftp.yml")
    assert doc["rc"] == 0 and doc["stats"]["changed"] == 0, task(doc)
    assert task(doc)["plan"] == []
    assert host_view(ansible) == before


def test_check_and_diff_show_the_change_and_change_nothing(ansible: Testbed) -> None:
    before = host_view(ansible)
    doc = playbook(ansible, "ftp.yml", "--check", "--diff", "-e", "memory=300M")
    assert doc["rc"] == 0 and doc["stats"]["changed"] == 1
    result = task(doc)
    diffs = result["diff"]
    files = [d for d in diffs if d["before_header"] == "/etc/jailmgr/jails.d/ftp.yaml"]
    assert files and "300M" in files[0]["after"] and "300M" not in files[0]["before"]
    units = [d for d in diffs if d["before_header"].startswith("/etc/systemd/system/jail-ftp.service")]
    assert units and "MemoryMax=314572800" in units[0]["after"] and "MemoryMax=268435456" in units[0]["before"]
    assert any("restart" in line for line in result["plan"])
    assert host_view(ansible) == before  # unit, jail file, record, tree and main PID unchanged


def test_the_real_run_then_applies_it(ansible: Testbed) -> None:
    pid = ansible.run(["systemctl", "show", "-P", "MainPID", "jail-ftp.service"]).stdout
    doc = playbook(ansible, "ftp.yml", "-e", "memory=300M")
    assert doc["rc"] == 0 and doc["stats"]["changed"] == 1
    assert "MemoryMax=314572800" in ansible.path("/etc/systemd/system/jail-ftp.service").read_text()
    assert ansible.run(["systemctl", "show", "-P", "MainPID", "jail-ftp.service"]).stdout != pid
    assert ftp_session()[1].startswith("230")
    again = playbook(ansible, "ftp.yml", "-e", "memory=300M")
    assert again["stats"]["changed"] == 0


def test_absent_destroys_the_jail_and_keeps_the_bound_data(ansible: Testbed) -> None:
    ansible.path("/srv/ftp-data/keep.txt").write_text("host data\n")
    doc = playbook(ansible, "ftp.yml", "-e", "state=absent")
    assert doc["rc"] == 0 and doc["stats"]["changed"] == 1
    assert not ansible.path("/etc/systemd/system/jail-ftp.service").exists()
    assert not ansible.path("/var/lib/jailmgr/jails/ftp").exists()
    assert not ansible.path("/etc/jailmgr/jails.d/ftp.yaml").exists()
    assert ansible.path("/srv/ftp-data/keep.txt").read_text() == "host data\n"
    assert playbook(ansible, "ftp.yml", "-e", "state=absent")["stats"]["changed"] == 0


def test_a_typo_fails_with_its_line_and_column(ansible: Testbed) -> None:
    doc = playbook(ansible, "typo.yml")
    assert doc["stats"]["ignored"] == 1
    result = task(doc)
    assert result["failed"] and result["rc"] == 1
    problem = result["problems"][0]
    assert problem["file"] == "/etc/jailmgr/jails.d/typo.yaml" and problem["key"] == "limits.memroy"
    assert problem["line"] > 0 and problem["column"] > 0 and "did you mean" in problem["message"]
    assert f":{problem['line']}:{problem['column']}:" in result["msg"]
    assert not ansible.path("/etc/jailmgr/jails.d/typo.yaml").exists()  # nothing written for a bad file
    assert not ansible.path("/etc/systemd/system/jail-typo.service").exists()


def states(bed: Testbed, want: str, *args: str) -> dict:
    doc = playbook(bed, "states.yml", "-e", f"want={want}", *args)
    assert doc["rc"] == 0, doc["output"]
    return doc


def active(bed: Testbed) -> str:
    return bed.run(["systemctl", "is-active", "jail-ftp.service"], check=False).stdout.strip()


def test_started_creates_it_named_by_its_definition_and_info_sees_it(ansible: Testbed) -> None:
    doc = states(ansible, "started")
    assert doc["stats"]["changed"] == 1  # the jail task alone: info changes nothing
    jail, info = task(doc)["jail"], task(doc)["info"]
    assert jail["jail"]["name"] == "ftp" and jail["jail"]["state"] == "started" and jail["jail"]["main_pid"] > 0
    assert jail["actions"] == ["write /etc/jailmgr/jails.d/ftp.yaml", "apply /etc/jailmgr/jails.d/ftp.yaml"]
    assert not info["changed"] and len(info["jails"]) == 1
    facts = info["jails"][0]
    assert facts["state"] == "started" and facts["main_pid"] == jail["jail"]["main_pid"] and facts["plan"] == []
    assert facts["unit"] == "jail-ftp.service" and facts["jail_file"] == "/etc/jailmgr/jails.d/ftp.yaml"
    assert facts["exposure"] is not None
    assert "ftp" in [j["name"] for j in task(doc)["every"]["jails"]]
    assert ftp_session()[1].startswith("230")
    again = states(ansible, "started")
    assert again["stats"]["changed"] == 0 and task(again)["jail"]["actions"] == []


def test_stopped_stops_it_once_and_check_mode_changes_nothing(ansible: Testbed) -> None:
    checked = states(ansible, "stopped", "--check", "--diff")
    assert checked["stats"]["changed"] == 1 and active(ansible) == "active"
    assert task(checked)["jail"]["actions"] == ["stop jail-ftp.service"]
    assert task(checked)["jail"]["jail"]["state"] == "stopped"
    doc = states(ansible, "stopped")
    assert doc["stats"]["changed"] == 1 and active(ansible) in ("inactive", "failed")
    assert task(doc)["jail"]["actions"] == ["stop jail-ftp.service"]
    facts = task(doc)["info"]["jails"][0]
    assert facts["state"] == "stopped" and facts["main_pid"] == 0
    assert facts["plan"] == ["~ service    start"]  # what a plain `jailmgr apply` would do
    assert states(ansible, "stopped")["stats"]["changed"] == 0
    assert states(ansible, "stopped", "--check")["stats"]["changed"] == 0
    assert states(ansible, "started", "--check")["stats"]["changed"] == 1 and active(ansible) != "active"
    back = states(ansible, "started")
    assert back["stats"]["changed"] == 1 and active(ansible) == "active"
    assert task(back)["jail"]["actions"] == ["apply /etc/jailmgr/jails.d/ftp.yaml"]


def test_absent_removes_the_file_it_wrote_and_apply_does_not_bring_it_back(ansible: Testbed) -> None:
    checked = states(ansible, "absent", "--check")
    assert checked["stats"]["changed"] == 1 and active(ansible) == "active"
    assert ansible.path("/etc/jailmgr/jails.d/ftp.yaml").exists()
    doc = states(ansible, "absent")
    assert doc["stats"]["changed"] == 1
    assert task(doc)["jail"]["actions"] == ["destroy ftp", "remove /etc/jailmgr/jails.d/ftp.yaml"]
    gone = task(doc)["info"]["jails"]
    assert len(gone) == 1 and gone[0]["state"] == "absent" and gone[0]["unit"] == "" and gone[0]["main_pid"] == 0
    assert "ftp" not in [j["name"] for j in task(doc)["every"]["jails"]]
    assert not ansible.path("/etc/jailmgr/jails.d/ftp.yaml").exists()
    assert states(ansible, "absent")["stats"]["changed"] == 0
    planned = ansible.run(["jailmgr", "--json", "plan"]).stdout
    assert '"ftp"' not in planned
    ansible.run(["jailmgr", "apply"])
    assert not ansible.path("/etc/systemd/system/jail-ftp.service").exists()
    assert "ftp" not in ansible.run(["jailmgr", "list"]).stdout.split()


def test_the_collections_integration_targets_pass(ansible: Testbed) -> None:
    doc = playbook(ansible, "targets.yml")
    assert doc["rc"] == 0 and doc["stats"]["failed"] == 0, doc["output"]
    assert "ansible-test-sleep" not in ansible.run(["jailmgr", "list"]).stdout.split()
