"""credentials: against a real systemd, 252 (Debian 12) and 257 (Debian 13), under the launcher (with and
without a user namespace) and on systemd's directives alone.

Each jail's program is a shell that prints $CREDENTIALS_DIRECTORY and the two secrets it reads there (a
plain file and a `systemd-creds encrypt`ed one) to the journal, then becomes attack.c (static) and waits.
The secrets must be nowhere else jailmgr writes or prints: the trees on disk, the records, `plan` (text
and JSON), apply's output with a unit diff.  From inside, another uid of the jail and the jail's root
(no capabilities) can't read them; root of another jail reaches neither the host's source nor this
jail's copy; bubblewrap's monitor, on the host, keeps no copy (the init empties the memfd).  A rewritten
secret is planned as a change and apply restarts the jail, whose program then reads the new one.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.test_ansible import ansible  # noqa: F401  (the fixture: the collection installed)
from tests.integration.test_boundary import ATTACK, ATTACK_SRC, journal
from tests.testbed import Testbed

DIR = "/etc/jailmgr/secrets"
PLAIN, ENCRYPTED = f"{DIR}/cr-pass", f"{DIR}/cr-enc.cred"
# name -> (user, namespaces): launcher, launcher with a user namespace, systemd's directives
SHAPES = {"cr-l": ("proxy", ""), "cr-u": ("list", "namespaces: {user: true}\n"),
          "cr-n": ("backup", "namespaces: {pid: false, uts: false, cgroup: false}\n")}
ROOT_JAIL = "cr-r"  # the adversary: root of a launched jail with no credentials of its own
SHELL = 'echo "dir=$CREDENTIALS_DIRECTORY"; /bin/cat "$CREDENTIALS_DIRECTORY/pass" "$CREDENTIALS_DIRECTORY/enc"; ' \
        'echo; exec /attack serve'


@dataclass
class Creds:
    bed: Testbed
    suite: str
    plain: str
    encrypted: str
    files: list[str]


def cdir(name: str) -> str:
    return f"/run/credentials/jail-{name}.service"


def jail_text(name: str, description: str = "credentials") -> str:
    user, namespaces = SHAPES[name]
    return (f"name: {name}\ndescription: {description}\nexec: [/bin/sh, -c, '{SHELL}']\nuser: {user}\n"
            f"{namespaces}tree:\n  binaries: [/bin/sh, /bin/cat]\n"
            f"  files: [{{path: /attack, from: {ATTACK}, mode: \"0755\"}}]\n  users: [{user}, irc]\n"
            f"credentials:\n  - {{name: pass, from: {PLAIN}}}\n  - {{name: enc, from: {ENCRYPTED}, encrypted: true}}\n")


def root_jail_text() -> str:
    return (f"name: {ROOT_JAIL}\nexec: [/attack, serve]\n"
            f"tree:\n  files: [{{path: /attack, from: {ATTACK}, mode: \"0755\"}}]\n")


def write_plain(bed: Testbed, text: str) -> None:
    bed.run(["sh", "-c", f"umask 077 && mkdir -p {DIR} && printf %s '{text}' > {PLAIN}.new && mv {PLAIN}.new {PLAIN}"])


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def creds(request: pytest.FixtureRequest) -> Iterator[Creds]:
    bed: Testbed = request.getfixturevalue("bed" if request.param == "bookworm" else "trixie")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bed.path(ATTACK)), str(ATTACK_SRC)], check=True)
    plain, encrypted = f"cr-plain-{secrets.token_hex(8)}", f"cr-enc-{secrets.token_hex(8)}"
    write_plain(bed, plain)
    # (the host's credential key is made on first use: /var/lib/systemd/credential.secret)
    bed.run(["systemd-creds", "encrypt", "--name=enc", "-", ENCRYPTED], input=encrypted)
    files = []
    for name in [*SHAPES, ROOT_JAIL]:
        files.append(f"/srv/{name}.yaml")
        bed.path(files[-1]).write_text(jail_text(name) if name in SHAPES else root_jail_text())
    try:
        proc = bed.run(["jailmgr", "apply", *files], check=False, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for name in SHAPES:
            assert "serving" in journal(bed, name, "serving"), name
        yield Creds(bed, request.param, plain, encrypted, files)
    finally:
        bed.run(["jailmgr", "destroy", *SHAPES, ROOT_JAIL], check=False, timeout=120)
        bed.run(["rm", "-rf", DIR, *files], check=False)


def attack(creds: Creds, name: str, *actions: str, user: str | None = None) -> str:
    argv = ["jailmgr", "exec", *(["--user", user] if user else []), name, "--", "/attack", *actions]
    proc = creds.bed.run(argv, check=False, timeout=60)
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("name", SHAPES)
def test_the_program_reads_both_secrets_at_its_credentials_directory(creds: Creds, name: str) -> None:
    text = journal(creds.bed, name, creds.encrypted)
    assert f"dir={cdir(name)}" in text
    assert creds.plain + creds.encrypted in text  # (cat prints both, one after the other)
    unit = creds.bed.path(f"/etc/systemd/system/jail-{name}.service").read_text()
    assert f"LoadCredential=pass:{PLAIN}" in unit and f"LoadCredentialEncrypted=enc:{ENCRYPTED}" in unit


# Reads a POSIX access ACL (system.posix_acl_access: version 2, then tag, perm, id per entry) as
# "TAG:ID:PERM" words: systemd 257 hands credentials to User= by an ACL entry, not by ownership.
ACL = """
import os, struct, sys
for path in sys.argv[1:]:
    try:
        raw = os.getxattr(path, "system.posix_acl_access")
    except OSError:
        print(path, "-"); continue
    tags = {1: "user_obj", 2: "user", 4: "group_obj", 8: "group", 16: "mask", 32: "other"}
    words = [f"{tags[t]}:{i if t in (2, 8) else ''}:{p}" for t, p, i in struct.iter_unpack("<HHI", raw[4:])]
    print(path, " ".join(words))
