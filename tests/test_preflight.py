"""The preflight: what only the host shows, found for every jail at once with file:line:col and a hint, on
fake hosts (tests/fakehost.py): no root, bubblewrap or systemd needed.

Rendering finds what the jail file names that the host lacks (binaries, users and groups, template
variables); preflight.py what the host's state refuses (bind sources, the launcher's way to them, ports).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from jailmgr import preflight, procfs, render, spec, state
from jailmgr.cli import main
from jailmgr.host import Host
from jailmgr.problems import Problem
from tests.fakehost import FakeDisk, fake_host, node


def jail_file(tmp_path: Path, text: str) -> spec.Loaded:
    path = tmp_path / "j.yaml"
    path.write_text(text)
    return spec.load_or_raise([str(path)])[0]


def rendered_problems(tmp_path: Path, text: str, host: Host | None = None) -> list[Problem]:
    _, problems = render.render(jail_file(tmp_path, text), host or fake_host())
    return problems


def said(problems: list[Problem]) -> list[tuple[int, int, str, str, str]]:
    return [(p.line, p.col, p.key, p.message, p.hint) for p in problems]


# --- binaries: where the name does exist ---------------------------------------------------------------

def test_a_binary_named_in_the_wrong_directory_is_found_by_its_name_on_path(tmp_path: Path) -> None:
    problems = rendered_problems(tmp_path, "name: m\nexec: [/usr/sbin/memcached]\n"
                                 "tree: {binaries: [/usr/sbin/memcached]}\n", fake_host(absent={"/usr/sbin/memcached"}))
    assert said(problems) == [(3, 19, "tree.binaries[0]", "/usr/sbin/memcached does not exist on this host",
                               "memcached is /usr/bin/memcached on this host: name that here and in exec[0]")]


def test_a_misspelt_binary_gets_the_closest_name_of_its_directory(tmp_path: Path) -> None:
    problems = rendered_problems(tmp_path, "name: m\nexec: [/usr/bin/true]\n"
                                 "tree: {binaries: [/usr/bin/true, /usr/sbin/vsfptd]}\n",
                                 fake_host(absent={"/usr/sbin/vsfptd"}))
    assert said(problems) == [(3, 34, "tree.binaries[1]", "/usr/sbin/vsfptd does not exist on this host",
                               "did you mean '/usr/sbin/vsftpd'? (name it here)")]


def test_a_binary_found_nowhere_says_what_to_do(tmp_path: Path) -> None:
    problems = rendered_problems(tmp_path, "name: m\nexec: [/nonexistent/x]\ntree: {binaries: [/nonexistent/x]}\n")
    assert [p.hint for p in problems] == ["install the package that brings it, or name the path it has here"]


# --- users and groups: did-you-mean from the host's passwd and group -----------------------------------

def test_a_missing_user_gets_the_closest_host_name(tmp_path: Path) -> None:
    problems = rendered_problems(tmp_path, "name: m\nexec: [/usr/bin/true]\nuser: memcached\n"
                                 "tree: {binaries: [/usr/bin/true], users: [root, memcached, nobdy]}\n",
                                 _host_with_user("memcache"))
    assert said(problems) == [
        (4, 49, "tree.users[1]", "user 'memcached' does not exist on this host",
         "did you mean 'memcache'? (a user of this host)"),
        (4, 60, "tree.users[2]", "user 'nobdy' does not exist on this host", "did you mean 'nobody'? (a user of "
         "this host)")]


def test_a_user_with_no_close_name_says_how_to_make_it(tmp_path: Path) -> None:
    problems = rendered_problems(tmp_path, "name: m\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true], "
                                 "users: [zzqx]}\n")
    assert [p.hint for p in problems] == ["create it first (adduser --system zzqx), or name a user this host has"]


def test_every_group_the_file_names_must_be_a_group_of_the_host(tmp_path: Path) -> None:
    """A group the jail's group file lacks was a KeyError when the unit was written (`group:`), or
    silently root's group for a tree entry: each is said where it is named."""
    host = fake_host()
    host = dataclasses.replace(host, group={n: e for n, e in host.group.items() if n != "nobody"})
    problems = rendered_problems(tmp_path, "name: m\nexec: [/usr/bin/true]\nuser: nobody\ngroup: nobody\n"
                                 "tree:\n  binaries: [/usr/bin/true]\n  users: [nobody, ftp]\n"
                                 "  dirs: [{path: /d, group: ftp}, {path: /e, group: nobody}]\n", host)
    assert said(problems) == [
        (4, 8, "group", "group 'nobody' does not exist on this host", "the group of user nobody is 'nogroup'"),
        (8, 52, "tree.dirs[1].group", "group 'nobody' does not exist on this host",
         "the group of user nobody is 'nogroup'")]


