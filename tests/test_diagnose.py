"""A failed start's journal lines give the hint a user needed (lines as users met them)."""

from __future__ import annotations

from jailmgr.diagnose import hints


def test_each_cause_users_met_gets_its_hint() -> None:
    seen = {
        "Dec 03 12:00:01 lighttpd[7]: 2026-12-03 12:00:01: (plugin.c.195) dlopen() failed for: "
        "/usr/lib/lighttpd/mod_dirlisting.so /usr/lib/lighttpd/mod_dirlisting.so: cannot open shared object file":
            "the program loads /usr/lib/lighttpd/mod_dirlisting.so itself",
        "Dec 03 12:00:01 jailmgr-init[9]: bwrap: Can't find source path /var/lib/jail-pg/data: Permission denied":
            "can't search a parent directory of /var/lib/jail-pg/data",
        "Dec 03 12:00:01 bwrap[9]: bwrap: Can't find source path /srv/nothing: No such file or directory":
            "/srv/nothing does not exist on the host",
        "Dec 03 12:00:01 in.tftpd[3]: cannot open IPv6 socket: Address family not supported by protocol":
            "AF_INET6",
        "Dec 03 12:00:01 nginx[3]: bind() to 127.0.0.1:8080 failed (98: Address already in use)":
            "already listens",
        "Dec 03 12:00:01 cat[3]: cat: /etc/app.conf: No such file or directory":
            "/etc/app.conf is not in the jail's tree",
        "Dec 03 12:00:01 systemd[1]: jail-tftpd.service: Main process exited, code=exited, status=71/OSERR":
            "no /dev/log",
    }
    sources = frozenset({"/var/lib/jail-pg/data", "/srv/nothing"})
    for line, wanted in seen.items():
        found = hints([line], sources)
        assert len(found) == 1 and wanted in found[0], (line, found)


def test_nothing_known_says_nothing_and_a_path_is_cut_short() -> None:
    assert hints(["Dec 03 12:00:01 app[3]: something else went wrong", ""]) == []
    long = "/x" * 300
    (found,) = hints([f"app: {long}: No such file or directory"])
    assert len(found) < 300


def test_advice_to_change_the_host_is_given_only_for_the_jails_own_sources() -> None:
    """The jail writes the line: about a path the jail file never named, no advice to open the host up."""
    line = "Dec 03 12:00:01 x[9]: bwrap: Can't find source path /root/.ssh: Permission denied"
    assert hints([line]) == [] and hints([line], frozenset({"/srv/other"})) == []
    assert "chmod o+x" in hints([line], frozenset({"/root/.ssh"}))[0]
