#!/bin/bash
# Build the .deb from this checkout: copies the source next to debian/ in a
# scratch directory and runs dpkg-buildpackage there; the .deb lands in dist/.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Debian's own toolchain and python3, whatever else is first on PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/jailmgr-0.1.0"
git ls-files -z | xargs -0 cp --parents -t "$work/jailmgr-0.1.0"
cp -r packaging/deb/debian "$work/jailmgr-0.1.0/"
(cd "$work/jailmgr-0.1.0" && dpkg-buildpackage -us -uc -b)
mkdir -p dist
cp "$work"/*.deb dist/
ls dist/*.deb
