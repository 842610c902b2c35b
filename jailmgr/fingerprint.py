"""Cheap fingerprints: has anything a jail was built from, or anything apply built, changed since?

A no-op apply of hundreds of jails must not render templates, read ELF
headers or compare file contents.  So each record keeps, next to what was
built:
- `inputs`: every host file the rendering read (the jail file, templates and
  the places a template could have been found, `from:` files, binaries and
  libraries, /etc/passwd and /etc/group, the loader's cache, the rootfs
  tarball, the launcher's tools, and jailmgr's own code), each by
  device, inode, size, mtime and ctime, "-" for a path that was absent;
- `built`: the tree's entries as apply left them, by lstat (for files the
  inode, size and times too: any write, chmod or rename changes one of them).
They are taken right after apply wrote the tree, before the jail (re)starts:
a file the jail rewrites at its start then shows as changed, and the files
the jail can write at all (declared below a writable dir) are hashed too.
A jail whose inputs, unit file and tree all match, and whose unit is in the
state its file asks for, is skipped without being rendered.
"""

from __future__ import annotations

import os
import stat

from .digest import file_sha256, sha256, text_sha256  # noqa: F401  (fingerprint.file_sha256 and text_sha256 stay)
from .safefs import Tree, TreeError

ABSENT = "-"
CODE = "<jailmgr>"  # the inputs key of jailmgr's own code: a new version renders everything again


def key(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return ABSENT
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


_CODE_KEY: list[str] = []


def code_key() -> str:
    """jailmgr's version and the fingerprints of its modules, computed once per run."""
    if not _CODE_KEY:
        from . import __version__

        here = os.path.dirname(os.path.abspath(__file__))
        parts = [__version__] + [f"{name}={key(os.path.join(here, name))}"
                                 for name in sorted(os.listdir(here)) if name.endswith(".py")]
        _CODE_KEY.append(sha256("\n".join(parts).encode()))
    return _CODE_KEY[0]


def inputs(paths: set[str]) -> dict[str, str]:
    return {CODE: code_key(), **{path: key(path) for path in sorted(paths)}}


def changed_inputs(recorded: dict[str, str], seen: dict[str, str] | None = None) -> list[str]:
    """The inputs that are not as recorded (all of them when nothing was recorded).  `seen`: the keys already
    taken in this run, kept across many jails (`status` of a fleet whose jails share their libraries)."""
    if not recorded:
        return ["(no fingerprints recorded)"]
    if seen is None:
        seen = {}
    changed = []
    for path, was in recorded.items():
        now = seen.get(path)
        if now is None:
            now = seen[path] = code_key() if path == CODE else key(path)
        if now != was:
            changed.append(path)
    return changed


def entry_key(st: os.stat_result | None, writable: bool = False) -> str:
    if st is None:
        return ABSENT
    owner = f"{stat.S_IFMT(st.st_mode):o}:{stat.S_IMODE(st.st_mode):o}:{st.st_uid}:{st.st_gid}"
    if stat.S_ISDIR(st.st_mode):
        return f"{owner}:{st.st_ino}" if writable else owner  # what the jail writes inside changes the times
    return f"{owner}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def built(root: str, paths: dict[str, bool]) -> dict[str, str]:
    """The fingerprints of the tree's entries (path -> is a writable dir), read without following links."""
    try:
        with Tree(root, create=False) as tree:
            found = tree.lstat_many(paths)
            return {path: entry_key(found[path], writable) for path, writable in paths.items()}
    except TreeError:
        return {}


def changed_entries(root: str, recorded: dict[str, str], writable: set[str],
                    digests: dict[str, str] | None = None) -> list[str]:
    """The tree paths not as recorded; `digests` (path -> sha256 as declared) are the files the jail can
    write (below a writable dir): their contents are compared too when their fingerprint matches, since a
    rewrite within one tick of the clock that times it leaves size, mtime and ctime as they were."""
    if not recorded:
        return ["(no fingerprints recorded)"]
    now = built(root, {path: path in writable for path in recorded})
    changed = [path for path, was in recorded.items() if now.get(path) != was]
    touched = sorted(p for p in set(digests or {}) - set(changed) if p in recorded)
    return changed + _not_holding(root, {p: (digests or {})[p] for p in touched})


def _not_holding(root: str, digests: dict[str, str]) -> list[str]:
    """The tree's files (read without following links) whose sha256 is not the one given."""
    if not digests:
        return []
    try:
        with Tree(root, create=False) as tree:
            return [path for path, digest in digests.items() if tree.digest(path) != digest]
    except (TreeError, OSError):
        return sorted(digests)
