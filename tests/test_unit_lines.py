"""Every line the unit writer emits reads back as exactly one directive, whatever the jail file holds.

Values come from hypothesis; the unit is read back as systemd reads a unit
file (a line ending in a backslash continues on the next), and every
directive jailmgr meant to write must be there, unchanged: a value can't
swallow the next line, or start one of its own.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jailmgr import render, spec
from jailmgr.hardening import hardening
from tests.fakehost import DEBIAN_12
from tests.systemd_words import expand_specifiers, parse_exec, split_words

texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=30)


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("unitlines")
    with tarfile.open(here / "fs.tar", "w") as tar:
        info = tarfile.TarInfo("bin/prog")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"prog"))
    return here


def read_back(text: str) -> list[tuple[str, str]]:
    """(key, value) of each directive, as systemd's config parser sees the file."""
    out, pending = [], ""
    for line in text.split("\n"):
        if not pending and (not line or line.startswith(("#", ";", "["))):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        key, _, value = (pending + line).partition("=")
        out.append((key, value))
        pending = ""
    assert pending == "", "the last line continues into nothing"
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(description=texts, program=texts, args=st.lists(texts, max_size=4),
       env=st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True), texts, max_size=3),
       launcher=st.booleans())
def test_every_directive_reads_back_unchanged(rootfs: Path, description: str, program: str, args: list[str],
                                              env: dict[str, str], launcher: bool) -> None:
    doc = {"name": "prop", "description": description, "exec": ["/bin/" + program, *args],
           "environment": env, "tree": {"rootfs": "fs.tar"}}
    if not launcher:
        doc |= {"namespaces": {"pid": False, "uts": False, "cgroup": False}, "user": "nobody"}
        doc["tree"]["users"] = ["nobody"]
    path = rootfs / "prop.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    loaded, problems = spec.load([str(path)])
    assume(not problems)
    rendered, problems = render.render(loaded[0], DEBIAN_12)
    if rendered is None:  # refused, with a reason: never written
        assert problems and "cannot write the unit safely" in str(problems[0])
        return
    jail = loaded[0].jail
    directives = read_back(rendered.unit_text)
    assert all("\n" not in value for _, value in directives)
    shown = {f"{k}={v}" for k, v in directives}
    assert set(hardening(jail, rendered.mechanism)) <= shown  # no hardening directive was swallowed
    values = dict(directives)
    wanted = f"jail prop: {jail.description}" if jail.description else "jail prop"  # (as YAML read it)
    assert expand_specifiers(values["Description"]) == wanted
    assert parse_exec(values["ExecStart"])[-len(jail.exec):] == list(jail.exec)
    assert [split_words(expand_specifiers(v))[0] for k, v in directives if k == "Environment"] == \
        [f"{k}={v}" for k, v in jail.environment]
    if launcher:
        assert expand_specifiers(values["SyslogIdentifier"]) == jail.exec[0].rsplit("/", 1)[-1]
    emitted = [line for line in rendered.unit_text.replace("\\\n", "").split("\n")
               if line and not line.startswith(("#", "["))]
    assert len(directives) == len(emitted)
