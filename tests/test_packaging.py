"""The Debian package's version follows pyproject.toml: debian/changelog's top entry must say the same."""

from __future__ import annotations

import re
from pathlib import Path

import jailmgr

TOP = Path(__file__).resolve().parents[1]


def test_debian_changelog_and_pyproject_and_the_package_agree() -> None:
    pyproject = re.search(r'^version = "([^"]+)"', (TOP / "pyproject.toml").read_text(), re.M)
    changelog = re.match(r"jailmgr \(([^-)]+)-[^)]+\)", (TOP / "packaging/deb/debian/changelog").read_text())
    galaxy = re.search(r"^version: (\S+)", (TOP / "packaging/ansible/galaxy.yml").read_text(), re.M)
    assert pyproject and changelog and galaxy
    assert pyproject.group(1) == changelog.group(1) == jailmgr.__version__ == galaxy.group(1)