"""


@pytest.mark.parametrize("name", SHAPES)
def test_they_are_the_program_user_s_alone(creds: Creds, name: str) -> None:
    """As the running jail has them, seen from the host through the program's /proc/PID/root.

    The launcher's, on both versions, and systemd 252's own: the directory 0500 and each file 0400, owned
    by the program's user (the launcher's: and its group; systemd 252's: group root).  systemd 257's own
    (native): root's, 0550 and 0440, with an ACL entry that lets User= read; group root (no process of a
    native jail is root: spec refuses it) and no one else."""
    from tests.integration.test_daemons import program_root

    root = program_root(creds.bed, name)
    paths = [f"{root}{cdir(name)}", f"{root}{cdir(name)}/pass", f"{root}{cdir(name)}/enc"]
    out = creds.bed.run(["stat", "-c", "%a %U %G %F", *paths]).stdout.splitlines()
    user = SHAPES[name][0] if name != "cr-u" else "UNKNOWN"  # (a user namespace's uid has no name on the host)
    if name == "cr-n" and creds.suite == "trixie":
        assert out == ["550 root root directory", "440 root root regular file", "440 root root regular file"], out
        uid = creds.bed.run(["id", "-u", user]).stdout.strip()
        acls = creds.bed.run(["python3", "-c", ACL, *paths]).stdout.splitlines()
        for line in acls:
            words = line.split()[1:]
            readers = {w.rsplit(":", 1)[0] for w in words if int(w.rsplit(":", 1)[1]) & 4}
            assert f"user:{uid}" in readers and readers <= {"user_obj:", f"user:{uid}", "group_obj:", "mask:"}, acls
        return
    group = {"cr-l": "proxy", "cr-u": "UNKNOWN", "cr-n": "root"}[name]  # (252's own: root's group, mode 0400)
    assert out == [f"500 {user} {group} directory", *[f"400 {user} {group} regular file"] * 2], out


@pytest.mark.parametrize("name", SHAPES)
def test_another_uid_of_the_jail_and_its_root_can_t_read_them(creds: Creds, name: str) -> None:
    # the program's own uid can (exec runs as it by default, with its $CREDENTIALS_DIRECTORY)
    assert f'read "{creds.plain}"' in attack(creds, name, f"cat={cdir(name)}/pass")
    own = creds.bed.run(["jailmgr", "exec", name, "--", "/bin/sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/enc"'])
    assert own.stdout == creds.encrypted
    for user in ("irc", *(["root"] if name != "cr-n" else [])):
        out = attack(creds, name, f"cat={cdir(name)}/pass", f"cat={cdir(name)}/enc", user=user)
        assert "refused (Permission denied)" in out and creds.plain not in out and creds.encrypted not in out, out


def test_root_of_another_jail_reaches_neither_the_source_nor_their_copies(creds: Creds) -> None:
    out = attack(creds, ROOT_JAIL, f"cat={PLAIN}", f"cat={ENCRYPTED}", *(f"cat={cdir(n)}/pass" for n in SHAPES),
                 f"cat={cdir(ROOT_JAIL)}/../{cdir('cr-l').rsplit('/', 1)[1]}/pass", "cat=/proc/1/environ")
    assert creds.plain not in out and creds.encrypted not in out, out
    assert out.count(": refused (") == 2 + len(SHAPES) + 2 and ": read " not in out, out


def test_the_secrets_are_in_no_tree_record_or_plan(creds: Creds) -> None:
    bed = creds.bed
    for name in [*SHAPES, ROOT_JAIL]:
        tree = bed.run(["grep", "-rlF", "-e", creds.plain, "-e", creds.encrypted,
                        f"/var/lib/jailmgr/jails/{name}/root"], check=False)
        assert tree.returncode == 1 and tree.stdout == "", tree.stdout  # 1: nothing found
        record = bed.path(f"/var/lib/jailmgr/state/{name}.json").read_text()
        assert creds.plain not in record and creds.encrypted not in record
        # what the record keeps of a secret: its source's stat identity
        assert name == ROOT_JAIL or PLAIN in json.loads(record)["inputs"]
    for argv in (["jailmgr", "plan", *creds.files], ["jailmgr", "--json", "plan", *creds.files]):
        out = bed.run(argv, check=False)
        assert creds.plain not in out.stdout + out.stderr and creds.encrypted not in out.stdout + out.stderr


def test_no_copy_is_left_on_the_host_side(creds: Creds) -> None:
    """No process of the host holds a non-empty copy: the supervisor closes its memfd once bubblewrap runs,
    and the init empties it (whoever else still holds the descriptor then holds nothing)."""
    out = creds.bed.run(["sh", "-c", "for f in /proc/[0-9]*/fd/*; do case $(readlink $f) in "
                         "*jailmgr-credentials*) echo \"$f $(stat -L -c %s $f)\";; esac; done"]).stdout
    held = [line.split() for line in out.splitlines()]
    assert all(size == "0" for _, size in held), out


def test_a_rewritten_secret_restarts_the_jail_which_reads_the_new_one(creds: Creds) -> None:
    bed = creds.bed
    newer = f"cr-plain-{secrets.token_hex(8)}"
    write_plain(bed, newer)
    try:
        planned = bed.run(["jailmgr", "plan", *creds.files])
        assert newer not in planned.stdout + planned.stderr
        assert planned.stdout.count("credential pass") == len(SHAPES), planned.stdout
        # the jail files change too: plan shows the units' diff, which names the file, never the secret
        for name in SHAPES:
            bed.path(f"/srv/{name}.yaml").write_text(jail_text(name, "credentials, rotated"))
        planned = bed.run(["jailmgr", "plan", *creds.files])
        assert planned.stdout.count("+Description=jail cr-") == len(SHAPES), planned.stdout
        assert newer not in planned.stdout + planned.stderr and creds.encrypted not in planned.stdout
        applied = bed.run(["jailmgr", "-v", "apply", *creds.files], timeout=180)
        assert applied.stdout.count("restarting") == len(SHAPES), applied.stdout
        assert newer not in applied.stdout + applied.stderr and creds.encrypted not in applied.stdout + applied.stderr
        for name in SHAPES:
            assert newer + creds.encrypted in journal(bed, name, newer + creds.encrypted), name
        again = bed.run(["jailmgr", "apply", "--detailed-exitcode", *creds.files], check=False, timeout=120)
        assert again.returncode == 0, again.stdout
    finally:
        creds.plain = newer


# --- the Ansible module's diff ------------------------------------------------------------------------------

ANSIBLE_SECRET = f"{DIR}/cr-ansible"
PLAY = f"""\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - jailmgr.jailmgr.jail:
        name: cr-a
        definition:
          exec: [/attack, serve]
          tree: {{files: [{{path: /attack, from: {ATTACK}, mode: "0755"}}]}}
          credentials: [{{name: pass, from: {ANSIBLE_SECRET}}}]
      register: result
    - ansible.builtin.copy:
        content: "{{{{ result | to_json }}}}"
        dest: /srv/play/result.json
      check_mode: false
      changed_when: false
