"""Values written into units can't inject a line, a specifier, a variable or a quote."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jailmgr import unitsyntax
from tests.systemd_words import expand_specifiers, parse_exec, split_words

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x10FFFF,
                                  blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20), st.lists(printable))
def test_exec_line_parses_back_to_the_same_argv(prog: str, args: list[str]) -> None:
    argv = ["/" + prog, *args]
    line = unitsyntax.exec_argv(argv)
    assert "\n" not in line
    got = parse_exec(line)
    assert got == argv


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), printable)
def test_environment_assignment_parses_back(name: str, value: str) -> None:
    words = split_words(expand_specifiers(unitsyntax.assignment(name, value)))
    assert words == [f"{name}={value}"]


@pytest.mark.parametrize("bad", ["a\nExecStartPre=/bin/evil", "tab\there", "nul\0", "esc\x1b"])
def test_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(unitsyntax.UnitValueError):
        unitsyntax.exec_argv(["/bin/prog", bad])
    with pytest.raises(unitsyntax.UnitValueError):
        unitsyntax.text(bad)


def test_specifiers_and_variables_are_escaped() -> None:
    assert unitsyntax.exec_argv(["/bin/echo", "%h", "$HOME", "${X}"]) == "/bin/echo %%h $$HOME $${X}"
    assert unitsyntax.text("100% sure") == "100%% sure"


def test_trailing_backslash_cannot_continue_a_line() -> None:
    with pytest.raises(unitsyntax.UnitValueError):
        unitsyntax.text("ends with \\")
    assert unitsyntax.quote("ends with \\") == '"ends with \\\\"'


@pytest.mark.parametrize("bad", ["/a b", "/a:b", "/a\"b", "relative", "/a\\b"])
def test_unsafe_paths_are_refused(bad: str) -> None:
    with pytest.raises(unitsyntax.UnitValueError):
        unitsyntax.path(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(printable, st.from_regex(r"--[a-z-]{1,12}", fullmatch=True)), max_size=30))
def test_wrapped_exec_line_parses_back_too(args: list[str]) -> None:
    argv = ["/usr/bin/bwrap", *args]
    wrapped = unitsyntax.exec_argv(argv, wrap=20)
    assert all(not line.endswith("\\") or line.endswith(" \\") for line in wrapped.split("\n"))
    assert parse_exec(wrapped) == argv


def test_bind_forms() -> None:
    assert unitsyntax.bind("/a", "/a") == "/a"
    assert unitsyntax.bind("/a%b", "/c") == "/a%%b:/c"
    assert unitsyntax.bind("/a", "/a", "rbind") == "/a:/a:rbind"