def _host_with_user(name: str) -> Host:
    host = fake_host()
    entry = (name, "x", "500", "500", name, "/nonexistent", "/usr/sbin/nologin")
    group = (name, "x", "500", "")
    return dataclasses.replace(host, passwd={**host.passwd, name: entry}, group={**host.group, name: group})


# --- the host's state: preflight.check -----------------------------------------------------------------

class FakePorts:
    """Listeners by port (socket inodes), the sockets each unit's processes hold (None: can't be seen),
    and who holds each socket."""

    def __init__(self, listening: dict[int, set[int]], units: dict[str, set[int] | None],
                 holders: dict[int, str]) -> None:
        self.by_port, self.units, self.by_inode = listening, units, holders

    def listening(self, port: int) -> set[int]:
        return self.by_port.get(port, set())

    def unit_sockets(self, unit: str) -> set[int] | None:
        return self.units.get(unit, set())

    def holders(self, inodes: set[int]) -> list[str]:
        return [self.by_inode[i] for i in sorted(inodes) if i in self.by_inode]


def checked(tmp_path: Path, text: str, host: Host | None = None, ports: FakePorts | None = None,
            records: state.Records | None = None) -> preflight.Found:
    item = jail_file(tmp_path, text)
    host = host or fake_host(disk=FakeDisk(everything=False))
    rendered, problems = render.render(item, host)
    assert problems == [], problems
    assert rendered is not None
    return preflight.check([item], [rendered], host, records or {}, ports=ports or FakePorts({}, {}, {}))


NATIVE = "namespaces: {pid: false, uts: false, cgroup: false}\nuser: nobody\n"
JAIL = "name: j\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true], users: [nobody, postgres]}\n"


def test_a_missing_bind_source_is_said_with_create_as_the_way_out(tmp_path: Path) -> None:
    disk = FakeDisk({"/srv/here": node()}, everything=False)
    found = checked(tmp_path, JAIL + "mounts:\n  - {source: /srv/here, target: /a}\n"
                    "  - {source: /srv/gone, target: /b}\n  - {source: /srv/new, target: /c, create: true}\n",
                    fake_host(disk=disk))
    assert found.across == [] and list(found.own) == ["j"]
    assert said(found.own["j"]) == [(6, 14, "mounts[1].source", "/srv/gone does not exist on this host",
                                     "make it (mkdir -p /srv/gone, or install what brings it), or set `create: true` "
                                     "on this mount (with owner:) for apply to make it")]


def test_the_owner_and_group_of_a_created_source_are_the_hosts(tmp_path: Path) -> None:
    found = checked(tmp_path, JAIL + "mounts: [{source: /srv/new, target: /c, create: true, owner: postgress, "
                    "group: nogrop}]\n")
    assert said(found.own["j"]) == [
        (4, 62, "mounts[0].owner", "user 'postgress' does not exist on this host",
         "did you mean 'postgres'? (a user of this host)"),
        (4, 80, "mounts[0].group", "group 'nogrop' does not exist on this host",
         "did you mean 'nogroup'? (a group of this host)")]


PG_DISK = {"/var/lib/jail-pg": node(0o700, uid=103), "/var/lib/jail-pg/data": node(0o700, uid=103),
           "/nowhere/root": node(0o700), "/nowhere/root/data": node()}


