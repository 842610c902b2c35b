#!/bin/bash
# Install this checkout into a root filesystem (default /), laid out as the
# .deb lays it out: the package, the command, templates and example jails.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-/}"
PKG="$DEST/usr/lib/python3/dist-packages/jailmgr"
rm -rf "$PKG"
install -d "$PKG" "$DEST/usr/sbin" "$DEST/usr/share/jailmgr/templates" "$DEST/etc/jailmgr/jails.d" \
    "$DEST/usr/share/doc/jailmgr/examples"
install -m 0644 jailmgr/*.py "$PKG/"
# The launcher's static host code (gcc and libc6-dev build it; a machine without them, such as the
# test VM, is given it built).
if [ ! -x launcher/jailmgr-init ] || [ launcher/jailmgr-init.c -nt launcher/jailmgr-init ]; then
    make -s -C launcher jailmgr-init
fi
install -d "$DEST/usr/lib/jailmgr"
install -m 0755 launcher/jailmgr-init "$DEST/usr/lib/jailmgr/jailmgr-init"
install -m 0644 templates/* "$DEST/usr/share/jailmgr/templates/"
install -m 0644 jails.d/*.yaml "$DEST/usr/share/doc/jailmgr/examples/"
install -m 0755 packaging/jailmgr.sh "$DEST/usr/sbin/jailmgr"
PYTHONPATH=. /usr/bin/python3 -m jailmgr schema > "$DEST/usr/share/jailmgr/jail.schema.json"
# Manual pages and bash completion, generated from the parser and the model.
install -d "$DEST/usr/share/man/man8" "$DEST/usr/share/man/man5" "$DEST/usr/share/bash-completion/completions"
PYTHONPATH=. /usr/bin/python3 -m jailmgr.manpage "$DEST/usr/share/man/man8"
mv "$DEST/usr/share/man/man8/jailmgr.yaml.5" "$DEST/usr/share/man/man5/"
PYTHONPATH=. /usr/bin/python3 -m jailmgr.completion > "$DEST/usr/share/bash-completion/completions/jailmgr"
# The Ansible collection, where ansible-core looks by default.
COLLECTION="$DEST/usr/share/ansible/collections/ansible_collections/jailmgr/jailmgr"
rm -rf "$COLLECTION"
install -d "$(dirname "$COLLECTION")"
cp -r packaging/ansible "$COLLECTION"
