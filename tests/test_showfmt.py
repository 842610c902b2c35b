"""showfmt prints a property's value exactly as `systemctl show` does (each expected text below is what
systemctl show of systemd 252 printed for that value, set with `systemctl set-property`)."""

from __future__ import annotations

import pytest

from jailmgr.showfmt import UINT64_MAX, show_value, timespan


@pytest.mark.parametrize(("usec", "shown"), [
    (1_500_000, "1.500000s"),  # CPUQuota=150%
    (330_000, "330ms"),  # 33%
    (50_000, "50ms"),  # 5%
    (10_000, "10ms"),  # 1%
    (2_500_000, "2.500000s"),  # 250%
    (60_000_000, "1min"),  # 6000%
    (123_400, "123.400ms"),  # 12.34%
    (1_000_000, "1s"),  # 100%
    (61_500_000, "1min 1.500000s"),  # 6150%
    (90_000_000, "1min 30s"),  # 9000%
    (100, "100us"),  # 0.01%
    (1_000_000_000, "16min 40s"),  # 100000%
    (123_456_700, "2min 3.456700s"),  # 12345.67%
    (UINT64_MAX, "infinity"),  # no CPUQuota=
    (0, "0"),
])
def test_a_timespan_as_systemctl_prints_it(usec: int, shown: str) -> None:
    assert timespan(usec) == shown
    assert show_value("CPUQuotaPerSecUSec", usec) == shown


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("MemoryMax", UINT64_MAX, "infinity"), ("MemoryMax", 104857600, "104857600"),
    ("MemoryHigh", UINT64_MAX, "infinity"), ("TasksMax", UINT64_MAX, "infinity"), ("TasksMax", 33, "33"),
    ("IOWeight", UINT64_MAX, "[not set]"), ("IOWeight", 200, "200"),
    ("LimitNOFILE", UINT64_MAX, "infinity"), ("LimitNOFILE", 524288, "524288"),
    ("MemoryCurrent", UINT64_MAX, "[not set]"), ("MemoryCurrent", 4096, "4096"),
    ("TasksCurrent", UINT64_MAX, "[not set]"), ("TasksCurrent", 2, "2"),
    ("MainPID", 0, "0"), ("MainPID", 61, "61"),
    ("UnitFileState", "static", "static"), ("Result", "exit-code", "exit-code"), ("ActiveState", "", ""),
])
def test_a_property_as_systemctl_prints_it(name: str, value: str | int, shown: str) -> None:
    assert show_value(name, value) == shown
