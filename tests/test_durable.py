"""durable.py: a batch's writes reach the disk by one syncfs per file system, at each flush."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jailmgr import durable
from jailmgr.safefs import write_file_atomic


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {"fsync": [], "syncfs": []}
    real_fsync, real_syncfs = os.fsync, durable._syncfs

    def fsync(fd: int) -> None:
        seen["fsync"].append(fd)
        real_fsync(fd)

    def syncfs(fd: int) -> None:
        seen["syncfs"].append(os.fstat(fd).st_dev)
        real_syncfs(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(durable, "_syncfs", syncfs)
    return seen


def test_a_file_written_alone_is_fsynced_with_its_directory(tmp_path: Path, calls: dict[str, list[int]]) -> None:
    write_file_atomic(str(tmp_path / "unit"), b"x", uid=os.getuid(), gid=os.getgid())
    assert len(calls["fsync"]) == 2 and calls["syncfs"] == []


def test_a_batch_syncs_each_file_system_once_at_each_flush(tmp_path: Path, calls: dict[str, list[int]]) -> None:
    ids = {"uid": os.getuid(), "gid": os.getgid()}
    with durable.batch():
        for n in range(20):
            write_file_atomic(str(tmp_path / f"d{n % 3}" / f"f{n}"), b"x", **ids)
        assert calls == {"fsync": [], "syncfs": []}  # nothing yet: noted only
        durable.flush()
        assert calls["syncfs"] == [os.stat(tmp_path).st_dev]
        with durable.batch():  # nested: the outer one flushes
            write_file_atomic(str(tmp_path / "late"), b"y", **ids)
        assert len(calls["syncfs"]) == 1
    assert calls["fsync"] == [] and len(calls["syncfs"]) == 2
    assert not durable.batched()
    assert (tmp_path / "late").read_bytes() == b"y"
