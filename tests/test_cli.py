"""The command line: exit codes, output forms, and refusing what isn't built."""

import json
import os
from pathlib import Path

import pytest

from jailmgr.cli import main
from jailmgr.host import Host
from tests.fakehost import DEBIAN_12, fake_host

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests/cases/bad/kinds.yaml"
GOOD = ROOT / "tests/cases/good/minimal.yaml"


def test_validate_ok_and_bad(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "jails.d")]) == 0
    assert main(["validate", str(BAD)]) == 1
    err = capsys.readouterr().err
    assert f"{BAD}:9:7: name: 'Ftp' is not a jail name" in err
    assert err.count(f"{BAD}:") == 14


def test_validate_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "validate", str(BAD), str(GOOD)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["jails"] == [{"name": "minimal", "file": str(GOOD)}]
    assert {"file": str(BAD), "line": 25, "column": 3, "key": "limits.cpu",
            "message": "duplicate key (first set on line 24)"} in doc["problems"]


def test_render_prints_unit_and_tree(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Host, "read", classmethod(lambda cls, shadow=False: DEBIAN_12))  # (any machine)
    assert main(["render", str(GOOD)]) == 0
    out = capsys.readouterr().out
    assert "# /etc/systemd/system/jail-minimal.service" in out
    assert "ExecStart=/usr/lib/jailmgr/jailmgr-init supervise " in out and " -- /usr/bin/true\n" in out
    assert any(line.split()[:4] == ["mountpoint", "0444", "root:root", "/usr/bin/true"] for line in out.splitlines())


def test_render_of_bad_file_changes_nothing_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(BAD)]) == 1
    assert "nothing was changed" in capsys.readouterr().err


def test_missing_path_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/jails"]) == 1
    assert "/nonexistent/jails" in capsys.readouterr().err


def test_root_commands_refuse_non_root(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for argv in (["apply", str(GOOD)], ["destroy", "x"], ["plan", str(GOOD)], ["list"], ["status"]):
        assert main(argv) == 1
        assert "must run as root" in capsys.readouterr().err


def test_every_contract_command_is_built() -> None:
    from jailmgr.cli import build_parser, commands

    table = commands()
    parser = build_parser(table)
    argvs = {"validate": [], "render": ["x"], "plan": [], "apply": [], "status": [], "list": [],
             "destroy": ["x"], "logs": ["x"], "exec": ["x", "--", "y"], "check": []}
    for name, rest in argvs.items():
        assert parser.parse_args([name, *rest]).func is table[name], name


def test_a_named_command_is_parsed_by_its_parser_alone_as_by_the_whole_one() -> None:
    from jailmgr.cli import build_parser, commands, named_command

    table = commands()
    whole = build_parser(table)
    for argv in (["apply", "-q", "a.yaml", "b.yaml"], ["--json", "apply", "--check", "--prune"],
                 ["-q", "status", "x", "y"], ["logs", "-n", "3", "--follow", "x"], ["exec", "--user", "u", "x", "id"],
                 ["plan", "--detailed-exitcode", "--stdin-as", "p.yaml"], ["--debug", "-v", "destroy", "x"]):
        name = named_command(argv, table)
        assert name == next(a for a in argv if not a.startswith("-")), argv
        assert vars(build_parser(table, only=name).parse_args(argv)) == vars(whole.parse_args(argv)), argv
    for argv in (["--help"], ["--version"], ["aply"], [], ["-q"]):
        assert named_command(argv, table) is None  # (the whole parser: help, version, "invalid choice")


def test_stdin_as_checks_a_jail_file_before_it_is_written(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import io

    from jailmgr import cli, spec

    target = tmp_path / "jails.d" / "t.yaml"  # not there: Ansible's check mode writes nothing
    text = "name: t\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/truee]}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    monkeypatch.setattr(spec, "STDIN", {})
    assert cli.main(["--json", "validate", "--stdin-as", str(target)]) == 1
    import json

    doc = json.loads(capsys.readouterr().out)
    assert [(p["file"], p["line"], p["column"], p["key"]) for p in doc["problems"]] == [
        (str(target), 2, 8, "exec[0]")]
    assert not target.exists()


def test_render_on_a_host_without_bubblewrap_says_what_to_install(capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools are the Host's: a launcher jail on a machine without bwrap is refused, saying why."""
    monkeypatch.setattr(Host, "read", classmethod(lambda cls, shadow=False: fake_host(252, tools=())))
    assert main(["render", str(GOOD)]) == 1
    assert f"{GOOD}:1:1: namespaces: pid, uts and cgroup namespaces need /usr/bin/bwrap (apt install bubblewrap)" \
        in capsys.readouterr().err
