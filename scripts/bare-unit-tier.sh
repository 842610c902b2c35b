#!/bin/bash
# Run the unit tier (pytest -m "not integration") once the way a plain machine would: as an
# unprivileged user (nobody), on a host with no bubblewrap, no systemd, no python3-systemd, no
# iproute2 `ip`, no nsenter and no installed jailmgr.  Run as root; scripts/test.sh runs it before
# the full run.  Arguments go to pytest (e.g. -x, -k NAME).
#
# How: a private mount namespace (unshare -m) in which
#   - read-only overlays on /usr and /run, whose top layer holds only overlayfs whiteouts, make the
#     tools and directories listed below not exist (stat() says ENOENT, as on a host without them;
#     with /dev/null or a tmpfs bound over them they would still exist, and the package's
#     os.path.exists("/usr/bin/bwrap") would still say True);
#   - the checkout is bound read-only into a fresh tmpfs, so nobody can reach it wherever it lies
#     (/root is 0700) and nothing can write into it;
#   - HOME, TMPDIR, pytest's --basetemp and hypothesis's database are in that tmpfs, owned by
#     nobody; pytest's cache is off and no bytecode is written.
# Then setpriv drops to nobody (on every Debian machine, with a passwd entry as a real user has;
# a made-up uid would have none), with a clean environment.  Before pytest, a check as nobody
# that the hidden things are gone: if the host still showed through, the run would prove nothing.
# Nothing is copied (the venv and the tree are used in place) and nothing is left behind: the
# mounts end with the namespace.
#
# JAILMGR_BARE_XFAIL: test node ids (whitespace-separated) to deselect (default: BARE_XFAIL_DEFAULT).
set -euo pipefail

# Tests known to fail on a bare machine: none (render takes its Host from tests/fakehost.py; the one
# command-line render test gives the command one too).
BARE_XFAIL_DEFAULT=""
# Not run here, though it passes as nobody: ansible-test builds its virtual environments afresh in
# a new HOME, from the package index (~90 s, and the network); the full run runs it.  Nothing in it
# depends on bwrap or systemd.
BARE_SKIP="tests/test_ansible_sanity.py"

BARE_USER=nobody
BARE_GROUP=nogroup

die() { echo "bare-unit-tier: $*" >&2; exit 1; }

if [ "${_JAILMGR_BARE_SCRATCH:-}" = "" ]; then
    [ "$(id -u)" -eq 0 ] || die "run as root (it mounts in a private namespace, then drops to $BARE_USER)"
    checkout=$(cd "$(dirname "$0")/.." && pwd -P)
    scratch=$(mktemp -d /tmp/jailmgr-bare.XXXXXX)
    trap 'rmdir "$scratch"' EXIT  # the tmpfs on it was in the namespace only: here it is empty
    start=$SECONDS
    status=0
    _JAILMGR_BARE_SCRATCH=$scratch _JAILMGR_BARE_CHECKOUT=$checkout \
        unshare --mount --propagation private -- "$0" "$@" || status=$?
    echo "bare-unit-tier: $((SECONDS - start)) s, exit status $status" >&2
    exit "$status"
fi

# In the namespace, still root.
scratch=$_JAILMGR_BARE_SCRATCH
checkout=$_JAILMGR_BARE_CHECKOUT
[ -x "$checkout/.venv/bin/python" ] || die "no .venv in $checkout (scripts/test.sh makes it)"
mount -t tmpfs -o mode=0755,size=1g jailmgr-bare "$scratch"
mkdir "$scratch/src" "$scratch/usr" "$scratch/run" "$scratch/home" "$scratch/tmp"
chown "$BARE_USER:$BARE_GROUP" "$scratch/home" "$scratch/tmp"
chmod 0700 "$scratch/home" "$scratch/tmp"
mount --bind -o ro "$checkout" "$scratch/src"

# hide LAYER PATH...: a whiteout in LAYER (the overlay's top layer for PATH's mount point) for
# each PATH that exists.
hide() {
    local layer=$1 base=$2 path
    shift 2
    for path in "$@"; do
        [ -e "$path" ] || [ -L "$path" ] || continue
        mkdir -p "$layer/$(dirname "${path#"$base"/}")"
        mknod "$layer/${path#"$base"/}" c 0 0
    done
}
triplet=$(/usr/bin/python3 -c 'import sys; print(sys.implementation._multiarch)')
shopt -s nullglob
hide "$scratch/usr" /usr \
    /usr/bin/bwrap \
    /usr/bin/systemctl /usr/bin/journalctl /usr/bin/busctl /usr/bin/loginctl /usr/bin/systemd-* \
    /usr/lib/systemd "/usr/lib/$triplet/systemd" \
    /usr/bin/ip /usr/sbin/ip /usr/bin/nsenter \
    /usr/lib/jailmgr \
    /usr/lib/python3/dist-packages/systemd /usr/lib/python3/dist-packages/systemd_python-*
hide "$scratch/run" /run /run/systemd
shopt -u nullglob
for top in usr run; do
    mount -t overlay "jailmgr-bare-$top" -o "ro,lowerdir=$scratch/$top:/$top" "/$top" ||
        die "cannot mount an overlay on /$top (the kernel's overlay filesystem is needed)"
done

as_user() {
    setpriv --reuid="$BARE_USER" --regid="$BARE_GROUP" --clear-groups -- \
        env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin LANG=C.UTF-8 \
        HOME="$scratch/home" TMPDIR="$scratch/tmp" PYTHONDONTWRITEBYTECODE=1 \
        HYPOTHESIS_STORAGE_DIRECTORY="$scratch/home/hypothesis" "$@"
}

cd "$scratch/src"
# The run proves nothing if the host still shows through: check what was hidden, as the user.
# shellcheck disable=SC2016  # (expanded by that sh)
as_user /bin/sh -c '
    for tool in bwrap systemctl ip nsenter; do
        if command -v "$tool" >/dev/null; then echo "$tool is still on PATH" >&2; exit 1; fi
    done
    for path in /usr/lib/systemd /usr/lib/*/systemd/libsystemd-shared-*.so /run/systemd /usr/lib/jailmgr; do
        if [ -e "$path" ]; then echo "$path still exists" >&2; exit 1; fi
    done
    exec .venv/bin/python -c "if 1:
        import importlib.util, os, sys
        if os.geteuid() == 0: sys.exit(\"still root\")
        if importlib.util.find_spec(\"systemd\"): sys.exit(\"python3 still imports systemd\")
    "
' || die "the host's tools are not hidden (see above)"

deselect=()
set -f  # node ids hold [ ]: split the list, never glob it
for node in $BARE_SKIP ${JAILMGR_BARE_XFAIL-$BARE_XFAIL_DEFAULT}; do
    deselect+=(--deselect "$node")
done
set +f
as_user .venv/bin/python -m pytest tests -m "not integration" -q -p no:cacheprovider \
    --basetemp="$scratch/tmp/pytest" "${deselect[@]}" "$@"