"""


def test_the_ansible_module_s_diff_holds_no_secret(ansible: Testbed) -> None:  # noqa: F811 (the fixture)
    from tests.integration.test_ansible import playbook

    subprocess.run(["gcc", "-static", "-O2", "-o", str(ansible.path(ATTACK)), str(ATTACK_SRC)], check=True)
    first, second = f"cr-ansible-{secrets.token_hex(8)}", f"cr-ansible-{secrets.token_hex(8)}"
    ansible.run(["sh", "-c", f"umask 077 && mkdir -p {DIR} && printf %s {first} > {ANSIBLE_SECRET}"])
    ansible.path("/srv/play/cred.yml").write_text(PLAY)
    try:
        doc = playbook(ansible, "cred.yml", "--diff")
        assert doc["rc"] == 0 and doc["stats"]["changed"] == 1, doc
        seen = doc["output"] + json.dumps(doc["result"])
        assert f"LoadCredential=pass:{ANSIBLE_SECRET}" in seen and first not in seen
        ansible.run(["sh", "-c", f"umask 077 && printf %s {second} > {ANSIBLE_SECRET}.new && mv {ANSIBLE_SECRET}.new "
                                 f"{ANSIBLE_SECRET}"])
        doc = playbook(ansible, "cred.yml", "--check", "--diff")
        assert doc["rc"] == 0 and doc["stats"]["changed"] == 1, doc  # the new secret means a restart
        assert any("credential pass" in line for line in doc["result"]["plan"]), doc["result"]["plan"]
        seen = doc["output"] + json.dumps(doc["result"])
        assert first not in seen and second not in seen
    finally:
        ansible.run(["jailmgr", "destroy", "cr-a"], check=False)
        ansible.run(["rm", "-f", ANSIBLE_SECRET, "/etc/jailmgr/jails.d/cr-a.yaml"], check=False)


# --- the init's own checks, with bubblewrap set up by hand ---------------------------------------------------

INIT = "/usr/lib/jailmgr/jailmgr-init"
CAPS = [w for c in ("SETPCAP", "SETUID", "SETGID", "CHOWN") for w in ("--cap-add", f"CAP_{c}")]
VARIANTS = {
    "its-fresh-tmpfs": (["--perms", "0700", "--size", "65536", "--tmpfs", "/run/credentials/t"], "/run/credentials/t"),
    "a-directory-of-run": (["--perms", "0700", "--dir", "/run/credentials/t"], "/run/credentials/t"),
    "a-tmpfs-others-may-enter": (["--perms", "0755", "--tmpfs", "/run/credentials/t"], "/run/credentials/t"),
    "a-symlink-to-a-tmpfs": (["--perms", "0700", "--tmpfs", "/run/else", "--symlink", "/run/else",
                              "/run/credentials/t"], "/run/credentials/t"),
    "a-symlink-above-it": (["--perms", "0700", "--tmpfs", "/run/else/t", "--symlink", "/run/else", "/run/c2"],
                           "/run/c2/t"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_init_fills_nothing_but_its_fresh_tmpfs(creds: Creds, variant: str) -> None:
    """What bubblewrap made at the credentials' path must be a tmpfs mount of its own, root's and 0700,
    reached without a symlink: otherwise the init refuses before it writes a byte, and the program never
    runs."""
    secret = f"cr-init-{secrets.token_hex(8)}"
    creds.bed.run(["sh", "-c", f"umask 077 && mkdir -p /srv/cr-src && printf %s {secret} > /srv/cr-src/pass"])
    mounts, target = VARIANTS[variant]
    argv = ["env", "CREDENTIALS_DIRECTORY=/srv/cr-src", INIT, "supervise", "--stop-signal", "15", "--credentials",
            "--", "/usr/bin/bwrap", "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "--tmpfs", "/run",
            "--perms", "0755", "--dir", "/run/host", "--ro-bind", INIT, "/run/host/jailmgr-init",
            "--perms", "0755", "--dir", "/run/credentials", *mounts,
            "--cap-drop", "ALL", *CAPS,
            "--as-pid-1", "--", "/run/host/jailmgr-init", "init", "--uid", "65534", "--gid", "65534",
            "--groups", "65534", "--caps", "0", "--workdir", "/", "--credentials", target,
            "--", "/bin/sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/pass"; ls -ln "$CREDENTIALS_DIRECTORY"']
    try:
        proc = creds.bed.run(argv, check=False, timeout=30)
    finally:
        creds.bed.run(["rm", "-rf", "/srv/cr-src"])
    if variant == "its-fresh-tmpfs":
        assert proc.returncode == 0 and proc.stdout.startswith(secret), proc.stdout + proc.stderr
        assert " 65534 65534 " in proc.stdout  # the program's, 0400
        return
    assert proc.returncode == 1 and secret not in proc.stdout, proc.stdout + proc.stderr
    assert ("not the launcher's fresh tmpfs" in proc.stderr or "no symlink may lead there" in proc.stderr), proc.stderr
