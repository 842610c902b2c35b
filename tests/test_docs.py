"""docs/jail-file.md names every key of the jail file in its Keys table: a key added to the model without its
row there (or, for a key of a record, its name in the record's row) fails here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jailmgr import model
from jailmgr.fields import Kind, ListOf, Record, WordOrRecord

DOC = Path(__file__).resolve().parent.parent / "docs/jail-file.md"


def _record(kind: Kind) -> Record | None:
    """The record a key holds: directly, as the items of a list, or as the mapping form of a word-or-mapping."""
    inner = kind.item if isinstance(kind, ListOf) else kind
    inner = inner.record if isinstance(inner, WordOrRecord) else inner
    return inner if isinstance(inner, Record) else None


def keys(cls: type, prefix: str = "") -> Iterator[tuple[str, bool]]:
    """Every key path (`tree.files[].path`), and whether it holds keys of its own."""
    for name, field in Record(cls).fields():
        key = prefix + name
        kind = field.metadata["kind"]
        record = _record(kind)
        yield key, record is not None
        if record is not None:
            yield from keys(record.cls, key + ("[]." if isinstance(kind, ListOf) else "."))


def rows(text: str) -> dict[str, str]:
    """The rows of the Keys table, by each key their first cell names (`user`, `group` share one)."""
    table = text[text.index("## Keys"):]
    table = table[:table.index("\n## ")]
    found = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            for name in line.split("|")[1].replace("`", " ").replace(",", " ").split():
                found[name] = line
    return found


def undocumented(text: str) -> list[str]:
    """The keys with no row of their own, and no mention in their parent's row (`name`, or `parent.name`).

    A key that holds keys (`tree`, `security`) needs no row: each key under it is held to the rule."""
    table = rows(text)
    missing = []
    for key, holds_keys in keys(model.Jail):
        if key in table or f"{key}[]" in table:
            continue
        parent, _, name = key.rpartition(".")
        row = table.get(parent, "")
        if holds_keys or (parent and (f"`{name}`" in row or f"`{key}`" in row)):
            continue
        missing.append(key)
    return missing


def test_every_key_of_the_jail_file_is_documented() -> None:
    missing = undocumented(DOC.read_text())
    assert missing == [], f"docs/jail-file.md's Keys table does not name {missing}"


@pytest.mark.parametrize(("cut", "key"), [
    ("| `stop_timeout` |", "stop_timeout"),  # a top-level key's row
    ("| `security.ip_allow` |", "security.ip_allow"),  # a nested key's own row
    ("`memory_high` (sizes)", "limits.memory_high"),  # a key named in its record's row
    ("`writable` |", "tree.dirs[].writable"),  # in a list's items' row
    ("(`network.host`, ", "network.host"),  # named in full in its record's row
    ("(`ready.port`)", "ready.port"),  # the mapping form of a word-or-mapping
    ("`init`, ", "namespaces.init"),  # named in the Namespaces section too, but not in the Keys table
])
def test_a_key_taken_out_of_the_doc_is_missed(cut: str, key: str) -> None:
    text = DOC.read_text()
    assert text.count(cut) == 1, cut
    assert undocumented(text.replace(cut, "| x |" if cut.startswith("|") else "")) == [key]
