"""The manual pages and the bash completion are generated from the parser and the model: nothing is missing."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from jailmgr import completion, manpage
from jailmgr.cli import build_parser, commands
from jailmgr.fields import ListOf, Record, WordOrRecord
from jailmgr.model import Jail


def keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for field in dataclasses.fields(cls):
        if "kind" not in field.metadata:
            continue  # set by a word, not a key (Ready.notify)
        key = prefix + (field.metadata.get("name") or field.name)
        out.append(key)
        kind = field.metadata["kind"]
        inner = kind.item if isinstance(kind, ListOf) else kind
        inner = inner.record if isinstance(inner, WordOrRecord) else inner
        if isinstance(inner, Record):
            out += keys(inner.cls, key + ("[]." if isinstance(kind, ListOf) else "."))
    return out


def test_jailmgr_8_has_every_command_and_option() -> None:
    parser = build_parser(commands())
    page = manpage.jailmgr_8(parser)
    for name, sub in manpage._subcommands(parser).items():
        assert f".SS {name} " in page, name
        for action in sub._actions:
            for flag in action.option_strings:
                assert manpage.roff(flag) in page, (name, flag)
            if action.option_strings and action.help and action.dest not in ("help", "json", "quiet", "verbose",
                                                                              "debug"):
                assert manpage.roff(action.help) in page, (name, action.help)


def test_jailmgr_yaml_5_has_every_key_with_its_description() -> None:
    page = manpage.jailmgr_yaml_5()
    for key in keys(Jail):
        assert f"\\fB{manpage.roff(key)}\\fR" in page, key
    assert "\\fBtree.rootfs_max_size\\fR (size) default 2G" in page
    assert "\\fBrestart\\fR (no | on\\-failure | always) default on\\-failure" in page


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_the_pages_render_without_warnings(tmp_path: Path) -> None:
    assert manpage.main(["manpage", str(tmp_path)]) == 0
    for page in ("jailmgr.8", "jailmgr.yaml.5"):
        proc = subprocess.run(["man", "--warnings", "-l", str(tmp_path / page)], capture_output=True, text=True,
                              env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert "jailmgr" in proc.stdout


def complete(script: Path, *words: str) -> list[str]:
    line = " ".join(words)
    proc = subprocess.run(["bash", "-c", f'source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                           '_jailmgr; printf "%s\\n" "${COMPREPLY[@]}"'], capture_output=True, text=True, check=True)
    return proc.stdout.split()


def test_completion_knows_commands_options_and_managed_jails(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for name in ("ftp", "dns"):
        (state / f"{name}.json").write_text("{}")
    script = tmp_path / "jailmgr.bash"
    script.write_text(completion.script(build_parser(commands()), str(state)))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert complete(script, "jailmgr", "de") == ["destroy"]
    assert complete(script, "jailmgr", "plan", "--pr") == ["--prune"]
    assert sorted(complete(script, "jailmgr", "status", "")) == ["dns", "ftp"]
    assert complete(script, "jailmgr", "--json", "exec", "f") == ["ftp"]
    assert complete(script, "jailmgr", "apply", "--det") == ["--detailed-exitcode"]
