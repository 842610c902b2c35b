"""A real systemd for the integration tests: one booted container per test session."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator

import pytest

from tests import testbed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "integration tests need root (they boot a systemd container)"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _boot(suite: str) -> Iterator[testbed.Testbed]:
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the integration tests: {reason}")
        pytest.skip(reason)
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 2121)) == 0:
            pytest.fail("127.0.0.1:2121 is already in use; the ftp jail's port must be free")
    with testbed.booted(f"jailmgr-test-{suite}", suite) as booted:
        yield booted


@pytest.fixture(scope="session")
def bed() -> Iterator[testbed.Testbed]:
    """Debian 12 (systemd 252), booted once for the whole session."""
    yield from _boot("bookworm")


@pytest.fixture(scope="session")
def trixie() -> Iterator[testbed.Testbed]:
    """Debian 13 (systemd 257, bubblewrap 0.12, ansible-core 2.19), booted once for the whole session."""
    yield from _boot("trixie")
