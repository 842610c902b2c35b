"""`status` asks systemd over its private socket (sdbus.py) and prints what `systemctl show` prints, on
systemd 252 and 257: for a jail with every limit set, one with none (enabled), and one that failed; and the
same again through systemctl when that socket can't be reached (on 252: 257's systemctl needs it too)."""

from __future__ import annotations

import json

import pytest

from tests.testbed import Testbed

LIMIT_PROPS = ("MemoryMax", "MemoryHigh", "TasksMax", "CPUQuotaPerSecUSec", "IOWeight", "LimitNOFILE")
USAGE_PROPS = ("MemoryCurrent", "TasksCurrent")
FIELDS = {"active": "ActiveState", "sub": "SubState", "main_pid": "MainPID", "result": "Result",
          "enabled": "UnitFileState"}
JAILS = {
    "sb-lim": "limits: {memory: 96M, memory_high: 64M, cpu: \"150%\", tasks: 20, io_weight: 300, "
              "open_files: 2048}\nenable: false\n",
    "sb-plain": "enable: true\n",
    "sb-fail": "enable: false\n",
}


def _jail(name: str, extra: str) -> str:
    program = "/bin/false" if name == "sb-fail" else "/bin/sleep"
    argv = "[/bin/false]" if name == "sb-fail" else "[/bin/sleep, infinity]"
    return (f"name: {name}\nexec: {argv}\nrestart: \"no\"\nstop_timeout: 2\n"
            f"tree: {{binaries: [{program}]}}\n{extra}")


def _show(box: Testbed, unit: str) -> dict[str, str]:
    props = [*FIELDS.values(), *LIMIT_PROPS, *USAGE_PROPS]
    out = box.run(["systemctl", "show", *[f"--property={p}" for p in props], "--", unit]).stdout
    return dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)


def _status(box: Testbed, *argv: str) -> tuple[dict[str, dict], bool]:
    """Each jail's status document, and whether it asked `systemctl show` (--verbose says each command run)."""
    proc = box.run([*argv, "jailmgr", "--verbose", "--json", "status", *JAILS], check=False)
    asked = "+ systemctl --no-ask-password show" in proc.stderr
    return {doc["name"]: doc for doc in json.loads(proc.stdout)["jails"]}, asked


def _says_what_show_says(box: Testbed, docs: dict[str, dict]) -> None:
    for name, doc in docs.items():
        before = _show(box, doc["unit"])
        after = _show(box, doc["unit"])
        for field, prop in FIELDS.items():
            assert str(doc[field]) == before[prop] == after[prop], (name, field, doc[field], before[prop])
        assert doc["limits"] == {p: before[p] for p in LIMIT_PROPS}, (name, doc["limits"], before)
        for prop in USAGE_PROPS:  # (what a running process uses may move between two questions)
            assert doc["usage"][prop] in (before[prop], after[prop]), (name, prop, doc["usage"], before, after)
        assert doc["units"] == {doc["unit"]: before["ActiveState"]}


@pytest.mark.parametrize("suite", ["bed", "trixie"])
def test_status_says_what_systemctl_show_says(suite: str, request: pytest.FixtureRequest) -> None:
    box: Testbed = request.getfixturevalue(suite)
    for name, extra in JAILS.items():
        box.path(f"/srv/{name}.yaml").write_text(_jail(name, extra))
        box.run(["jailmgr", "apply", f"/srv/{name}.yaml"], check=False)  # (sb-fail's start fails: said)
    try:
        docs, through_systemctl = _status(box)
        assert set(docs) == set(JAILS) and not through_systemctl
        lim, plain, fail = docs["sb-lim"], docs["sb-plain"], docs["sb-fail"]
        assert lim["active"] == "active" and lim["main_pid"] > 0
        assert lim["limits"] == {"MemoryMax": "100663296", "MemoryHigh": "67108864", "TasksMax": "20",
                                 "CPUQuotaPerSecUSec": "1.500000s", "IOWeight": "300", "LimitNOFILE": "2048"}
        assert plain["enabled"] == "enabled" and plain["limits"]["MemoryMax"] == "infinity"
        assert plain["limits"]["IOWeight"] == "[not set]" and plain["limits"]["CPUQuotaPerSecUSec"] == "infinity"
        assert fail["active"] == "failed" and fail["result"] == "exit-code" and fail["main_pid"] == 0
        _says_what_show_says(box, docs)

        # The private socket out of reach (a device bound over it, in a mount namespace of this command
        # alone): the same answers, through systemctl, which then asks through dbus-daemon.  (systemd 257's
        # systemctl, run as root, has no such fallback: without the private socket it fails as well.)
        hide = ["unshare", "-m", "sh", "-c", "mount --bind /dev/null /run/systemd/private && exec \"$@\"", "sh"]
        if box.run([*hide, "systemctl", "show", "-p", "Id", "sb-lim"], check=False).returncode != 0:
            assert box.run(["systemctl", "--version"]).stdout.startswith("systemd 257")
            return
        hidden, through_systemctl = _status(box, *hide)
        assert set(hidden) == set(JAILS) and through_systemctl
        _says_what_show_says(box, hidden)
        for name in JAILS:
            for field in (*FIELDS, "limits", "units", "drift"):
                assert hidden[name][field] == docs[name][field], (name, field)
    finally:
        box.run(["jailmgr", "destroy", *JAILS], check=False)
