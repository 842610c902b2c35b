#!/usr/bin/python3
"""jailmgr: chroot jails for services (see jailmgr --help)."""
from jailmgr.entry import run

run()
