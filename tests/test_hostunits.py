"""check's look at the host's own units of a jailed program (jailmgr/hostunits.py): which processes count."""

from __future__ import annotations

from jailmgr import hostunits

PROCS = {
    501: ("vsftpd.service", "/usr/sbin/vsftpd"),
    502: ("vsftpd.service", "/usr/sbin/vsftpd"),  # (its second process: one warning per unit)
    610: ("jail-ftp.service", "/usr/sbin/vsftpd"),  # a jail's, never a twin
    700: ("old-ftp.service", "/usr/sbin/vsftpd (deleted)"),  # upgraded since it started: the same program
    800: ("cron.service", "/usr/sbin/cron"),
    900: ("foo.service", "/bin/sh"),
}


def test_the_host_units_that_run_the_program_outside_a_jail() -> None:
    assert hostunits.twins("/usr/sbin/vsftpd", PROCS) == [("old-ftp.service", 700), ("vsftpd.service", 501)]
    assert hostunits.twins("/usr/sbin/nginx", PROCS) == []


def test_an_interpreter_or_a_relative_program_warns_of_nothing() -> None:
    assert hostunits.twins("/bin/sh", PROCS) == []
    assert hostunits.twins("vsftpd", PROCS) == []


def test_the_warning_says_the_unit_its_ports_and_the_remedy() -> None:
    said = hostunits.Twin("vsftpd.service", 501, (21,)).warning("ftp", "/usr/sbin/vsftpd")
    assert said == ("ftp: the host's own vsftpd.service (PID 501) runs /usr/sbin/vsftpd outside the jail, listening "
                    "on :21; if the jail replaces it: systemctl mask --now vsftpd.service")
