#!/usr/bin/python3 -IS
"""jailmgr: chroot jails for services (see jailmgr --help).

-I: a root tool takes no PYTHONPATH, user site or current directory from whoever runs it.
-S: no site module (with its .pth files, half of Python's start on Debian); the one path jailmgr
needs from it, Debian's modules (jailmgr, PyYAML, Jinja2, python3-systemd), is added here.
"""
import sys

sys.path.append("/usr/lib/python3/dist-packages")
from jailmgr.entry import run

run()
