#!/bin/bash
# Run every test of jailmgr on a Debian 12 machine: lint, unit tests and the
# integration tests against a real systemd booted in a container (as root).
# Installs what it needs: Debian packages with apt, dev tools into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PKGS=(python3 python3-venv python3-yaml python3-jinja2 python3-systemd python3-seccomp bubblewrap gcc libc6-dev make ansible-core git
          qemu-system-x86 e2fsprogs
          man-db zsh fish  # the manual pages rendered, the zsh and fish completions driven (tests/test_manpages.py)
          systemd-container debootstrap ca-certificates)
missing=()
for pkg in "${DEB_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "test.sh: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's own python3 runs the tests (it is what the .deb runs on), with its
# python3-yaml/jinja2/systemd visible; dev tools come from PyPI into .venv.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pytest, hypothesis, jsonschema, mypy' 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
fi

.venv/bin/ruff check jailmgr tests bench bench/run scripts
.venv/bin/mypy  # its settings: pyproject.toml
# The unit tier once as a plain machine runs it: unprivileged, without bubblewrap, systemd, ip or
# python3-systemd (hidden in a private mount namespace).  In a full run only (no arguments: a
# part asked for is just that part), and only as root: as another user the run below already is
# unprivileged.
if [ "$(id -u)" -eq 0 ] && [ $# -eq 0 ]; then
    ./scripts/bare-unit-tier.sh
fi
.venv/bin/python -m pytest "$@"
