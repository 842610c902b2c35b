"""docs/jail-file.md names every key of the jail file: a key added to the model without its line fails here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jailmgr import model
from jailmgr.fields import ListOf, Record

DOC = Path(__file__).resolve().parent.parent / "docs/jail-file.md"


def keys(cls: type, prefix: str = "") -> Iterator[str]:
    for name, field in Record(cls).fields():
        key = prefix + name
        yield key
        kind = field.metadata["kind"]
        inner = kind.item if isinstance(kind, ListOf) else kind
        if isinstance(inner, Record):
            yield from keys(inner.cls, key + ("[]." if isinstance(kind, ListOf) else "."))


def test_every_key_of_the_jail_file_is_documented() -> None:
    text = DOC.read_text()
    missing = [key for key in keys(model.Jail)
               if f"`{key}`" not in text and f"`{key.rsplit('.', 1)[-1]}`" not in text]
    assert missing == [], f"docs/jail-file.md does not name {missing}"
