"""namespaces.time, what can be checked without a kernel: the units of both shapes and the host check."""

from __future__ import annotations

from pathlib import Path

from jailmgr import render, spec, timens
from jailmgr.host import Host
from tests.fakehost import DEBIAN_12, DEBIAN_13

CASES = Path(__file__).resolve().parent / "cases" / "good"


def unit(case: str, host: Host = DEBIAN_12) -> str:
    loaded = spec.load_or_raise([str(CASES / f"{case}.yaml")])
    item, problems = render.render(loaded[0], host)
    assert problems == [] and item is not None
    return item.unit_text


def test_protect_clock_gives_way_only_where_the_namespace_is_made() -> None:
    for host in (DEBIAN_12, DEBIAN_13):
        for case in ("time-launched", "time-native"):
            text = unit(case, host)
            assert "ProtectClock=yes" not in text and timens.CLOCK_FILTER in text.splitlines()
        assert "ProtectClock=yes" in unit("minimal", host) and timens.CLOCK_FILTER not in unit("minimal", host)


def test_the_native_shape_leaves_ids_and_workdir_to_jailmgr_init() -> None:
    lines = unit("time-native").splitlines()
    assert not any(line.startswith("WorkingDirectory=") for line in lines)
    exec_start = [line for line in lines if line.startswith("ExecStart=")]
    assert exec_start and exec_start[0].startswith("ExecStart=!/run/host/jailmgr-init exec --time ")


def test_the_clocks_capabilities_never_reach_the_program() -> None:
    text = unit("time-launched")
    assert "--caps 400 " in text  # CAP_NET_BIND_SERVICE alone: CAP_SYS_TIME, though declared, is left out
    assert "--cap-add CAP_SYS_TIME" not in text


def test_the_host_check_names_what_is_missing(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "status").write_text("Name:\tsystemd\nCapBnd:\t000001ffffffffff\n")
    assert "CONFIG_TIME_NS" in (timens.host_problem(str(proc)) or "")
    (proc / "self" / "ns").mkdir(parents=True)
    (proc / "self" / "ns" / "time").write_text("")
    assert timens.host_problem(str(proc)) is None
    (proc / "1" / "status").write_text("Name:\tsystemd\nCapBnd:\t000001fffdffffff\n")  # without bit 25
    assert "CAP_SYS_TIME" in (timens.host_problem(str(proc)) or "")
