"""How one jail is built and run on this host, decided once (decide) and read by every step after.

Two shapes: systemd's directives alone (RootDirectory= and the sandboxing
options), or the launcher (launcher.py: jailmgr-init and bubblewrap) for what
systemd has no directive for.  Which one a jail gets is Jail.uses_launcher's
answer; the host adds only what differs between systemd versions.
"""

from __future__ import annotations

from .host import Host
from .model import Jail
from .quickdata import dataclass


@dataclass(frozen=True)
class Mechanism:
    launched: bool  # bubblewrap builds the jail, under jailmgr-init
    program_is_pid1: bool  # `init: false` in a PID namespace: the init execs the program instead of being its parent
    nosetid: bool  # bubblewrap loads the set-id filter: systemd >= 257's RestrictSUIDSGID= would stop it (setid.py)
    # Without the launcher, systemd >= 257 binds journald's three sockets (syslog, native, stdout) into the root
    # unless told BindLogSockets=no: the unit says no, and binds the syslog one alone when runtime.syslog asks.
    log_sockets: bool = False
    # namespaces.time without the launcher: ExecStart=! runs the host's jailmgr-init in the root, which makes
    # the time namespace and drops to the program (timens.py); systemd then sets neither ids nor workdir.
    native_timens: bool = False

    @property
    def init(self) -> bool:
        """jailmgr-init stays in the jail as the program's parent (what procfs walks past to find the program)."""
        return self.launched and not self.program_is_pid1


def decide(jail: Jail, host: Host) -> Mechanism:
    launched = jail.uses_launcher()
    return Mechanism(launched=launched, program_is_pid1=launched and jail.namespaces.pid and not jail.namespaces.init,
                     nosetid=launched and host.systemd_version >= 257,
                     log_sockets=not launched and host.systemd_version >= 257,
                     native_timens=not launched and jail.namespaces.time)


NATIVE = Mechanism(launched=False, program_is_pid1=False, nosetid=False)
