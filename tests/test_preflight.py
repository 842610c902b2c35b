"""The preflight: what only the host shows, found for every jail at once with file:line:col and a hint, on
fake hosts (tests/fakehost.py): no root, bubblewrap or systemd needed.

Rendering finds what the jail file names that the host lacks (binaries, users and groups, template
variables); preflight.py what the host's state refuses (bind sources, the launcher's way to them, ports).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jailmgr import render, spec
from jailmgr.host import Host
from jailmgr.problems import Problem
from tests.fakehost import fake_host


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
