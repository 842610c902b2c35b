"""What the tree holds beyond the files named: the PAM stack of tree.pam, the /run entries the launcher binds."""

from jailmgr import launcher, manifest, spec


def test_the_pam_stack_requires_every_module_for_auth_and_account() -> None:
    text = manifest.pam_stack(("unix", "shells")).decode()
    lines = [line.split() for line in text.splitlines() if not line.startswith("#")]
    assert ["auth", "required", "pam_unix.so"] in lines and ["auth", "required", "pam_shells.so"] in lines
    assert ["account", "required", "pam_unix.so"] in lines
    assert ["session", "optional", "pam_unix.so"] in lines and ["password", "optional", "pam_unix.so"] in lines
    assert len(lines) == 8


JAIL = """\
name: r
exec: [/x]
tree:
  files:
    - {path: /x, content: z, mode: "0755"}
    - {path: /run/f, content: x}
    - {path: /run/a/g, content: y}
  dirs:
    - {path: /run/a}
    - {path: /run/a/b}
    - {path: /run/w, writable: true}
    - {path: /srv}
"""


def test_only_the_topmost_entries_under_run_are_bound_over_the_tmpfs() -> None:
    jail, problems = spec.parse_text(JAIL, "r.yaml")
    assert jail is not None, problems
    assert launcher._under_run(jail) == ["/run/a", "/run/f"]
