"""A failed first start says what to do: the program's last journal lines and a hint for the cause,
on a real systemd (the causes users met: a file the tree lacks, a socket family the filter refuses)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed import Testbed

NAMES = ("hintfile", "hintfamily")


@pytest.fixture
def hinted(bed: Testbed) -> Iterator[Testbed]:
    bed.path("/srv/hints").mkdir(parents=True, exist_ok=True)
    yield bed
    for name in NAMES:
        bed.run(["jailmgr", "destroy", name], check=False, timeout=60)


def _apply(bed: Testbed, name: str, text: str) -> str:
    bed.path(f"/srv/hints/{name}.yaml").write_text(f"name: {name}\nrestart: no\n{text}")
    proc = bed.run(["jailmgr", "apply", f"/srv/hints/{name}.yaml"], check=False, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return proc.stderr


def test_a_file_the_tree_lacks_is_named_with_where_to_add_it(hinted: Testbed) -> None:
    err = _apply(hinted, "hintfile", "exec: [/usr/bin/cat, /etc/app.conf]\ntree: {binaries: [/usr/bin/cat]}\n")
    assert "did not start" in err and "/etc/app.conf: No such file or directory" in err, err
    assert "hint: /etc/app.conf is not in the jail's tree: add it (tree.files, tree.dirs, tree.packages" in err


def test_a_socket_family_the_filter_refuses_is_named(hinted: Testbed) -> None:
    err = _apply(hinted, "hintfamily", "exec: [/bin/busybox, nc, -l, -p, '18097']\n"
                 "tree: {binaries: [/bin/busybox]}\nsecurity: {address_families: [AF_UNIX]}\n")
    assert "Address family not supported by protocol" in err, err
    assert "hint: the program opened a socket of a family security.address_families leaves out" in err
