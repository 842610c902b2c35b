#!/bin/bash
# The main job, for real, on a Debian 12 machine whose PID 1 is not systemd:
# boot a throwaway systemd container, install this checkout in it, apply the
# ftp jail, show an FTP session against it from the host, then clean up.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "demo.sh: run as root (it boots a container)" >&2; exit 1; fi
need=()
for pkg in python3 systemd-container debootstrap gcc libc6-dev make; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
exec /usr/bin/python3 -m tests.testbed demo
