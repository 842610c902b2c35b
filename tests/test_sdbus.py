"""sdbus: the Get calls it writes, the replies it reads (either byte order), the pipeline matching each
reply to its call by serial, and every reply it does not expect refused.  Against systemd itself:
tests/integration/test_status_bus.py."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest

from jailmgr import sdbus


def _value(order: str, sig: str, value: str | int, at: int) -> bytes:
    """A variant's bytes, starting at offset `at` of the message."""
    out = bytes([1]) + sig.encode() + b"\0"
    at += len(out)
    if sig == "s":
        assert isinstance(value, str)
        pad = -at % 4
        return out + b"\0" * pad + struct.pack(order + "I", len(value.encode())) + value.encode() + b"\0"
    size, code = (8, "Q") if sig == "t" else (4, "I")
    return out + b"\0" * (-at % size) + struct.pack(order + code, value)


def reply(reply_to: int, sig: str, value: str | int, order: str = "<", kind: int = 2) -> bytes:
    """A method return (or, kind 3, an error named `value`) as systemd would send it."""
    fields = struct.pack("<BB", 5, 1) + b"u\0" + struct.pack(order + "I", reply_to)
    if kind == 3:
        name = str(value).encode()
        fields += struct.pack("<BB", 4, 1) + b"s\0" + struct.pack(order + "I", len(name)) + name + b"\0"
        fields += b"\0" * (-len(fields) % 8)
        fields += struct.pack("<BB", 8, 1) + b"g\0" + b"\x01s\0"
        start = 16 + len(fields) + (-len(fields) % 8)
        body = struct.pack(order + "I", 2) + b"no\0"
    else:
        fields += struct.pack("<BB", 8, 1) + b"g\0" + b"\x01v\0"
        start = 16 + len(fields) + (-len(fields) % 8)
        body = _value(order, sig, value, start)
    head = (b"l" if order == "<" else b"B") + bytes([kind, 1, 1]) + struct.pack(order + "III", len(body), 77,
                                                                                 len(fields))
    return head + fields + b"\0" * (start - 16 - len(fields)) + body


def test_a_unit_path_escapes_every_byte_but_letters_and_digits() -> None:
    assert sdbus.unit_path("jail-b0001.service") == "/org/freedesktop/systemd1/unit/jail_2db0001_2eservice"
    assert sdbus.unit_path("jail-x@1.service") == "/org/freedesktop/systemd1/unit/jail_2dx_401_2eservice"
    assert sdbus.unit_path("") == "/org/freedesktop/systemd1/unit/_"


def test_a_get_call_is_a_well_formed_message() -> None:
    call = sdbus.get_call(7, sdbus.unit_path("a.service"), sdbus.SERVICE_IFACE, "MainPID")
    assert call[:4] == b"l\x01\x00\x01" and sdbus.message_size(call[:16]) == len(call)
    body_len, serial, fields = struct.unpack("<III", call[4:16])
    assert serial == 7 and (16 + fields + (-fields % 8)) % 8 == 0
    body = call[len(call) - body_len:]
    assert body == (struct.pack("<I", len(sdbus.SERVICE_IFACE)) + sdbus.SERVICE_IFACE.encode() + b"\0"
                    + b"\0" * (-(len(sdbus.SERVICE_IFACE) + 5) % 4) + struct.pack("<I", 7) + b"MainPID\0")
    for text in (b"/org/freedesktop/systemd1/unit/a_2eservice", b"org.freedesktop.DBus.Properties", b"Get",
                 b"org.freedesktop.systemd1"):
        assert text + b"\0" in call


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize(("sig", "value"), [("s", "active"), ("s", ""), ("u", 4242), ("t", (1 << 64) - 1),
                                            ("t", 268435456)])
def test_a_reply_is_read_in_either_byte_order(order: str, sig: str, value: str | int) -> None:
    data = reply(9, sig, value, order)
    assert sdbus.message_size(data[:16]) == len(data)
    assert sdbus.parse_reply(data) == (2, 9, value)


def test_an_error_reply_is_named() -> None:
    kind, serial, text = sdbus.parse_reply(reply(3, "s", "org.freedesktop.DBus.Error.UnknownProperty", kind=3))
    assert (kind, serial) == (3, 3) and str(text).startswith("org.freedesktop.DBus.Error.UnknownProperty")


@pytest.mark.parametrize("cut", [17, 30, -1])
def test_a_short_reply_is_refused(cut: int) -> None:
    with pytest.raises(sdbus.BusError):
        sdbus.parse_reply(reply(3, "s", "running")[:cut])


