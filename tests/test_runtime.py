"""runtime: what each key renders in each mechanism and systemd version, its defaults, and what is refused.

The files it places are checked against a real systemd in tests/integration/test_runtime.py; here the units
are rendered for the fake Debian 12 and 13 hosts (tests/fakehost.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jsonschema
import pytest

from jailmgr import render, spec
from jailmgr.host import Host
from jailmgr.schema import jail_schema
from tests.fakehost import DEBIAN_12, DEBIAN_13
from tests.systemd_words import join_continuations

NATIVE = "user: nobody\nnamespaces: {pid: false, uts: false, cgroup: false}\n"
DEV_LOG = "/run/systemd/journal/dev-log"


def load(text: str, tmp_path: Path) -> spec.Loaded:
    path = tmp_path / "j.yaml"
    path.write_text("name: rt\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true], users: [nobody]}\n" + text)
    return spec.load_or_raise([str(path)])[0]


def rendered(text: str, tmp_path: Path, host: Host = DEBIAN_12) -> render.Rendered:
    item, problems = render.render(load(text, tmp_path), host)
    assert problems == [] and item is not None, problems
    return item


def unit(text: str, tmp_path: Path, host: Host = DEBIAN_12) -> list[str]:
    return join_continuations(rendered(text, tmp_path, host).unit_text).splitlines()


def argv(text: str, tmp_path: Path, host: Host = DEBIAN_12) -> str:
    return " ".join(next(line for line in unit(text, tmp_path, host) if line.startswith("ExecStart=")).split())


@pytest.mark.parametrize("host", [DEBIAN_12, DEBIAN_13], ids=["252", "257"])
def test_syslog_is_on_by_default_in_both_mechanisms(tmp_path: Path, host: Host) -> None:
    assert f"--tmpfs /dev --ro-bind {DEV_LOG} /dev/log --tmpfs /run" in argv("", tmp_path, host)
    lines = unit(NATIVE, tmp_path, host)
    assert f"BindReadOnlyPaths={DEV_LOG}:/dev/log" in lines
    # systemd 257 would bind journald's three sockets into a RootDirectory= root: only the syslog one goes in
    assert ("BindLogSockets=no" in lines) == (host.systemd_version >= 257)
    assert "BindLogSockets=no" not in unit("", tmp_path, host)  # (the launcher's /dev and /run are its own)


@pytest.mark.parametrize("text", [
    "runtime: {syslog: false}\n",
    "security: {address_families: [AF_INET]}\n",  # the program could not send to it: off, not an error
    "mounts: [{source: /run/systemd/journal/dev-log, target: /dev/log}]\n",  # a file from before the key
])
def test_syslog_off_puts_nothing_at_dev_log(tmp_path: Path, text: str) -> None:
    by_hand = int("mounts:" in text)  # the file's own mount stays, once
    assert argv(text, tmp_path).count("/dev/log") == by_hand
    native = unit(NATIVE + text, tmp_path, DEBIAN_13)
    assert sum("/dev/log" in line for line in native) == by_hand
    assert "BindLogSockets=no" in native  # 257: nothing of journald's unless asked


def test_shm_is_the_jails_own_tmpfs_of_its_size(tmp_path: Path) -> None:
    assert "--size 67108864 --perms 1777 --tmpfs /dev/shm" in argv("runtime: {shm: 64M}\n", tmp_path)
    lines = unit(NATIVE + "runtime: {shm: 64M}\n", tmp_path)
    assert "TemporaryFileSystem=/dev/shm:mode=1777,nosuid,nodev,size=67108864" in lines


@pytest.mark.parametrize("host", [DEBIAN_12, DEBIAN_13], ids=["252", "257"])
def test_without_shm_the_hosts_dev_shm_is_covered_in_systemds_dev(tmp_path: Path, host: Host) -> None:
    """PrivateDevices= binds the host's /dev/shm into the jail's /dev (252 and 257): an empty read-only
    tmpfs covers it; under the launcher bubblewrap's /dev has none."""
    hide = "TemporaryFileSystem=/dev/shm:ro,nosuid,nodev,noexec,mode=0000"
    assert hide in unit(NATIVE, tmp_path, host)
    assert hide in unit(NATIVE + "runtime: {shm: false}\n", tmp_path, host)
    assert "/dev/shm" not in argv("", tmp_path, host)
    # a tmpfs the file mounts there itself is what covers it
    own = unit(NATIVE + "mounts: [{type: tmpfs, target: /dev/shm, size: 1M}]\n", tmp_path, host)
    assert hide not in own and "TemporaryFileSystem=/dev/shm:mode=1777,nosuid,nodev,size=1048576" in own


def test_timezone_and_locales_are_read_only_host_binds_and_inputs(tmp_path: Path) -> None:
    text = "runtime: {timezone: true, locales: true}\n"
    for path in ("/usr/share/zoneinfo", "/etc/localtime", "/usr/lib/locale"):
        assert f"--ro-bind {path} {path}" in argv(text, tmp_path)
        assert f"BindReadOnlyPaths={path}" in unit(NATIVE + text, tmp_path)
    item = rendered(text, tmp_path)
    assert item.contents.entries["/etc/localtime"].kind == "mountpoint"
    assert item.contents.entries["/usr/share/zoneinfo"].kind == "dir"
    # apply notices a new host zone (the symlink's target is /etc/localtime's fingerprint) or a removed tzdata
    assert {"/etc/localtime", "/usr/share/zoneinfo", "/usr/lib/locale"} <= set(item.fingerprints)
    assert DEV_LOG not in item.fingerprints  # (a new socket at each boot would render every jail again)
    plain = rendered("", tmp_path)
    assert not {"/etc/localtime", "/usr/share/zoneinfo", "/usr/lib/locale"} & set(plain.contents.entries)


def test_a_host_without_the_files_is_refused_at_render(tmp_path: Path) -> None:
    bare = dataclasses.replace(DEBIAN_12, runtime_paths=frozenset({"/etc/localtime"}))
    item, problems = render.render(load("runtime: {timezone: true, locales: true}\n", tmp_path), bare)
    assert item is None
    assert [(p.key, p.message.split(":")[0]) for p in problems] == [
        ("runtime.timezone", "runtime.timezone binds /usr/share/zoneinfo, which is not on this host"),
        ("runtime.locales", "runtime.locales binds /usr/lib/locale, which is not on this host")]
    assert "apt install tzdata" in problems[0].message
    assert render.render(load("", tmp_path), bare)[1] == []  # (nothing asked, nothing refused)


def test_the_schema_takes_a_size_or_false_for_shm() -> None:
    v = jsonschema.Draft7Validator(jail_schema())
    base = {"name": "a", "exec": ["/x"]}
    for good in ({"shm": "64M"}, {"shm": False}, {"syslog": False, "timezone": True, "locales": True}):
        assert v.is_valid({**base, "runtime": good}), good
    for bad in ({"shm": True}, {"shm": "infinity"}, {"timezone": "yes"}, {"tz": True}):
        assert not v.is_valid({**base, "runtime": bad}), bad
