"""credentials: secrets systemd reads from host files at each start, which the program finds at
$CREDENTIALS_DIRECTORY (/run/credentials/jail-NAME.service in the jail, as systemd has it).

Nothing of a secret passes through jailmgr: the unit names the host file (LoadCredential=, or
LoadCredentialEncrypted= for `systemd-creds encrypt`'s output) and systemd reads it as the service starts.
So the secret is in no tree, record, plan or diff; a record keeps only the file's stat identity
(fingerprint.py: device, inode, size, times) among the jail's inputs, and a changed identity restarts the
jail (`changed`), so the program reads the new secret.

- Without the launcher, systemd's own directives do all: with RootDirectory= and User= it mounts its
  credentials directory into the root, the files owned by User= and mode 0400, the directory 0500.
- Under the launcher the unit's main process is the supervisor on the host (root): systemd's directory is
  root's, outside the jail.  The supervisor reads it (`supervise --credentials`, a path systemd gave it,
  never one of the jail's) into a memfd; bubblewrap makes a fresh tmpfs of mode 0700 at the same path
  inside the jail; the init, root of the jail and before anything of the jail runs, opens that tmpfs
  (walked from / with O_NOFOLLOW, checked to be a tmpfs it owns), writes each secret there with O_EXCL,
  hands files and directory to the program's uid (0400, 0500) and only then drops its privileges
  (`init --credentials DIR`).  Under `namespaces.user: true` root of the jail is an unprivileged host uid
  that could not read systemd's root-owned files: the memfd carries the bytes across.
"""

from __future__ import annotations

import stat

from .host import Disk
from .model import CREDENTIALS_DIR, Credential, Jail
from .unitsyntax import path, specifiers

# The launcher's tmpfs: systemd caps all of a unit's credentials at 1 MiB together; each file takes a page more.
TMPFS_BASE = 2 << 20
PAGE = 4096


def directory(jail: Jail) -> str:
    """$CREDENTIALS_DIRECTORY, inside the jail and (for the launcher's supervisor) on the host alike."""
    return f"{CREDENTIALS_DIR}/{jail.unit_name}"


def environment(jail: Jail) -> dict[str, str]:
    """What the program finds in its environment (systemd, or the init, sets it): `exec` gives it too."""
    return {"CREDENTIALS_DIRECTORY": directory(jail)} if jail.credentials else {}


def unit_lines(jail: Jail) -> list[str]:
    """LoadCredential=NAME:PATH for each credential: systemd reads the host file at each start."""
    lines = []
    for cred in jail.credentials:
        key = "LoadCredentialEncrypted" if cred.encrypted else "LoadCredential"
        lines.append(f"{key}={specifiers(cred.name)}:{path(cred.from_)}")
    return lines


def bwrap_args(jail: Jail) -> list[str]:
    """A fresh tmpfs of root's, mode 0700, at $CREDENTIALS_DIRECTORY: the init fills it before the drop."""
    if not jail.credentials:
        return []
    size = TMPFS_BASE + PAGE * len(jail.credentials)
    # (its parent made 0755 on purpose: bwrap would make it with the tmpfs's 0700)
    return ["--perms", "0755", "--dir", CREDENTIALS_DIR,
            "--perms", "0700", "--size", str(size), "--tmpfs", directory(jail)]


def init_args(jail: Jail) -> list[str]:
    return ["--credentials", directory(jail)] if jail.credentials else []


def supervisor_args(jail: Jail) -> list[str]:
    return ["--credentials"] if jail.credentials else []


def readable_by_templates(jail: Jail, template_dirs: list[str]) -> list[tuple[str, str]]:
    """(key, message) for a credential whose file lies where templates are looked up: an `{% include %}`
    could put the secret in the tree.  (Templates are given nothing of the credentials.)"""
    found = []
    for i, cred in enumerate(jail.credentials):
        for top in template_dirs:
            top = top.rstrip("/")
            if top and cred.from_.startswith(top + "/"):
                found.append((f"credentials[{i}].from", f"{cred.from_} lies in {top}, where templates are "
                              "looked up: a template could include it into the tree; keep secrets elsewhere "
                              "(e.g. /etc/jailmgr/secrets)"))
                break
    return found


def sources(jail: Jail) -> set[str]:
    """The host files read at each start: inputs whose stat identity the record keeps."""
    return {cred.from_ for cred in jail.credentials}


def changed(jail: Jail, recorded_inputs: dict[str, str], current: dict[str, str]) -> list[str]:
    """The credentials whose host file is not the one the running jail read (by stat identity: a rewrite
    changes its mtime and ctime, a replacement its inode).  Nothing of the content is compared or kept:
    a hash of a short secret could be brute-forced from the record."""
    if not recorded_inputs:
        return []
    return [cred.name for cred in jail.credentials
            if recorded_inputs.get(cred.from_) != current.get(cred.from_)]


def host_problems(jail: Jail, disk: Disk) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(key, message, hint) for each credential's host file that systemd would fail on (absent, not a
    file) or that others of the host can read or change; and notes on what this user can't look at.

    An encrypted one may be readable: without the host's credential key (or the TPM) it is noise."""
    found: list[tuple[str, str, str]] = []
    notes: list[str] = []
    for i, cred in enumerate(jail.credentials):
        key = f"credentials[{i}].from"
        try:
            node = disk.lstat(cred.from_)
        except PermissionError:
            notes.append(f"{key} {cred.from_}: whether it is there can't be seen without root")
            continue
        if node is None:
            found.append((key, f"{cred.from_} does not exist on this host: the start would fail", _make(cred)))
        elif node.is_link:
            found.append((key, f"{cred.from_} is a symlink", "name the file itself"))
        elif not stat.S_ISREG(node.mode):
            found.append((key, f"{cred.from_} is not a regular file", _make(cred)))
        elif not cred.encrypted and (node.uid != 0 or node.mode & 0o066):
            who = f"its owner (uid {node.uid})" if node.uid != 0 else "other users of the host"
            found.append((key, f"{cred.from_} (mode {stat.S_IMODE(node.mode):04o}) can be read or changed by "
                          f"{who}; a secret must be root's alone",
                          f"chown root:root {cred.from_} && chmod 0600 {cred.from_}; or encrypt it with "
                          f"`systemd-creds encrypt --name={cred.name} {cred.from_} {cred.from_}.cred` and name "
                          "that with `encrypted: true`"))
    return found, notes


def _make(cred: Credential) -> str:
    if cred.encrypted:
        return (f"make it with `systemd-creds encrypt --name={cred.name} PLAINFILE {cred.from_}` "
                "(then remove PLAINFILE)")
    return f"put the secret there, root's and 0600: install -m 0600 -o root -g root /dev/stdin {cred.from_}"