def test_a_reply_of_another_type_is_refused() -> None:
    data = bytearray(reply(3, "u", 5))
    data[data.rindex(b"\x01u\0")+1] = ord("d")
    with pytest.raises(sdbus.BusError, match="type 'd'"):
        sdbus.parse_reply(bytes(data))


def test_something_not_d_bus_is_refused() -> None:
    with pytest.raises(sdbus.BusError):
        sdbus.message_size(b"HTTP/1.1 200 OK\r\n")


def _asked(call: bytes, units: list[str]) -> tuple[str, str]:
    """The unit (by its object path in the header) and the property (the body's second string) a Get asks."""
    body_len = struct.unpack("<I", call[4:8])[0]
    body = call[len(call) - body_len:]
    first = struct.unpack("<I", body[:4])[0]
    at = 4 + first + 1
    at += -at % 4
    size = struct.unpack("<I", body[at:at + 4])[0]
    prop = body[at + 4:at + 4 + size].decode()
    unit = next(u for u in units if sdbus.unit_path(u).encode() + b"\0" in call[:len(call) - body_len])
    return unit, prop


def _serve(server: socket.socket, answer: dict[tuple[str, str], str | int], calls: list[bytes],
           reverse: bool, error: bool) -> None:
    """A peer that authenticates as systemd does, reads every call, and answers them (all at once, in
    reverse order when `reverse`)."""
    conn, _ = server.accept()
    with conn:
        got = b""
        while b"BEGIN\r\n" not in got:
            got += conn.recv(4096)
            if b"AUTH EXTERNAL" in got and b"\r\n" in got and b"OK" not in got:
                conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
                got += b"OK"
        buf = got.split(b"BEGIN\r\n", 1)[1]
        want = len(answer)
        while len(calls) < want:
            while len(buf) < 16 or len(buf) < sdbus.message_size(buf[:16]):
                buf += conn.recv(65536)
            size = sdbus.message_size(buf[:16])
            calls.append(buf[:size])
            buf = buf[size:]
        out = []
        for call in calls:
            serial = struct.unpack("<I", call[8:12])[0]
            unit, prop = _asked(call, [unit for unit, _ in answer])
            value = answer[unit, prop]
            if error and prop == "TasksMax":
                out.append(reply(serial, "s", "org.freedesktop.DBus.Error.UnknownProperty", kind=3))
            else:
                out.append(reply(serial, "s" if isinstance(value, str) else "t", value))
        conn.sendall(b"".join(reversed(out) if reverse else out))


@pytest.mark.parametrize("reverse", [False, True])
def test_many_calls_are_sent_at_once_and_each_reply_is_matched_by_serial(tmp_path: Path, reverse: bool) -> None:
    answer: dict[tuple[str, str], str | int] = {}
    for i in range(300):
        answer[f"jail-b{i:04d}.service", "ActiveState"] = "active" if i % 2 else "failed"
        answer[f"jail-b{i:04d}.service", "TasksMax"] = 1000 + i
    path = str(tmp_path / "private")
    calls: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        peer = threading.Thread(target=_serve, args=(server, answer, calls, reverse, False))
        peer.start()
        asked = [(unit, sdbus.UNIT_IFACE if prop == "ActiveState" else sdbus.SERVICE_IFACE, prop)
                 for unit, prop in answer]
        values = sdbus.get_many(asked, path=path, timeout=20)
        peer.join()
    assert values == list(answer.values())
    assert len(calls) == len(answer)


def test_an_error_reply_fails_the_whole_round(tmp_path: Path) -> None:
    answer: dict[tuple[str, str], str | int] = {("a.service", "ActiveState"): "active", ("a.service", "TasksMax"): 5}
    path = str(tmp_path / "private")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        peer = threading.Thread(target=_serve, args=(server, answer, [], False, True))
        peer.start()
        with pytest.raises(sdbus.BusError, match="UnknownProperty"):
            sdbus.get_many([("a.service", sdbus.UNIT_IFACE, "ActiveState"), ("a.service", sdbus.SERVICE_IFACE,
                                                                             "TasksMax")], path=path, timeout=20)
        peer.join()


def test_no_socket_is_a_bus_error(tmp_path: Path) -> None:
    with pytest.raises(sdbus.BusError):
        sdbus.get_many([("a.service", sdbus.UNIT_IFACE, "ActiveState")], path=str(tmp_path / "absent"), timeout=2)