def test_the_launcher_must_be_able_to_pass_every_parent_of_a_bind_source(tmp_path: Path) -> None:
    """bubblewrap, root without CAP_DAC_OVERRIDE, passes a directory of another owner as others: PostgreSQL's
    data below a 0700 directory of postgres was `bwrap: Can't find source path ...: Permission denied` at the
    start.  Root's own 0700 directories it passes as their owner."""
    host = fake_host(disk=FakeDisk(PG_DISK))
    mounts = ("mounts: [{source: /var/lib/jail-pg/data, target: /d, mode: rw}, "
              "{source: /nowhere/root/data, target: /r}]\n")
    found = checked(tmp_path, JAIL + mounts, host)
    assert said(found.own["j"]) == [
        (4, 19, "mounts[0].source", "bubblewrap can't reach /var/lib/jail-pg/data: /var/lib/jail-pg is 0700 "
         "postgres:postgres, and the launcher (root without CAP_DAC_OVERRIDE) may pass it only as others, who may "
         "not search it", "chmod o+x /var/lib/jail-pg (they may then pass through it, not list it), or bind a "
         "directory outside it")]
    assert checked(tmp_path, JAIL + NATIVE + mounts, host).own == {}  # systemd binds it, with every capability
    assert checked(tmp_path, JAIL + mounts + "security: {capabilities: [CAP_DAC_READ_SEARCH]}\n", host).own == {}
    # Under `user: true` bubblewrap is root of the jail's namespace, a host uid that owns none of the host's.
    found = checked(tmp_path, JAIL + mounts + "namespaces: {user: true}\n", host)
    assert [p.key for p in found.own["j"]] == ["mounts[0].source", "mounts[1].source"]
    assert "/nowhere/root is 0700 root:root, and the launcher (the jail's root, host uid " in found.own["j"][1].message


def test_the_launcher_must_be_able_to_pass_the_trees_own_directories(tmp_path: Path) -> None:
    """A writable dir is bound from the tree, and a mount target looked up in it, by bubblewrap too."""
    found = checked(tmp_path, JAIL.replace("users: [nobody, postgres]}", "users: [postgres],\n  dirs: [") +
                    "{path: /var/lib/app, mode: '0700', owner: postgres}, "
                    "{path: /var/lib/app/data, writable: true, owner: postgres}]}\n"
                    "mounts: [{type: tmpfs, target: /var/lib/app/tmp}]\n")
    cause = ("the tree's /var/lib/app is 0700 postgres:root, and the launcher (root without CAP_DAC_OVERRIDE) may "
             "pass it only as its group (root), who may not search it")
    hint = ("give tree.dirs[0] (/var/lib/app) a mode its group may search (0710), or keep what the launcher passes "
            "out of it")
    assert said(found.own["j"]) == [
        (5, 61, "tree.dirs[1].path", "bubblewrap can't reach /var/lib/jailmgr/jails/j/root/var/lib/app/data (the "
         f"tree's /var/lib/app/data): {cause}", hint),
        (6, 32, "mounts[0].target", f"bubblewrap can't reach /var/lib/app/tmp: {cause}", hint)]


PORT = JAIL + "ready: {port: 5432}\n"


def test_a_ready_port_another_process_listens_on_is_taken(tmp_path: Path) -> None:
    ports = FakePorts({5432: {11}}, {}, {11: "PID 99 (postgres -D /var/lib/postgresql/15/main)"})
    found = checked(tmp_path, PORT, ports=ports)
    assert said(found.own["j"]) == [(4, 15, "ready.port", "port 5432 is taken: PID 99 (postgres -D "
                                     "/var/lib/postgresql/15/main) listens on it, not this jail", "stop it, or give "
                                     "the jail (and its program) another port; `ss -ltnp 'sport = :5432'` names the "
                                     "listener")]


def test_a_running_jail_applied_again_keeps_its_own_port(tmp_path: Path) -> None:
    assert checked(tmp_path, PORT, ports=FakePorts({5432: {11, 12}}, {"jail-j.service": {11, 12, 13}}, {})).own == {}
    found = checked(tmp_path, PORT, ports=FakePorts({5432: {11, 12}}, {"jail-j.service": {11}}, {12: "PID 7 (nc)"}))
    assert "PID 7 (nc) listens on it" in found.own["j"][0].message
    # Without root another user's sockets can't be seen: said, not guessed.
    found = checked(tmp_path, PORT, ports=FakePorts({5432: {11}}, {"jail-j.service": None}, {}))
    assert found.own == {} and found.notes == [f"{tmp_path / 'j.yaml'}: ready.port 5432 is in use, and whether by "
                                               "jail-j.service itself can't be seen without root"]
    # A jail of its own network has ports of its own.
    private = PORT + "namespaces: {net: private}\nnetwork: {host: 10.9.0.1/30, jail: 10.9.0.2/30}\n"
    assert checked(tmp_path, private, ports=FakePorts({5432: {11}}, {}, {11: "PID 7 (nc)"})).own == {}


