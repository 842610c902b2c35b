"""tree.packages: what a Debian package brings, from dpkg's file list (fake hosts: tests/fakehost.py)."""

from __future__ import annotations

from pathlib import Path

from jailmgr import render, spec
from tests.fakehost import DEBIAN_12


def rendered(tmp_path: Path, tree: str, exec_: str = "/usr/sbin/lighttpd") -> tuple[render.Rendered | None, list[str]]:
    path = tmp_path / "l.yaml"
    path.write_text(f"name: l\nexec: [{exec_}]\nuser: www-data\nnamespaces: {{pid: false, uts: false, cgroup: false}}\n"
                    f"tree:\n  users: [www-data]\n{tree}")
    item, problems = render.render(spec.load_or_raise([str(path)])[0], DEBIAN_12)
    return item, [str(p) for p in problems]


def test_a_package_not_installed_is_named_with_the_closest_installed_one(tmp_path: Path) -> None:
    _, problems = rendered(tmp_path, "  packages: [lighttpd, lighttpdd, nosuch]\n")
    assert problems == [
        f"{tmp_path}/l.yaml:7:24: tree.packages[1]: package 'lighttpdd' is not installed on this host; "
        "did you mean 'lighttpd'?",
        f"{tmp_path}/l.yaml:7:35: tree.packages[2]: package 'nosuch' is not installed on this host "
        "(apt install nosuch)"]


def test_the_program_may_come_from_a_package_and_must_come_from_somewhere(tmp_path: Path) -> None:
    item, problems = rendered(tmp_path, "  packages: [lighttpd]\n")
    assert problems == [] and item is not None
    _, problems = rendered(tmp_path, "  packages: [libssl3]\n")
    assert problems == [f"{tmp_path}/l.yaml:2:8: exec[0]: /usr/sbin/lighttpd is not in the tree: none of "
                        "tree.packages brings it; add it to tree.binaries"]


def test_whole_directories_shared_ones_per_file_and_nothing_a_service_never_reads(tmp_path: Path) -> None:
    item, _ = rendered(tmp_path, "  packages: [lighttpd]\n")
    assert item is not None
    binds = {b.source for b in item.contents.binds}
    assert {"/usr/lib/lighttpd", "/usr/share/lighttpd", "/usr/sbin/lighttpd", "/etc/lighttpd/lighttpd.conf"} <= binds
    assert "/usr/sbin" not in binds  # shared with nginx's package
    assert not any(b.startswith(("/usr/share/doc", "/etc/init.d", "/var")) for b in binds)
    assert "/etc/lighttpd/server.key" not in binds  # not readable by others: a package hands over no secret
    assert "/usr/lib/x86_64-linux-gnu/libssl.so.3" in binds  # mod_openssl.so's library, by its ELF header
    assert "/var/lib/dpkg/info/lighttpd.list" in item.fingerprints  # an upgrade renders the jail again


def test_a_declared_file_replaces_the_packages_and_nothing_is_bound_over_a_declared_path(tmp_path: Path) -> None:
    item, _ = rendered(tmp_path, "  packages: [lighttpd]\n  files: [{path: /etc/lighttpd/lighttpd.conf, "
                                 "content: x}]\n  dirs: [{path: /usr/share/lighttpd/extra}]\n")
    assert item is not None
    binds = {b.source for b in item.contents.binds}
    assert "/etc/lighttpd/lighttpd.conf" not in binds
    assert item.contents.entries["/etc/lighttpd/lighttpd.conf"].data == b"x"
    # A declared dir below the package's own: that directory is bound per file instead of whole.
    assert "/usr/share/lighttpd" not in binds and "/usr/share/lighttpd/create-mime.conf.pl" in binds


def test_a_directory_the_host_has_as_a_link_is_not_bound_for_it_would_bring_the_whole_target(tmp_path: Path) -> None:
    """dpkg lists /lib for a package that ships /lib/systemd/...; on a merged-/usr host /lib is a link to
    usr/lib. Bound, it brought the host's whole /usr/lib into the jail, and the next apply of the jail
    made /lib a mount point file that bubblewrap could not bind the libraries below ("Can't mkdir /lib")."""
    item, problems = rendered(tmp_path, "  packages: [lighttpd]\n")
    assert problems == [] and item is not None
    assert "/lib" not in {b.source for b in item.contents.binds}
    assert item.contents.entries["/lib"].kind == "dir"  # the libraries' parent, made in the tree
    assert not any(b.source.startswith("/lib/systemd") for b in item.contents.binds)


def test_headers_and_the_hooks_of_other_init_systems_and_resolvconf_are_left_out(tmp_path: Path) -> None:
    binds = set()
    for package, program in (("memcached", "/usr/bin/memcached"), ("tftpd-hpa", "/usr/sbin/in.tftpd"),
                             ("unbound", "/usr/sbin/unbound")):
        item, problems = rendered(tmp_path, f"  packages: [{package}]\n", exec_=program)
        assert problems == [] and item is not None
        binds |= {b.source for b in item.contents.binds}
        assert program in binds
    assert "/usr/share/memcached" in binds and "/etc/unbound/unbound.conf" in binds
    for left_out in ("/usr/include", "/etc/init/", "/etc/insserv.conf.d", "/etc/resolvconf", "/usr/lib/resolvconf"):
        assert not any(b.startswith(left_out) for b in binds), left_out


def test_a_link_to_a_directory_is_left_out_not_bound_onto_a_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A package's link to a directory would be bound onto an empty-file mount point, and the start fail."""
    from tests import fakehost

    monkeypatch.setattr(fakehost.FakePackages, "resolve",
                        lambda self, p: "/usr/lib/lighttpd" if p == "/usr/sbin/lighttpd-angel" else p)
    item, problems = rendered(tmp_path, "  packages: [lighttpd]\n")
    assert problems == [] and item is not None
    assert "/usr/sbin/lighttpd-angel" not in {b.source for b in item.contents.binds}
