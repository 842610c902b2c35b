"""The JSON Schema is generated from the model and agrees with the loader."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from jailmgr.schema import jail_schema

ROOT = Path(__file__).resolve().parent.parent


def validator() -> jsonschema.Draft7Validator:
    schema = jail_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("path", sorted([*(ROOT / "jails.d").glob("*.yaml"),
                                         *(ROOT / "tests/cases/good").glob("*.yaml")]), ids=lambda p: p.name)
def test_valid_jails_validate_against_the_schema(path: Path) -> None:
    errors = list(validator().iter_errors(yaml.safe_load(path.read_text())))
    assert errors == []


def test_schema_refuses_unknown_keys_and_bare_modes() -> None:
    v = validator()
    assert not v.is_valid({"name": "a", "exec": ["/x"], "namespces": {}})
    assert not v.is_valid({"name": "a", "exec": ["/x"], "tree": {"dirs": [{"path": "/a", "mode": 644}]}})
    assert v.is_valid({"name": "a", "exec": ["/x"], "tree": {"dirs": [{"path": "/a", "mode": "0644"}]}})
    assert not v.is_valid({"exec": ["/x"]})


def test_schema_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    from jailmgr.cli import main

    assert main(["schema"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["properties"]["limits"]["properties"]["memory"]["description"] == "MemoryMax="
