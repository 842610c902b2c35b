"""Templates: found beside the jail file, rendered with its vars; mistakes name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jailmgr import render, spec
from tests.fakehost import DEBIAN_12

ROOT = Path(__file__).resolve().parent.parent


def render_with(tmp_path: Path, template: str, vars_: str = "{port: 21}") -> tuple[object, list[str]]:
    (tmp_path / "t.conf.j2").write_text(template)
    jail_file = tmp_path / "t.yaml"
    jail_file.write_text("name: t\nexec: [/usr/bin/true]\n"
                         "tree:\n  binaries: [/usr/bin/true]\n"
                         f"  files:\n    - {{path: /etc/t.conf, template: t.conf.j2, vars: {vars_}}}\n")
    item, problems = render.render(spec.load_or_raise([str(jail_file)])[0], DEBIAN_12)
    return item, [str(p) for p in problems]


def test_template_renders_with_vars_and_jail_name(tmp_path: Path) -> None:
    item, problems = render_with(tmp_path, "port={{ port }} name={{ jail.name }}\n")
    assert problems == []
    assert item.contents.entries["/etc/t.conf"].data == b"port=21 name=t\n"  # type: ignore[attr-defined]


def test_undefined_variable_names_the_vars_key(tmp_path: Path) -> None:
    _, problems = render_with(tmp_path, "port={{ prot }}\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 't.yaml'}:6:54: tree.files[0].vars: t.conf.j2: 'prot' is undefined")


def test_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    _, problems = render_with(tmp_path, "ok\n{% if %}\n")
    assert len(problems) == 1 and "tree.files[0].template: " in problems[0]
    assert "t.conf.j2:2: Expected an expression" in problems[0]


def test_missing_template_lists_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "t.conf.j2").unlink(missing_ok=True)
    jail_file = tmp_path / "t.yaml"
    jail_file.write_text("name: t\nexec: [/usr/bin/true]\ntree:\n  binaries: [/usr/bin/true]\n"
                         "  files: [{path: /etc/x, template: nowhere.j2}]\n")
    _, problems = render.render(spec.load_or_raise([str(jail_file)])[0], DEBIAN_12)
    message = str(problems[0])
    assert "template 'nowhere.j2' not found in" in message and "/usr/share/jailmgr/templates" in message


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    """A template can't reach Python's objects (os, subprocess) through attribute walks."""
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    _, problems = render_with(tmp_path, escape)
    assert len(problems) == 1 and "unsafe" in problems[0] and "tree.files[0].template" in problems[0]
    _, problems = render_with(tmp_path, "{{ port.__class__.__init__.__globals__ }}\n")
    assert len(problems) == 1 and "unsafe" in problems[0]


def test_every_undefined_variable_is_said_at_once_with_those_of_included_templates(tmp_path: Path) -> None:
    """All of them in one problem, the file that uses each named; a variable with a default, or tested with
    `is defined`, is not one (find_undeclared_variables alone would name them: the shipped templates default
    most of theirs)."""
    (tmp_path / "common.j2").write_text("root={{ docroot }}\n{{ banner | default('hi') }}\n")
    _, problems = render_with(tmp_path, "a={{ listen | default('x') }}\n{% if tls is defined %}{{ cert }}{% endif %}\n"
                              "port={{ prot }}\n{% for m in modules %}{{ m }}{% endfor %}\n{{ pasv_min + 1 }}\n"
                              "{% include 'common.j2' %}\n")
    assert problems == [f"{tmp_path / 't.yaml'}:6:54: tree.files[0].vars: t.conf.j2: 'prot', 'modules', 'pasv_min', "
                        "'docroot' (in common.j2, included) are undefined; hint: give them in tree.files[0].vars "
                        "('prot': did you mean 'port'?)"]
    _, problems = render_with(tmp_path, "{% include 'common.j2' %}{{ jail.nmae }}\n")
    assert problems == [f"{tmp_path / 't.yaml'}:6:54: tree.files[0].vars: t.conf.j2: 'docroot' (in common.j2, "
                        "included) is undefined; 'dict object' has no attribute 'nmae'; hint: give it in "
                        "tree.files[0].vars"]


def test_the_shipped_ftp_template_names_only_what_it_needs(tmp_path: Path) -> None:
    """vsftpd.conf.j2 given only its port: the two passive ports it has no default for, not the seven it uses."""
    jail_file = tmp_path / "t.yaml"
    jail_file.write_text("name: t\nexec: [/usr/bin/true]\ntree:\n  binaries: [/usr/bin/true]\n"
                         "  files: [{path: /etc/x, template: vsftpd.conf.j2, vars: {port: 21}}]\n")
    host = dataclasses.replace(DEBIAN_12, template_dirs=(str(ROOT / "templates"),))
    _, problems = render.render(spec.load_or_raise([str(jail_file)])[0], host)
    assert [p.message for p in problems] == ["vsftpd.conf.j2: 'pasv_min', 'pasv_max' are undefined"]
