"""What a failed start most likely needs, read from the journal lines it left.

The lines are text the jail wrote: they are only matched here. A hint is
jailmgr's own sentence; the one piece of it taken from a line (a path) is
cut short and shown as the line itself is (terminal-safe where printed).
Each rule names the cause users met writing their first jails: a file the
program opens that the tree lacks, a module it loads itself, a socket family
the filter refuses, a bind source bubblewrap can't reach, a port in use.
"""

from __future__ import annotations

import re
from typing import NamedTuple


def _path(name: str = "path") -> str:
    return rf"(?P<{name}>/[^\s:'\"`,;()]{{1,200}})"


PATH = _path()
LINE_LIMIT = 4096  # of each line the jail wrote, matched: the rules' work stays linear in what it writes
class Rule(NamedTuple):
    pattern: re.Pattern[str]
    hint: str
    # Advice to change the host: given only for a path that is one of the jail's own bind sources (a jail
    # could print such a line about any host path, to have the operator open it up).
    host_advice: bool = False


RULES = (
    Rule(re.compile(rf"dlopen\(\) failed for:? {PATH}|{_path('path2')}: cannot open shared object file"),
     "the program loads {path} itself: name its Debian package in tree.packages, or add the file to "
     "tree.binaries"),
    Rule(re.compile(rf"bwrap: Can't find source path {PATH}: Permission denied"),
     "bubblewrap (root without CAP_DAC_OVERRIDE) can't search a parent directory of {path}: give that "
     "directory search permission for others (chmod o+x), or bind a directory it can reach", host_advice=True),
    Rule(re.compile(rf"bwrap: Can't find source path {PATH}: No such file or directory"),
     "{path} does not exist on the host: make it, or set `create: true` on its mount", host_advice=True),
    Rule(re.compile(r"Address family not supported by protocol|EAFNOSUPPORT"),
     "the program opened a socket of a family security.address_families leaves out (IPv6 is AF_INET6; "
     "getifaddrs() and routing need AF_NETLINK)"),
    Rule(re.compile(r"Address already in use|EADDRINUSE"),
     "another process already listens on the program's port: `ss -ltnp` names it"),
    Rule(re.compile(rf"{PATH}['\"]?: No such file or directory|No such file or directory[^/]{{0,200}}{_path('path2')}"),
     "{path} is not in the jail's tree: add it (tree.files, tree.dirs, tree.packages or a mount)"),
    Rule(re.compile(r"status=71/OSERR|code=exited, status=71"),
     "exit status 71 (EX_OSERR) with nothing said: a daemon that logs only to syslog does that when the jail "
     "has no /dev/log"),
)



def hints(lines: list[str], sources: frozenset[str] = frozenset()) -> list[str]:
    """A hint for each rule that is the first to match some line (a line says one thing), in the rules' order,
    one per rule."""
    found: dict[int, str] = {}
    for line in (text[:LINE_LIMIT] for text in lines):  # (the rules look at the start of what the jail wrote)
        for index, rule in enumerate(RULES):
            match = rule.pattern.search(line)
            if match:
                path = next((v for k, v in match.groupdict().items() if k.startswith("path") and v), "")
                if rule.host_advice and path not in sources:
                    break  # (a line about a host path the jail file never named: said, not advised on)
                found.setdefault(index, rule.hint.format(path=path))
                break
    return [found[index] for index in sorted(found)]
