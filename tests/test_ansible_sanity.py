"""`ansible-test sanity` of the Ansible collection, on Debian 12's ansible-core (2.14) and on 2.19 from PyPI.

ansible-test wants the collection under ansible_collections/NAMESPACE/NAME in a
git tree of its own, and bootstraps pip in each of its virtual environments
with a get-pip script it downloads from a host of its own; these machines reach
only the package registries, so a stand-in does the same from ensurepip and the
package index (tests/get_pip.py), placed in ansible-test's cache.

Each version runs with a HOME of its own under a cache directory, keyed by its
version: its sanity venvs are built once (about a minute and a half) and
reused (a run is then a few seconds), and two test runs on one machine never
share a venv half built (a lock per version). 2.19 itself lives in a venv there
too, built once from PyPI.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
COLLECTION = HERE.parent / "packaging" / "ansible"
ANSIBLE_CORE_NEW = "2.19.14"  # the newest line the collection promises (pinned: the cache is keyed by it)
# Markup ansible-doc 2.14 prints raw (it came in 2.15): O() V() RV() E() P()
NEW_MARKUP = re.compile(r"\b(O|V|RV|E|P)\(")
SANITY_TESTS = ("validate-modules", "pylint", "pep8", "import", "compile", "yamllint", "ansible-doc", "changelog")


def cache_root() -> Path:
    configured = os.environ.get("JAILMGR_ANSIBLE_CACHE")
    if configured:
        return Path(configured)
    system = Path("/var/cache/jailmgr-ansible")
    if os.geteuid() == 0:
        return system
    return Path.home() / ".cache" / "jailmgr-ansible"


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def pinned_pip(ansible_test: Path) -> str:
    """The pip version ansible-test bootstraps into its venvs (its get_pip_X_Y_Z.py cache name)."""
    source = ansible_test / "_internal" / "python_requirements.py"
    return re.search(r"pip='([0-9.]+)'", source.read_text()).group(1)  # type: ignore[union-attr]


def new_ansible(root: Path) -> Path:
    """A venv with ansible-core ANSIBLE_CORE_NEW from PyPI, built once."""
    venv = root / "venv"
    done = venv / ".complete"
    if not done.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        f"ansible-core=={ANSIBLE_CORE_NEW}"], check=True, timeout=600)
        done.write_text(ANSIBLE_CORE_NEW + "\n")
    return venv / "bin"


def debian_ansible() -> tuple[Path, str]:
    found = shutil.which("ansible-test")
    if not found or not Path("/usr/lib/python3/dist-packages/ansible_test").is_dir():
        pytest.skip("Debian's ansible-core is not installed (scripts/test.sh installs it; a package build has not)")
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout
    return Path(found).parent, out.split()[-1]


def run_sanity(bindir: Path, ansible_test: Path, home: Path, tmp_path: Path) -> str:
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "get_pip.py", cache / f"get_pip_{pinned_pip(ansible_test).replace('.', '_')}.py")
    target = tmp_path / "ansible_collections" / "jailmgr" / "jailmgr"
    shutil.copytree(COLLECTION, target, ignore=shutil.ignore_patterns("output", "__pycache__"))
    subprocess.run(["git", "init", "-q", "."], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    env = {**os.environ, "HOME": str(home), "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(bindir / "ansible-test"), "sanity", "--local", "--python", "3.11"], cwd=target,
                          env=env, capture_output=True, text=True, timeout=1500)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def test_the_docs_use_markup_ansible_doc_2_14_renders() -> None:
    """O() V() RV() print raw on 2.14; C() ends at the first ')' (C(jailmgr.yaml(5)) broke)."""
    for path in sorted((COLLECTION / "plugins").rglob("*.py")):
        text = path.read_text()
        assert not NEW_MARKUP.search(text), f"{path}: {NEW_MARKUP.search(text)}"
        for match in re.finditer(r"\b[CIBMUL]\(([^)]*)\)(\S*)", text):
            assert "(" not in match.group(1), f"{path}: {match.group(0)} nests a parenthesis"


def test_sanity_on_debians_ansible_core(tmp_path: Path) -> None:
    bindir, version = debian_ansible()
    root = cache_root() / f"ansible-core-{version}"
    with locked(root):
        output = run_sanity(bindir, Path("/usr/lib/python3/dist-packages/ansible_test"), root / "home", tmp_path)
    for test in SANITY_TESTS:
        assert f'Running sanity test "{test}"' in output, test


def test_sanity_on_ansible_core_2_19(tmp_path: Path) -> None:
    debian_ansible()  # (where Debian's is missing, this is a package build: no PyPI either)
    root = cache_root() / f"ansible-core-{ANSIBLE_CORE_NEW}"
    with locked(root):
        bindir = new_ansible(root)
        site = next((root / "venv" / "lib").glob("python3*/site-packages"))
        output = run_sanity(bindir, site / "ansible_test", root / "home", tmp_path)
    for test in SANITY_TESTS:
        assert f'Running sanity test "{test}"' in output, test
