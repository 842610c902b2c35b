"""The JSON Schema of a jail file, generated from the same model that parses it."""

from __future__ import annotations

from typing import Any

from .fields import Record
from .model import Jail

SCHEMA_ID = "https://jailmgr.invalid/schema/jail.json"


def jail_schema() -> dict[str, Any]:
    schema = Record(Jail).schema()
    return {"$schema": "http://json-schema.org/draft-07/schema#", "$id": SCHEMA_ID,
            "title": "jailmgr jail file", **schema}
