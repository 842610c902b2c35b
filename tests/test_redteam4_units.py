"""Red team 4, the pure parts: a credential's source bound into another jail (read-only too) is refused from
either side, across the jail files of one apply and the records of running jails; the host's credential
key and systemd's credentials directory are bound into no jail (tests/cases/bad/host-secrets-mounted.yaml)."""

from __future__ import annotations

from pathlib import Path

from jailmgr import crossjail, preflight, spec, state
from tests.test_writable_set import sets

SOURCE = "/etc/jailmgr/secrets/dbpass"


def test_a_jail_that_binds_another_jail_s_secret_or_a_directory_above_it_is_refused_from_either_side() -> None:
    owner = sets(f"name: a\ncredentials: [{{name: pass, from: {SOURCE}}}]\n")
    for source in ("/etc/jailmgr/secrets", SOURCE, "/etc"):
        reader = sets(f"name: b\nmounts: [{{source: {source}, target: /s}}]\n")
        index = crossjail.SecretIndex([owner, reader])
        assert [key for key, _ in index.exposures(reader)] == ["mounts[0].source"], source
        assert "a credential's source of jail a" in index.exposures(reader)[0][1]
        assert [key for key, _ in index.exposures(owner)] == ["credentials[0].from"], source
        assert "which jail b binds in (mounts[0].source)" in index.exposures(owner)[0][1]
    beside = sets("name: c\nmounts: [{source: /etc/jailmgr/public, target: /s}]\n")
    assert crossjail.SecretIndex([owner, beside]).exposures(beside) == []
    assert crossjail.SecretIndex([owner, beside]).exposures(owner) == []


def test_apply_refuses_a_secret_that_a_running_jail_binds_in(tmp_path: Path) -> None:
    source = tmp_path / "a.yaml"
    source.write_text(f"name: a\nexec: [/usr/bin/true]\ntree: {{binaries: [/usr/bin/true]}}\n"
                      f"credentials: [{{name: pass, from: {SOURCE}}}]\n")
    loaded = spec.load_or_raise([str(source)])[0]
    running = state.JailState(name="r", source="", root="/x", unit="jail-r.service", host_writable={},
                              host_resolved={"/etc/jailmgr": "mounts[0].source"})
    found = preflight.check_host_paths([loaded], {"r": running})
    assert [(p.key, p.line) for p in found] == [("credentials[0].from", 4)]
    assert "which jail r binds in" in found[0].message and "$CREDENTIALS_DIRECTORY" in found[0].hint
