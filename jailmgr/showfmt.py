"""A property's value as `systemctl show` prints it, from the number or string systemd's bus gives.

`status` reads some properties straight from systemd's bus (sdbus.py) and
must print them exactly as before, when they came from `systemctl show`:
tests and the Ansible collection's jail_info read these strings.  These are
systemctl's rules for the properties status shows (systemd 252 and 257 print
them alike; tests/integration/test_status_bus.py holds the two side by side).
"""

from __future__ import annotations

UINT64_MAX = (1 << 64) - 1

# (suffix, microseconds): systemd's format_timespan table.
_SPANS = (("y", 31557600 * 10**6), ("month", 2629800 * 10**6), ("w", 7 * 86400 * 10**6), ("d", 86400 * 10**6),
          ("h", 3600 * 10**6), ("min", 60 * 10**6), ("s", 10**6), ("ms", 1000), ("us", 1))
_MINUTE = 60 * 10**6

# The 64-bit properties systemctl prints as a word when they hold UINT64_MAX.
_NOT_SET = frozenset({"MemoryCurrent", "TasksCurrent", "IOWeight", "StartupIOWeight", "CPUWeight",
                      "StartupCPUWeight"})
_INFINITY = frozenset({"MemoryMax", "MemoryHigh", "MemoryLow", "MemoryMin", "MemorySwapMax", "MemoryLimit",
                       "TasksMax"})


def timespan(usec: int) -> str:
    """systemd's format_timespan(usec, 0): exact, a value under a minute with a fraction in dot notation
    (1500000 -> "1.500000s"), larger ones as parts ("1min 30s")."""
    if usec == UINT64_MAX:
        return "infinity"
    if usec <= 0:
        return "0"
    parts = []
    for suffix, size in _SPANS:
        if usec <= 0:
            break
        if usec < size:
            continue
        whole, rest = divmod(usec, size)
        if usec < _MINUTE and rest > 0:
            digits = len(str(size)) - 1  # the zeros of the unit in microseconds
            if digits > 0:
                parts.append(f"{whole}.{rest:0{digits}d}{suffix}")
                break
        parts.append(f"{whole}{suffix}")
        usec = rest
    return " ".join(parts)


def show_value(name: str, value: str | int) -> str:
    """`value` of property `name` as `systemctl show -p NAME` prints it."""
    if isinstance(value, str):
        return value
    if value == UINT64_MAX:
        if "USec" in name:
            return "infinity"
        if name in _NOT_SET:
            return "[not set]"
        if name in _INFINITY or name.startswith("Limit"):
            return "infinity"
    if "USec" in name:
        return timespan(value)
    return str(value)
