"""A new jail starts without a daemon-reload, on systemd 252 and 257, and is enabled as `systemctl enable`
would have it; a changed one is reloaded; a unit systemd still can't see is reloaded and started anyway."""

from __future__ import annotations

import pytest

from tests.testbed import Testbed

from .test_fleet import reloads, settle_reloads

JAIL = "name: {name}\nexec: [/usr/bin/sleep, infinity]\nenvironment: {{GREETING: {greeting}}}\n" \
       "tree: {{binaries: [/usr/bin/sleep]}}\n"


@pytest.fixture(params=["bed", "trixie"])
def host(request: pytest.FixtureRequest) -> Testbed:
    return request.getfixturevalue(request.param)


def prop(host: Testbed, unit: str, name: str) -> str:
    return host.run(["systemctl", "show", "-p", name, "--value", unit]).stdout.strip()


def test_a_new_jail_is_started_and_enabled_without_a_reload_and_a_changed_one_is_reloaded(host: Testbed) -> None:
    host.path("/srv/nr.yaml").write_text(JAIL.format(name="nr", greeting="one"))
    before = reloads(host)
    proc = host.run(["jailmgr", "apply", "/srv/nr.yaml"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert settle_reloads(host) == before
    unit = "jail-nr.service"
    assert prop(host, unit, "ActiveState") == "active" and prop(host, unit, "UnitFileState") == "enabled"
    # Nothing says a reload is owed: not the unit, not the target its link is in (257 marks every unit when
    # `systemctl enable` runs without a reload; the link made by jailmgr leaves that alone).
    assert prop(host, unit, "NeedDaemonReload") == "no"
    assert prop(host, "multi-user.target", "NeedDaemonReload") == "no"
    link = host.path("/etc/systemd/system/multi-user.target.wants/jail-nr.service")
    assert link.is_symlink() and str(link.readlink()) == "/etc/systemd/system/jail-nr.service"
    # The link is the one boot reads: after a reload, the target wants the jail.
    host.run(["systemctl", "daemon-reload"])
    assert unit in prop(host, "multi-user.target", "Wants").split()
    # A changed jail: its unit is loaded, so it is reloaded before the restart, and the new one runs.
    host.path("/srv/nr.yaml").write_text(JAIL.format(name="nr", greeting="two"))
    before = reloads(host)
    assert host.run(["jailmgr", "apply", "/srv/nr.yaml"], check=False).returncode == 0
    assert settle_reloads(host) - before == 1
    assert "GREETING=two" in prop(host, unit, "Environment") and prop(host, unit, "NeedDaemonReload") == "no"
    host.run(["jailmgr", "destroy", "nr"])
    assert not link.is_symlink()


FALLBACK = """\
import os, subprocess
from jailmgr import systemd
d = "/etc/systemd/system"
subprocess.run(["systemctl", "daemon-reload"], check=True)
seen = os.stat(d).st_mtime_ns
with open(d + "/stale.service", "w") as f:
    f.write("[Service]\\nExecStart=/usr/bin/sleep infinity\\n")
# The directory's mtime put back: systemd's map of unit files looks current, as when the file was written
# within the clock tick of the map's last rebuild.
os.utime(d, ns=(seen, seen))
plain = subprocess.run(["systemctl", "start", "stale.service"], capture_output=True, text=True)
print("plain", plain.returncode, plain.stderr.strip())
systemd.restart(["stale.service"], unloaded=frozenset({"stale.service"}))
print("after", subprocess.run(["systemctl", "is-active", "stale.service"], capture_output=True, text=True).stdout)
"""


def test_a_new_unit_that_systemd_still_cannot_see_is_reloaded_and_started(host: Testbed) -> None:
    host.path("/srv/fallback.py").write_text(FALLBACK)
    out = host.run(["sh", "-c", "cd / && python3 /srv/fallback.py"]).stdout
    try:
        plain = out.split("plain ", 1)[1].splitlines()[0]
        assert plain.startswith("5 ") and "not found" in plain, out  # the stale map is real
        assert out.split("after ", 1)[1].strip() == "active", out
    finally:
        host.run(["sh", "-c", "systemctl stop stale.service; rm -f /etc/systemd/system/stale.service; "
                              "systemctl daemon-reload"], check=False)
