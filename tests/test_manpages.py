"""The manual pages and the shell completions are generated from the parser and the model: nothing is missing."""

from __future__ import annotations

import dataclasses
import re
import shlex
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


def test_every_command_has_a_page_with_examples_the_parser_accepts(tmp_path: Path) -> None:
    from jailmgr.examples import EXAMPLES

    parser = build_parser(commands())
    assert manpage.main(["manpage", str(tmp_path)]) == 0
    for name, sub in manpage._subcommands(parser).items():
        page = (tmp_path / f"jailmgr-{name}.8").read_text()
        assert page.startswith(f".TH JAILMGR\\-{manpage.roff(name.upper())} 8"), name
        assert ".SH EXAMPLES" in page and EXAMPLES[name], name
        for action in sub._actions:
            for flag in action.option_strings:
                assert manpage.roff(flag) in page, (name, flag)
        for _, line in EXAMPLES[name]:
            assert f"\\fB{manpage.roff(line)}\\fR" in page
            words = shlex.split(line.split("&&")[-1].split("<")[0].split(">")[0])
            if words[0] == "jailmgr":
                assert parser.parse_args(words[1:]).command == name, line
    assert set(EXAMPLES) == set(manpage._subcommands(parser))
    main_page = (tmp_path / "jailmgr.8").read_text()
    assert "\\fBjailmgr\\-apply\\fR(8)" in main_page and ".SH REMOVING THE PACKAGE" in main_page


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_every_command_page_renders_without_warnings(tmp_path: Path) -> None:
    assert manpage.main(["manpage", str(tmp_path)]) == 0
    pages = sorted(tmp_path.glob("jailmgr-*.8"))
    assert len(pages) == len(manpage._subcommands(build_parser(commands())))
    for page in pages:
        proc = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True,
                              env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        assert proc.returncode == 0 and proc.stderr == "", (page, proc.stderr)
        assert "EXAMPLES" in proc.stdout


def test_help_prints_a_commands_options_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from jailmgr.cli import main

    assert main(["help", "apply"]) == 0
    said = capsys.readouterr().out
    assert "--detailed-exitcode" in said and "examples:" in said and "jailmgr apply --prune" in said
    assert main(["help", "nothing"]) == 1
    assert "no command 'nothing'" in capsys.readouterr().err
    assert main(["help"]) == 0
    assert "jailmgr help COMMAND" in capsys.readouterr().out


def jails_dir(tmp_path: Path) -> Path:
    """Jail files as an operator writes them, and one whose name line is an attempt at shell code."""
    d = tmp_path / "jails.d"
    d.mkdir()
    (d / "ftp.yaml").write_text("# anonymous ftp\nname: ftp\nexec: [/usr/sbin/vsftpd]\n")
    (d / "web.yaml").write_text("name: nginx   # the file and the jail have different names\n")
    (d / "evil.yaml").write_text(f"name: $(touch {tmp_path}/pwned)\n")
    (d / "notes.txt").write_text("name: notajail\n")
    return d


def test_names_complete_from_the_jail_files_when_the_records_are_unreadable(tmp_path: Path) -> None:
    """As an unprivileged shell sees it: the state dir is 0700 (here: missing), the jail files readable."""
    script = tmp_path / "jailmgr.bash"
    script.write_text(completion.script(build_parser(commands()), str(tmp_path / "state"), str(jails_dir(tmp_path))))
    assert sorted(complete(script, "jailmgr", "status", "")) == ["ftp", "nginx"]
    assert complete(script, "jailmgr", "help", "ap") == ["apply"]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_is_valid_and_offers_the_names(tmp_path: Path) -> None:
    script = tmp_path / "_jailmgr"
    script.write_text(completion.zsh_script(build_parser(commands()), str(tmp_path / "state"),
                                            str(jails_dir(tmp_path))))
    assert subprocess.run(["zsh", "-n", str(script)]).returncode == 0
    # A real interactive zsh on a pseudo-terminal (zpty): compinit finds _jailmgr, TAB lists the names.
    driver = tmp_path / "drive.zsh"
    driver.write_text(f"""zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'fpath=({tmp_path} $fpath); autoload -Uz compinit; compinit -u -D'
zpty -w z $'jailmgr status \\t'
zpty -r z out '*nginx*'
print -r -- $out
""")
    proc = subprocess.run(["zsh", "-f", str(driver)], capture_output=True, text=True, timeout=60)
    listed = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", proc.stdout).replace("\r", "\n").split("\n")
    assert ["ftp", "nginx"] in [line.split() for line in listed], proc.stdout
    text = script.read_text()
    assert "'--detailed-exitcode[exit 2 when there are changes]'" in text and "'*:jail:_jailmgr_names'" in text
    assert not (tmp_path / "pwned").exists()


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion_offers_commands_options_and_names(tmp_path: Path) -> None:
    script = tmp_path / "jailmgr.fish"
    state = tmp_path / "state"
    state.mkdir()
    (state / "dns.json").write_text("{}")
    script.write_text(completion.fish_script(build_parser(commands()), str(state), str(jails_dir(tmp_path))))

    def fish(line: str) -> list[str]:
        proc = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
                              capture_output=True, text=True, check=True)
        return [row.split("\t")[0] for row in proc.stdout.splitlines()]

    assert fish("jailmgr status ") == ["dns", "ftp", "nginx"]
    assert fish("jailmgr de") == ["destroy"]
    assert fish("jailmgr apply --pr") == ["--prune"]
    assert fish("jailmgr help sta") == ["stale", "status"]
    assert not (tmp_path / "pwned").exists()
