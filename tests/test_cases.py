"""Golden tests: each file under tests/cases carries its expectations as comments.

bad/*.yaml:  `# expect: LINE:COL: KEY: TEXT` - exactly these problems, at these
             positions, each message containing TEXT.
good/*.yaml: `# unit: LINE` a line the unit must hold, `# nounit: LINE` one it
             must not, `# unitpart: TEXT` text it must contain; `# tree: KIND MODE PATH` an entry of the rendered tree;
             `# extra: UNIT: LINE` a line another unit the jail renders must hold (every one is checked).
"""

from pathlib import Path

import pytest

from jailmgr import render, spec
from tests.fakehost import DEBIAN_12
from tests.systemd_words import join_continuations

CASES = Path(__file__).parent / "cases"


def expectations(path: Path, tag: str) -> list[str]:
    prefix = f"# {tag}: "
    return [line[len(prefix):] for line in path.read_text().splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("case", sorted((CASES / "bad").glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_case_reports_every_problem_at_its_position(case: Path) -> None:
    loaded, problems = spec.load([str(case)])
    assert loaded == []
    wanted = []
    for exp in expectations(case, "expect"):
        line, col, rest = exp.split(":", 2)
        key, _, text = rest.strip().partition(": ")
        wanted.append((int(line), int(col), key.strip(), text.strip()))
    assert wanted, "a bad case must say what it expects"
    got = [(p.line, p.col, p.key, p.message) for p in problems]
    assert len(got) == len(wanted), "\n".join(str(p) for p in problems)
    for (line, col, key, text), (gline, gcol, gkey, gmsg) in zip(sorted(wanted), sorted(got), strict=True):
        assert (line, col, key) == (gline, gcol, gkey), gmsg
        assert text in gmsg
    for problem in problems:
        assert str(problem).startswith(f"{case}:{problem.line}:{problem.col}: ")


@pytest.mark.parametrize("case", sorted((CASES / "good").glob("*.yaml")), ids=lambda p: p.stem)
def test_good_case_renders_expected_unit_and_tree(case: Path) -> None:
    loaded = spec.load_or_raise([str(case)])
    rendered, problems = render.render(loaded[0], DEBIAN_12)
    assert problems == [] and rendered is not None
    lines = join_continuations(rendered.unit_text).splitlines()
    for want in expectations(case, "unit"):
        assert want in lines
    for part in expectations(case, "unitpart"):
        assert part in " ".join(join_continuations(rendered.unit_text).split())
    for unwanted in expectations(case, "nounit"):
        assert unwanted not in lines
    for want in expectations(case, "tree"):
        kind, mode, path = want.split()
        entry = rendered.contents.entries[path]
        assert (entry.kind, f"{entry.mode:04o}") == (kind, mode)
    extra = [want.split(": ", 1) for want in expectations(case, "extra")]
    assert {unit for unit, _ in extra} == set(rendered.extra_units), "every unit the jail renders is checked"
    for unit, line in extra:
        assert line in join_continuations(rendered.extra_units[unit]).splitlines(), (unit, line)


def test_shipped_jails_validate() -> None:
    loaded, problems = spec.load([str(Path(__file__).parent.parent / "jails.d")])
    assert problems == []
    assert {item.jail.name for item in loaded} >= {"ftp"}


def test_same_name_in_two_files_is_an_error(tmp_path: Path) -> None:
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.yaml").write_text("# c\nname: same\nexec: [/usr/bin/true]\n"
                                               "tree: {binaries: [/usr/bin/true]}\n")
    loaded, problems = spec.load([str(tmp_path)])
    assert [item.jail.name for item in loaded] == ["same"]
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{tmp_path / 'b.yaml'}:2:7: name: jail 'same' is also defined in")
