"""Limits really enforced, and no way out from inside: a Debian 12 VM on cgroup v2 (tests/vm).

One boot runs every case (tests/vm/inside.py); each is a test here.  When QEMU can't run on this
machine the cases are skipped with the reason, never passed.
"""

from __future__ import annotations

import pytest

from tests.vm import vm

CASES = [
    "memory_max_kills_in_the_jails_own_cgroup",
    "tasks_max_holds_a_fork_bomb",
    "cpu_quota_throttles_a_busy_loop",
    "memory_high_io_weight_and_open_files_reach_the_kernel",
    "status_shows_live_memory_and_tasks_against_their_limits",
    "no_escape_from_a_launcher_jail_as_its_root",
    "no_escape_from_a_native_jail_as_its_user",
    "a_time_namespaced_jail_counts_its_uptime_from_its_start",
]


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, object]]:
    reason = vm.unavailable()
    if reason:
        pytest.skip(f"VM tests skipped: {reason}")
    return vm.run()


def test_the_vm_runs_systemd_on_cgroup_v2_with_the_controllers(results: dict[str, dict[str, object]]) -> None:
    assert '"cgroup2": true' in str(results["_machine"]["detail"]), results["_machine"]
    assert set(results) - {"_machine"} == set(CASES), sorted(results)


@pytest.mark.parametrize("case", CASES)
def test_in_the_vm(results: dict[str, dict[str, object]], case: str) -> None:
    assert results[case]["ok"], results[case]["detail"]
