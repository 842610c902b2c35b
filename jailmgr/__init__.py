"""jailmgr: chroot jails for services, described in YAML, run by systemd."""

__version__ = "0.1.0"
