"""The loader refuses what YAML would otherwise do silently or slowly."""

from jailmgr import spec


def test_billion_laughs_is_refused_without_expanding() -> None:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "name: x\nexec: [/bin/true]\n" + "\n".join(levels) + "\n"
    # 10^12 nodes if expanded: the loader stops at the first alias, before composing anything.
    jail, problems = spec.parse_text(text, "laughs.yaml")
    assert jail is None
    assert [(p.line, p.col) for p in problems] == [(4, 10)]
    assert "alias *a0 is not allowed" in problems[0].message


def test_duplicate_keys_are_errors_not_last_wins() -> None:
    _, problems = spec.parse_text("name: a\nname: b\nexec: [/bin/true]\ntree: {binaries: [/bin/true]}\n", "dup.yaml")
    assert [str(p) for p in problems] == ["dup.yaml:2:1: name: duplicate key (first set on line 1)"]


def test_two_documents_are_refused() -> None:
    _, problems = spec.parse_text("name: a\n---\nname: b\n", "two.yaml")
    assert problems[0].line == 2 and "exactly one YAML document" in problems[0].message


def test_syntax_error_has_position() -> None:
    _, problems = spec.parse_text("name: a\nexec: [/bin/true\n", "broken.yaml")
    assert len(problems) == 1 and problems[0].message.startswith("invalid YAML")
    assert problems[0].line == 3


def test_empty_and_non_mapping_documents() -> None:
    _, empty = spec.parse_text("", "e.yaml")
    assert "empty" in empty[0].message
    _, listed = spec.parse_text("- a\n- b\n", "l.yaml")
    assert str(listed[0]) == "l.yaml:1:1: expected a mapping, found a list"


def test_missing_required_keys_name_the_file_start() -> None:
    _, problems = spec.parse_text("description: x\n", "m.yaml")
    assert sorted(p.key for p in problems) == ["exec", "name"]
    assert all(p.message == "is required" for p in problems)


def test_bare_null_device_names_the_null_device() -> None:
    jail, problems = spec.parse_text(
        "name: d\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true], devices: [null, zero]}\n", "d.yaml")
    assert problems == [] and jail is not None
    assert jail.tree.devices == ("null", "zero")


def test_restart_no_reads_as_no() -> None:
    jail, problems = spec.parse_text(
        "name: r\nexec: [/usr/bin/true]\nrestart: no\ntree: {binaries: [/usr/bin/true]}\n", "r.yaml")
    assert problems == [] and jail is not None and jail.restart == "no"
