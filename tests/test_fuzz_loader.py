"""Every input ends in a valid model or clear errors with positions, never a traceback."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jailmgr import spec
from jailmgr.model import Jail

KEYS = ["name", "exec", "tree", "binaries", "files", "dirs", "path", "mode", "mounts", "type", "source", "target",
        "namespaces", "pid", "net", "limits", "memory", "cpu", "security", "capabilities", "hostname", "user",
        "restart", "devices", "rootfs", "network", "host", "jail", "environment", "nonsense", "<<"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["/usr/bin/true", "0644", "256M", "50%", "no", "null",
                                                           "private", "/", "..", "a\nb", "%n", "$HOME"]))
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), children, max_size=5)), max_leaves=25)


def check(text: str) -> None:
    jail, problems = spec.parse_text(text, "fuzz.yaml")
    if jail is None:
        assert problems, "an invalid file must say why"
        for problem in problems:
            assert str(problem).startswith("fuzz.yaml:")
            assert problem.line >= 1 and problem.col >= 1 and problem.message
    else:
        assert isinstance(jail, Jail) and problems == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_structured_documents(doc: object) -> None:
    check(yaml.safe_dump(doc, default_flow_style=False, allow_unicode=True))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    check(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["name: a\n", "exec: [/usr/bin/true]\n", "tree: {binaries: [/usr/bin/true]}\n",
                                 "  - x\n", "&a [1]\n", "*a\n", "---\n", "{", "}", "mode: 644\n", "\t", ": :\n"]),
                max_size=8))
def test_fragments(parts: list[str]) -> None:
    check("".join(parts))
