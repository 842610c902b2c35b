"""sockets: and accept: the pure parts (listen addresses, units, the launcher's descriptors, states)."""

from __future__ import annotations

import pytest

from jailmgr import render, spec, systemd
from jailmgr.model import UnitRole
from jailmgr.readiness import started_units
from jailmgr.sockets import Listen, parse_listen
from jailmgr.state import JailState
from tests.fakehost import DEBIAN_12, DEBIAN_13

BASE = "name: web\nexec: [/usr/bin/true]\ntree: {binaries: [/usr/bin/true]}\n"


@pytest.mark.parametrize(("text", "want"), [
    ("127.0.0.1:8080", Listen("127.0.0.1", 8080, "")),
    ("[::1]:80", Listen("::1", 80, "")),
    ("[0:0:0:0:0:0:0:1]:80", Listen("::1", 80, "")),  # (written as systemd would read it back)
    ("0.0.0.0:69", Listen("0.0.0.0", 69, "")),
    ("/run/app.sock", Listen("", 0, "/run/app.sock")),
])
def test_listen_addresses_parse(text: str, want: Listen) -> None:
    assert parse_listen(text) == (want, "")


@pytest.mark.parametrize("text", ["8080", "localhost:80", "::1:80", "[1.2.3.4]:80", "1.2.3.4:65536", "1.2.3.4:0",
                                  "/run/a b.sock", "/run/a:b.sock", "/run/%i.sock", "/run/../x", "/run/x/",
                                  "/" + "a" * 120, "run/x.sock", "[::1]:80\nListenStream=0.0.0.0:1"])
def test_what_is_not_a_listen_address_is_refused(text: str) -> None:
    listen, why = parse_listen(text)
    assert listen is None and why


def load(text: str) -> spec.Loaded:
    jail, problems, positions = spec.parse_with_positions(text, "web.yaml")
    assert jail is not None, problems
    return spec.Loaded(jail, "web.yaml", positions)


def test_the_units_of_a_jail_with_sockets_and_with_accept() -> None:
    sockets = load(BASE + "sockets: [{listen: \"127.0.0.1:8080\"}]\n").jail
    assert list(sockets.units.values()) == ["jail-web.service", "jail-web.socket"]
    assert sockets.unit_name == "jail-web.service" and sockets.enable_unit == "jail-web.socket"
    assert started_units(sockets) == ["jail-web.socket", "jail-web.service"]
    accept = load(BASE + "accept: true\nsockets: [{listen: \"127.0.0.1:8080\"}]\n").jail
    assert accept.units == {UnitRole.SOCKET: "jail-web.socket", UnitRole.TEMPLATE: "jail-web@.service"}
    assert accept.unit_name == accept.enable_unit == "jail-web.socket"
    assert started_units(accept) == ["jail-web.socket"]


def test_the_record_names_the_socket_as_the_unit_enable_links() -> None:
    recorded = JailState("web", "", "", "jail-web.service", extra_units=["jail-web.socket"])
    assert recorded.enable_unit == "jail-web.socket"
    assert JailState("web", "", "", "jail-web.service").enable_unit == "jail-web.service"


def test_the_seccomp_descriptor_comes_after_the_sockets_on_257() -> None:
    """systemd passes OpenFile='s descriptor after the sockets': bubblewrap must read that one."""
    item, problems = render.render(load(BASE + "sockets: [{listen: \"127.0.0.1:1\"}, {listen: \"127.0.0.1:2\"}]\n"),
                                   DEBIAN_13)
    assert item is not None and not problems
    text = item.units["jail-web.service"]
    assert "--listen-fds 2 --" in text and "--seccomp 5 " in text
    item, _ = render.render(load(BASE), DEBIAN_13)
    assert item is not None and "--seccomp 3 " in item.unit_text and "--listen-fds" not in item.unit_text


def test_a_jail_without_sockets_is_enabled_as_before() -> None:
    item, _ = render.render(load(BASE), DEBIAN_12)
    assert item is not None and "WantedBy=multi-user.target" in item.unit_text
    item, _ = render.render(load(BASE + "sockets: [{listen: \"127.0.0.1:8080\"}]\n"), DEBIAN_12)
    assert item is not None and "[Install]" not in item.unit_text
    assert "WantedBy=sockets.target" in item.units["jail-web.socket"]
    item, _ = render.render(load(BASE + "enable: false\nsockets: [{listen: \"127.0.0.1:8080\"}]\n"), DEBIAN_12)
    assert item is not None and "[Install]" not in item.units["jail-web.socket"]


def test_a_template_is_said_by_its_running_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = ("jail-web@3-127.0.0.1:8080-127.0.0.1:5000.service loaded active running jail web\n"
              "jail-web@4-127.0.0.1:8080-127.0.0.1:5001.service loaded active running jail web\n"
              "jail-webx@1-127.0.0.1:8080-127.0.0.1:5001.service loaded active running jail webx\n")
    calls = []

    def systemctl(*args: str, **_: object) -> str:
        calls.append(args)
        return listed

    monkeypatch.setattr(systemd, "systemctl", systemctl)
    found = systemd.instances(["jail-web@.service", "jail-other@.service"])
    assert found["jail-web@.service"]["Instances"] == "2" and found["jail-web@.service"]["ActiveState"] == "active"
    assert found["jail-other@.service"]["Instances"] == "0"
    assert calls == [("list-units", "--plain", "--no-legend", "--full", "--no-pager", "--", "jail-web@*.service",
                      "jail-other@*.service")]


def test_logs_match_the_socket_and_the_slice_of_the_instances() -> None:
    from jailmgr import journal

    assert journal.jail_matches("sk-acc") == (("_SYSTEMD_UNIT", "jail-sk-acc.socket"), ("UNIT", "jail-sk-acc.socket"),
                                              ("_SYSTEMD_SLICE", "system-jail\\x2dsk\\x2dacc.slice"))
