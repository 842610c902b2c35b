"""`ansible-test sanity` of the Ansible collection (ansible-test ships with Debian's ansible-core).

ansible-test wants the collection under ansible_collections/NAMESPACE/NAME in a
git tree of its own, and bootstraps pip in its virtual environments with a
get-pip script it downloads from a host of its own; these machines reach only
the package registries, so a stand-in does the same from ensurepip and the
package index (tests/get_pip.py), placed in ansible-test's cache.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
COLLECTION = HERE.parent / "packaging" / "ansible"


def _pip_version() -> str:
    import ansible_test

    source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    return re.search(r"pip='([0-9.]+)'", source.read_text()).group(1)  # type: ignore[union-attr]


def test_the_collection_passes_ansible_test_sanity(tmp_path: Path) -> None:
    if not shutil.which("ansible-test"):  # scripts/test.sh installs it; a package build may not have it
        pytest.skip("ansible-test is not installed (apt install ansible-core)")
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shim = cache / f"get_pip_{_pip_version().replace('.', '_')}.py"
    if not shim.exists():
        shutil.copy(HERE / "get_pip.py", shim)
    target = tmp_path / "ansible_collections" / "jailmgr" / "jailmgr"
    shutil.copytree(COLLECTION, target)
    subprocess.run(["git", "init", "-q", "."], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    proc = subprocess.run(["ansible-test", "sanity", "--local", "--python", "3.11"], cwd=target,
                          capture_output=True, text=True, timeout=1500)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    for test in ("validate-modules", "pylint", "pep8", "import", "compile", "yamllint"):
        assert f'Running sanity test "{test}"' in output, test
