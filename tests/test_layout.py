"""The README's layout table names every module, and a module's top-level imports come from its row or above."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rows() -> list[set[str]]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Layout"):text.index("Design and security reasoning")]
    return [set(re.findall(r"`(\w+)`", line.split("|")[2])) for line in table.splitlines()
            if line.startswith("| ") and not line.startswith(("| step", "| ---"))]


def modules() -> set[str]:
    return {p.stem for p in (ROOT / "jailmgr").glob("*.py") if not p.stem.startswith("__")}


def top_imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "jailmgr" / f"{module}.py").read_text())
    found: set[str] = set()
    for node in tree.body:  # module level only: a function's import is a lazy one
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & modules()


def test_the_layout_table_names_every_module_once() -> None:
    named = [m for row in rows() for m in row]
    assert sorted(named) == sorted(modules())


def test_modules_import_only_from_their_row_and_above() -> None:
    row_of = {m: i for i, row in enumerate(rows()) for m in row}
    wrong = [f"{m} (row {row_of[m]}) imports {dep} (row {row_of[dep]})"
             for m in modules() for dep in top_imports(m) if row_of[dep] > row_of[m]]
    assert wrong == []


def test_at_most_five_type_ignores_in_the_package() -> None:
    """Closed sets are enums and values are typed: a `type: ignore` is the exception, and stays one."""
    found = [f"{p.name}:{i}" for p in sorted((ROOT / "jailmgr").glob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if "type: ignore" in line]
    assert len(found) <= 5, found