def test_two_jails_waiting_on_one_port_refuse_the_run(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    items = [jail_file(tmp_path / d, PORT.replace("name: j", f"name: {d}")) for d in ("a", "b")]
    found = preflight.check(items, [], fake_host(disk=FakeDisk(everything=False)), {}, ports=FakePorts({}, {}, {}))
    assert said(found.across) == [(4, 15, "ready.port", "port 5432 is also the ready port of jail a, and both listen "
                                   "on the host's network", "give one of them another port (or namespaces.net: "
                                   "private)")]
    assert found.across[0].file.endswith("b/j.yaml")


# --- validate --host: the same preflight, writing nothing ---------------------------------------------

BAD = """\
name: bad
exec: [/usr/sbin/memcached]
user: memcached
tree: {binaries: [/usr/sbin/memcached], users: [memcached]}
mounts: [{source: /srv/gone, target: /data}]
ready: {port: 11211}
"""


def test_validate_checks_the_file_alone_and_validate_host_checks_the_host_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "good.yaml").write_text("name: good\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true]}\n")
    host = dataclasses.replace(_host_with_user("memcache"), libraries=fake_host(absent={"/usr/sbin/memcached"})
                               .libraries, disk=FakeDisk(everything=False))
    monkeypatch.setattr(Host, "read", classmethod(lambda cls, shadow=False: host))
    monkeypatch.setattr(preflight, "HostPorts", lambda: FakePorts({11211: {5}}, {}, {5: "PID 9 (memcached)"}))
    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path / "state"))
    assert main(["validate", str(tmp_path)]) == 0  # (the files alone are fine)
    capsys.readouterr()
    assert main(["--json", "validate", "--host", str(tmp_path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["jails"] == [{"name": "good", "file": str(tmp_path / "good.yaml")}]
    assert [(p["line"], p["key"], p["hint"].split(":")[0]) for p in doc["problems"]] == [
        (4, "tree.binaries[0]", "memcached is /usr/bin/memcached on this host"),
        (4, "tree.users[0]", "did you mean 'memcache'? (a user of this host)"),
        (5, "mounts[0].source", "make it (mkdir -p /srv/gone, or install what brings it), or set `create"),
        (6, "ready.port", "stop it, or give the jail (and its program) another port; `ss -ltnp 'sport = ")]
    assert main(["validate", "--host", str(tmp_path)]) == 1
    err = capsys.readouterr()
    assert err.out == f"{tmp_path / 'good.yaml'}: ok (good)\n"
    assert err.err.count("; hint: ") == 4 and "jailmgr: warning" not in err.err


def test_validate_host_without_root_says_what_it_could_not_see(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "j.yaml").write_text("name: j\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true, /usr/bin/x], "
                                     "shadow: true}\n")
    host = fake_host(denied={"/usr/bin/x"}, disk=FakeDisk(everything=False))
    monkeypatch.setattr(Host, "read", classmethod(lambda cls, shadow=False: dataclasses.replace(
        host, shadow=host.shadow if shadow else None)))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    def unreadable(warn: object) -> state.Records:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(state, "read_records", unreadable)
    assert main(["validate", "--host", str(tmp_path / "j.yaml")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "jailmgr: warning: not checked: /etc/shadow (tree.shadow) can't be read without root",
        f"jailmgr: warning: not checked: {tmp_path / 'j.yaml'}:3:34: tree.binaries[1]: cannot read /usr/bin/x: "
        "Permission denied (without root)",
        f"jailmgr: warning: not checked: the records in {state.state_dir()} can't be read without root: the jails "
        "were checked against each other, not against those applied before"]


def test_the_hosts_ports_are_read_from_proc(tmp_path: Path) -> None:
    """HostPorts on this machine (no root needed): a socket this process listens on, found by its port, held
    by this process, and not the socket of a unit it is not in."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        ports = preflight.HostPorts()
        inodes = ports.listening(port)
        assert len(inodes) == 1
        assert inodes <= procfs.held_sockets([os.getpid()])[0]
        assert ports.unit_sockets("jail-nosuchjail.service") == set()
        assert any(f"PID {os.getpid()} (" in holder for holder in ports.holders(inodes))
    assert procfs.listening_inodes(os.getpid(), port) == set()


# --- survey (plan and apply's one pass): what refuses the run, what refuses one jail ---------------------

def test_survey_says_every_problem_at_once_and_refuses_a_jail_for_its_host_state_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jailmgr import apply
    from jailmgr.problems import InvalidJails

    monkeypatch.setenv("JAILMGR_STATE_DIR", str(tmp_path / "state"))
    host = fake_host(absent={"/usr/sbin/memcached"}, disk=FakeDisk(everything=False))
    monkeypatch.setattr(Host, "read", classmethod(lambda cls, shadow=False: host))
    monkeypatch.setattr(preflight, "HostPorts", lambda: FakePorts({}, {}, {}))
    monkeypatch.setattr(apply, "plan_all", lambda rendered, *args: [apply.JailPlan(r.name) for r in rendered])
    jails = tmp_path / "jails"
    jails.mkdir()
    (jails / "good.yaml").write_text("name: good\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true]}\n")
    (jails / "gone.yaml").write_text("name: gone\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true]}\n"
                                     "mounts: [{source: /srv/gone, target: /data}]\n")
    (jails / "typo.yaml").write_text("name: typo\nexec: [/usr/sbin/memcached]\n"
                                     "tree: {binaries: [/usr/sbin/memcached]}\n"
                                     "mounts: [{source: /srv/gone, target: /data}]\n")
    with pytest.raises(InvalidJails) as refused:  # a file's problem: nothing at all, every problem said
        apply.survey([str(jails)], lambda _: None)
    assert [(Path(p.file).name, p.key) for p in refused.value.problems] == [
        ("gone.yaml", "mounts[0].source"), ("typo.yaml", "tree.binaries[0]"), ("typo.yaml", "mounts[0].source")]
    (jails / "typo.yaml").unlink()
    found = apply.survey([str(jails)], lambda _: None)  # the host's state of one jail: that jail alone
    assert [item.name for item in found.rendered] == ["good"] and [p.name for p in found.plans] == ["good"]
    assert {name: [p.key for p in problems] for name, problems in found.refused.items()} == {
        "gone": ["mounts[0].source"]}


SOCKETS = JAIL + "sockets: [{listen: \"127.0.0.1:8080\"}, {listen: \"0.0.0.0:69\", type: datagram}]\n"


def test_a_socket_port_something_listens_on_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAILMGR_UNIT_DIR", str(tmp_path))
    found = checked(tmp_path, SOCKETS, ports=FakePorts({8080: {11}, 69: {12}}, {}, {11: "PID 7 (nc -l 8080)"}))
    assert said(found.own["j"]) == [(4, 20, "sockets[0].listen", "port 8080 is taken on the host: PID 7 (nc -l 8080) "
                                     "listens on it", "stop it, or give the jail another port; `ss -ltnp 'sport = "
                                     ":8080'` names the listener")]
    # Its own socket unit listening there already (a re-apply): systemd holds the port for the jail.
    (tmp_path / "jail-j.socket").write_text("[Socket]\nListenStream=127.0.0.1:8080\n")
    assert checked(tmp_path, SOCKETS, ports=FakePorts({8080: {11}}, {}, {})).own == {}


def test_a_unix_socket_in_another_jails_tree_is_refused(tmp_path: Path) -> None:
    other = jail_file(tmp_path, "name: k\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true]}\n")
    mine = jail_file(tmp_path, JAIL + "sockets: [{listen: /var/lib/jailmgr/jails/k/root/run/x.sock}]\n")
    found = preflight.check([other, mine], [], fake_host(disk=FakeDisk(everything=False)), {},
                            ports=FakePorts({}, {}, {}))
    assert [(p.key, p.message) for p in found.across] == [
        ("sockets[0].listen", "/var/lib/jailmgr/jails/k/root/run/x.sock lies in the tree of jail k "
         "(/var/lib/jailmgr/jails/k/root): systemd would make the socket there as root")]


def test_a_unix_socket_below_another_jails_rw_mount_is_refused(tmp_path: Path) -> None:
    """Red team 5: the other jail can swap /srv/k-data/sub for a symlink; systemd would make (and at the socket's
    stop remove, or at its start unlink what is in the way) the socket wherever that leads, as root."""
    other = jail_file(tmp_path, "name: k\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true]}\n"
                      "mounts: [{source: /srv/k-data, target: /data, mode: rw}]\n")
    mine = jail_file(tmp_path, JAIL + "sockets: [{listen: /srv/k-data/sub/x.sock}]\n")
    found = preflight.check([other, mine], [], fake_host(disk=FakeDisk(everything=False)), {},
                            ports=FakePorts({}, {}, {}))
    refused = [p.message for p in found.across if p.key == "sockets[0].listen"]
    assert len(refused) == 1 and "/srv/k-data" in refused[0], found.across
