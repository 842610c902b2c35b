"""What a jail's tree must contain: every directory, file and mount point, with its origin.

This step reads the jail's inputs (templates, files named by ``from``, a
rootfs archive, copied libraries) and takes the rest of what it knows of the
machine from the Host it is given (users, the libraries each binary needs);
it writes nothing.  ``render`` prints its result; ``apply`` builds
exactly that, so the two can't disagree.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import field
from enum import StrEnum

from . import elf
from .digest import sha256
from .host import SEARCH_PATH, Db, Host
from .model import ROOT_MARKER, Jail
from .problems import Problem
from .quickdata import dataclass
from .spec import Loaded

NSSWITCH = b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"


class EntryKind(StrEnum):
    DIR = "dir"
    FILE = "file"
    MOUNTPOINT = "mountpoint"  # an empty file a bind lands on


@dataclass(frozen=True)
class Entry:
    """One path in the tree."""

    path: str
    kind: EntryKind
    mode: int
    owner: str
    group: str
    origin: str
    data: bytes = b""
    writable: bool = False  # a tree.dirs entry the service may write (bound read-write)

    def record(self) -> dict[str, str | bool]:
        """What the jail's record keeps of this entry."""
        return {"kind": self.kind, "mode": f"{self.mode:04o}", "owner": self.owner, "group": self.group,
                "sha256": self.digest, "origin": self.origin, "writable": self.writable}

    @property
    def digest(self) -> str:
        return sha256(self.data) if self.kind == EntryKind.FILE else ""

    def describe(self) -> str:
        who = f"{self.owner}:{self.group}"
        return f"{self.kind:10} {self.mode:04o} {who:15} {self.path}  <- {self.origin}"


@dataclass(frozen=True)
class Bind:
    """A read-only bind of a host file (a library or binary) onto a mount point in the tree."""

    source: str
    target: str


@dataclass
class Contents:
    """The desired tree plus the host binds the unit must add."""

    entries: dict[str, Entry] = field(default_factory=dict)
    binds: list[Bind] = field(default_factory=list)
    host_dirs: list[tuple[str, str, str | None]] = field(default_factory=list)  # (path, owner, group)
    rootfs: str | None = None  # the tarball, as a host path
    rootfs_sha256: str = ""
    inputs: set[str] = field(default_factory=set)  # every host path the rendering read or looked for

    def add(self, entry: Entry) -> None:
        parent = posixpath.dirname(entry.path)
        if parent != "/" and parent not in self.entries:
            self.add(Entry(parent, EntryKind.DIR, 0o755, "root", "root", "parent directory"))
        self.entries[entry.path] = entry


def _host_users(jail: Jail, loaded: Loaded, host: Host, contents: Contents,
                problems: list[Problem]) -> tuple[bytes, bytes, bytes]:
    from .fields import close

    def did_you_mean(name: str, known: Db, what: str, make: str) -> str:
        """The host's closest name to a missing user or group (as spec.py's keys have), or how to make it."""
        near = close(name, sorted(known))
        return (f"did you mean {near[0]!r}? (a {what} of this host)" if near else
                f"create it first ({make} {name}), or name a {what} this host has")

    wanted = ["root", *[u for u in jail.tree.users if u != "root"]]
    passwd, groups = host.passwd, host.group
    contents.inputs |= {"/etc/passwd", "/etc/group"} | ({"/etc/shadow"} if jail.tree.shadow else set())
    out_pw, gids = [], set()
    missing = set()
    for user in wanted:
        if user not in passwd:
            missing.add(user)
            key = f"tree.users[{jail.tree.users.index(user)}]" if user in jail.tree.users else "tree.users"
            problems.append(loaded.problem(key, f"user {user!r} does not exist on this host",
                                           did_you_mean(user, passwd, "user", "adduser --system")))
            continue
        fields = list(passwd[user])
        fields[1] = "x"
        out_pw.append(":".join(fields))
        gids.add(fields[3])
    out_gr: list[str] = []
    for name, entry in groups.items():
        if entry[2] in gids or name in wanted:
            out_gr.append(":".join([entry[0], "x", entry[2], ""]))
    # Every group the jail file names must be in the group file written here: the unit's ids and the
    # tree's owners are read from it (a group it lacks was the launcher's KeyError, or root's group).
    have = {line.split(":")[0] for line in out_gr}
    named = [("group", jail.group)] if jail.group is not None else []
    named += [(f"tree.dirs[{i}].group", d.group) for i, d in enumerate(jail.tree.dirs)]
    named += [(f"tree.files[{i}].group", f.group) for i, f in enumerate(jail.tree.files)]
    for key, group in named:
        if group in have or group in missing:  # (a missing user is said once, where tree.users names it)
            continue
        own = passwd.get(group)
        primary = next((n for n, e in groups.items() if own is not None and e[2] == own[3]), None)
        hint = (f"the group of user {group} is {primary!r}" if primary else
                did_you_mean(group, groups, "group", "addgroup --system"))
        problems.append(loaded.problem(key, f"group {group!r} does not exist on this host", hint))
    shadow = b""
    if jail.tree.shadow:
        sh = host.shadow or {}
        if host.shadow is None:
            problems.append(loaded.problem("tree.shadow", f"cannot read /etc/shadow: {host.shadow_error}"))
        # Only the named users' hashes: root is in every jail's passwd, but the
        # host root's hash goes in only when tree.users names root; else locked.
        lines = [":".join(sh[u]) if u in jail.tree.users else f"{u}:*:::::::" for u in wanted if u in sh]
        shadow = "".join(line + "\n" for line in lines).encode()
    return ("\n".join(out_pw) + "\n").encode(), ("\n".join(out_gr) + "\n").encode(), shadow


def template_dirs(loaded: Loaded, host: Host) -> list[str]:
    here = os.path.dirname(os.path.abspath(loaded.source))
    return [here, os.path.join(os.path.dirname(here), "templates"), *host.template_dirs]


def _render_template(loaded: Loaded, index: int, host: Host, contents: Contents,
                     problems: list[Problem]) -> bytes | None:
    import jinja2  # only the paths that render a template pay for importing Jinja2
    import jinja2.sandbox

    class Loader(jinja2.FileSystemLoader):
        """Notes every place a template (or one it includes) was looked for: its inputs."""

        def get_source(self, environment: jinja2.Environment,
                       template: str) -> tuple[str, str, Callable[[], bool]]:
            contents.inputs.update(os.path.join(d, template) for d in self.searchpath)
            return super().get_source(environment, template)

    entry = loaded.jail.tree.files[index]
    key = f"tree.files[{index}].template"
    # Sandboxed: templates may come from many hands, and a plain Environment
    # lets `{{ ''.__class__.__mro__ ... }}` reach any Python object as root.
    env = jinja2.sandbox.SandboxedEnvironment(loader=Loader(template_dirs(loaded, host)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    variables = dict(entry.vars or {})
    variables.setdefault("jail", {"name": loaded.jail.name, "hostname": loaded.jail.uts_name})
    try:
        return env.get_template(entry.template or "").render(variables).encode()
    except jinja2.TemplateNotFound as exc:
        dirs = ", ".join(template_dirs(loaded, host))
        included = f" (included by {entry.template})" if exc.name != entry.template else ""
        problems.append(loaded.problem(key, f"template {exc.name!r}{included} not found in {dirs}"))
    except jinja2.UndefinedError as exc:
        import contextlib
        from collections.abc import Iterator
        from typing import Any

        import jinja2.meta
        from jinja2.utils import missing

        from .fields import close

        # Every variable the template and those it includes use without a value, not only the first:
        # rendered again with an Undefined that notes each use (what StrictUndefined fails on) and goes
        # on.  Only uses count: find_undeclared_variables alone would also name those given a
        # `| default(...)` or tested `is defined`, as most of the shipped templates' are.
        used: dict[str, None] = {}  # (ordered: as the template uses them)
        misses: dict[str, None] = {}  # an attribute or item of a value that has none (jail.nmae)

        class Noted(jinja2.ChainableUndefined):
            def _note(self) -> None:
                if self._undefined_obj is missing and self._undefined_name is not None:
                    used.setdefault(self._undefined_name)
                else:
                    misses.setdefault(self._undefined_message)

            def _go_on(self, *args: Any, **kwargs: Any) -> Noted:
                self._note()
                return self

            def __str__(self) -> str:
                self._note()
                return ""

            def __iter__(self) -> Iterator[Any]:
                self._note()
                return iter(())

            def __bool__(self) -> bool:
                self._note()
                return False

            def __len__(self) -> int:
                self._note()
                return 0

            def __eq__(self, other: object) -> bool:
                self._note()
                return False

            def __ne__(self, other: object) -> bool:
                self._note()
                return True

            __hash__ = jinja2.ChainableUndefined.__hash__

        # The rest of what StrictUndefined fails on (arithmetic, comparisons, a call) goes on too (int() and
        # float() of one end this rendering, with what it noted by then).
        for attr, value in vars(jinja2.Undefined).items():
            if value is jinja2.Undefined._fail_with_undefined_error and attr not in vars(Noted):
                setattr(Noted, attr, Noted._go_on)
        noting = jinja2.sandbox.SandboxedEnvironment(loader=env.loader, undefined=Noted, keep_trailing_newline=True,
                                                     autoescape=False)
        with contextlib.suppress(Exception):  # (only what it noted is wanted of this rendering)
            noting.get_template(entry.template or "").render(variables)
        # Which template uses each: the file named, or one it includes.
        owner: dict[str, str] = {}
        todo, seen = [entry.template or ""], set()
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            try:
                tree = env.parse(Loader(template_dirs(loaded, host)).get_source(env, name)[0])
            except jinja2.TemplateError:
                continue
            for var in jinja2.meta.find_undeclared_variables(tree):
                owner.setdefault(var, name)
            todo += [t for t in jinja2.meta.find_referenced_templates(tree) if t]
        names = [f"{n!r}" + (f" (in {owner[n]}, included)" if owner.get(n, entry.template) != entry.template else "")
                 for n in used]
        said = [f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} undefined"] if names else []
        said += list(misses)
        near = {n: close(n, [v for v in variables if v != "jail"]) for n in used}
        hint = (f"give {'it' if len(used) == 1 else 'them'} in tree.files[{index}].vars" if used else "")
        hint += "".join(f" ({n!r}: did you mean {c[0]!r}?)" for n, c in near.items() if c)
        problems.append(loaded.problem(f"tree.files[{index}].vars",
                                       f"{entry.template}: {'; '.join(said) or exc.message}", hint))
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)  # syntax errors carry a place, other template errors don't
        where = f"{getattr(exc, 'filename', None) or entry.template}:{lineno}: " if lineno else ""
        problems.append(loaded.problem(key, f"{where}{exc}"))
    return None


def _file_data(loaded: Loaded, index: int, host: Host, contents: Contents,
               problems: list[Problem]) -> tuple[bytes | None, str]:
    entry = loaded.jail.tree.files[index]
    if entry.template is not None:
        return _render_template(loaded, index, host, contents, problems), f"template {entry.template}"
    if entry.content is not None:
        return entry.content.encode(), "inline content"
    contents.inputs.add(entry.from_ or "")
    try:
        with open(entry.from_ or "", "rb") as f:
            return f.read(), f"host file {entry.from_}"
    except OSError as exc:
        problems.append(loaded.problem(f"tree.files[{index}].from", f"cannot read: {exc.strerror}"))
        return None, ""


def _libraries(loaded: Loaded, contents: Contents, host: Host, problems: list[Problem]) -> None:
    jail = loaded.jail
    copy = jail.tree.libraries == "copy"
    wanted = [(f"tree.binaries[{i}]", binary) for i, binary in enumerate(jail.tree.binaries)]
    if jail.tree.pam:
        wanted += _pam_modules(loaded, contents, host, problems)
    for key, binary in wanted:
        try:
            libs, missing = host.libraries.closure(binary)
        except FileNotFoundError:
            # Where the name is when it is elsewhere on PATH (/usr/bin/X for a wrong /usr/sbin/X), or the
            # closest name in its own directory or on PATH; the jail's exec names the same path when it runs it.
            name = os.path.basename(binary)
            also = " and in exec[0]" if jail.exec[:1] == (binary,) else ""
            found = host.programs.where(name)
            hint = f"{name} is {' and '.join(found)} on this host: name that here{also}" if found else ""
            if not found:
                import difflib  # (only when a binary is missing)

                for directory in (os.path.dirname(binary), *SEARCH_PATH):
                    # (closer than spec's keys need: program names are short, and many on PATH)
                    near = difflib.get_close_matches(name, host.programs.names(directory), 1, 0.8)
                    if near:
                        hint = f"did you mean {os.path.join(directory, near[0])!r}? (name it here{also})"
                        break
            problems.append(loaded.problem(key, f"{binary} does not exist on this host", hint or
                                           "install the package that brings it, or name the path it has here"))
            continue
        except elf.ElfError as exc:
            problems.append(loaded.problem(key, f"cannot read {binary}: {exc}", "tree.binaries names ELF programs; "
                                           "a script goes in tree.files (from:), its interpreter here"))
            continue
        except OSError as exc:
            problems.append(loaded.problem(key, f"cannot read {binary}: {exc.strerror or exc}"))
            continue
        if missing:
            problems.append(loaded.problem(key, f"{binary} needs {', '.join(missing)}, not found on this host",
                                           "install the packages that bring them (the loader would not start "
                                           "the program without them)"))
        contents.inputs.update([binary, *libs])
        for path in [binary, *libs]:
            if path in contents.entries:
                continue
            what = "binary" if path == binary else "library"
            if copy:
                # The host file's permission bits (set-id dropped): the ELF
                # interpreter, like the binary, must be executable to be loaded.
                try:
                    mode = os.stat(path).st_mode & 0o755
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError as exc:
                    problems.append(loaded.problem(key, f"cannot copy {path}: {exc.strerror}"))
                    continue
                contents.add(Entry(path, EntryKind.FILE, mode, "root", "root", f"host {what} {path} (copied)", data))
            else:
                # Bound from the path the loader finds (the soname's, often a
                # symlink), not the file it resolves to now: mounts follow the
                # link when the service starts, so an upgrade that renames the
                # real file (libfoo.so.1.2 -> 1.3) still reaches the jail.
                contents.add(Entry(path, EntryKind.MOUNTPOINT, 0o444, "root", "root", f"host {what} {path} (bind, ro)"))
                contents.binds.append(Bind(path, path))


def _pam_modules(loaded: Loaded, contents: Contents, host: Host,
                 problems: list[Problem]) -> list[tuple[str, str]]:
    """Where the binaries' libpam loads modules from (the directory compiled into it), and the modules there."""
    jail = loaded.jail
    libpam = None
    for binary in jail.tree.binaries:
        try:
            libs, _ = host.libraries.closure(binary)
        except (OSError, elf.ElfError):
            continue  # (reported where the binaries are)
        libpam = next((lib for lib in libs if os.path.basename(lib).startswith("libpam.so")), libpam)
    if libpam is None:
        problems.append(loaded.problem("tree.pam", "none of tree.binaries links libpam: nothing would load "
                                       "these modules"))
        return []
    try:
        moddirs = host.libraries.pam_dirs(libpam)
    except OSError as exc:
        problems.append(loaded.problem("tree.pam", f"cannot read {libpam}: {exc.strerror}"))
        return []
    contents.inputs.add(libpam)
    wanted = []
    for i, name in enumerate(jail.tree.pam):
        module = next((f"{d}/pam_{name}.so" for d in moddirs if host.libraries.exists(f"{d}/pam_{name}.so")), None)
        if module is None:
            where = " or ".join(moddirs) or f"the directories {libpam} names"
            problems.append(loaded.problem(f"tree.pam[{i}]", f"pam_{name}.so is not in {where} on this host"))
        else:
            wanted.append((f"tree.pam[{i}]", module))
    return wanted


def pam_stack(modules: tuple[str, ...]) -> bytes:
    """/etc/pam.d/other: every service of the jail decides with these modules."""
    lines = ["# The PAM stack of every service in this jail (tree.pam), written by jailmgr."]
    for kind, control in (("auth", "required"), ("account", "required"), ("password", "optional"),
                          ("session", "optional")):
        lines += [f"{kind:<8} {control:<8} pam_{name}.so" for name in modules]
    return ("\n".join(lines) + "\n").encode()


def _rootfs(loaded: Loaded, contents: Contents, problems: list[Problem]) -> None:
    from . import rootfs

    archive = os.path.join(os.path.dirname(os.path.abspath(loaded.source)), loaded.jail.tree.rootfs or "")
    found = rootfs.check(archive, rootfs_limit(loaded.jail))
    if found:
        problems.extend(loaded.problem("tree.rootfs", f"{archive}: {p}") for p in found)
        return
    contents.rootfs = os.path.abspath(archive)
    contents.inputs.add(contents.rootfs)
    contents.rootfs_sha256 = rootfs.digest(archive)


def _packages(loaded: Loaded, contents: Contents, host: Host, problems: list[Problem]) -> None:
    """tree.packages: what each package brings (packages.py), bound read-only, with its programs' and
    modules' libraries."""
    from . import packages  # (only jails that name packages pay for it)
    from .fields import close
    from .spec import host_writable, jail_writable

    jail = loaded.jail
    declared = {f.path for f in jail.tree.files} | {d.path for d in jail.tree.dirs}
    declared |= {m.target or "/proc" for m in jail.mounts}
    # Nothing is bound from where the jail writes (root would bind what it put there at the next start),
    # nor onto a place below where it writes (it could swap the mount point for a link between starts).
    writable = tuple(p.path for p in host_writable(jail))
    inside = tuple(p.path for p in jail_writable(jail))
    for i, name in enumerate(jail.tree.packages):
        listed = host.packages.files(name)
        if listed is None:
            near = close(name, sorted(host.packages.installed()))
            hint = f"; did you mean {near[0]!r}?" if near else f" (apt install {name})"
            problems.append(loaded.problem(f"tree.packages[{i}]", f"package {name!r} is not installed on this host"
                                           + hint))
            continue
        contents.inputs.add(host.packages.list_path(name))  # rewritten by every upgrade of the package
        share = packages.brought(name, listed, host, declared, writable, inside)
        # Their stat fingerprints too: a file made private, or a directory that gained an entry, since the
        # last apply renders the jail again (and is then left out).
        contents.inputs.update([*share.dirs, *share.files])
        origin = f"package {name} (bind, ro)"
        for path in share.dirs:
            if path not in contents.entries:
                contents.add(Entry(path, EntryKind.DIR, 0o755, "root", "root", origin))
                contents.binds.append(Bind(path, path))
        for path in share.tree_dirs:
            if path not in contents.entries:
                contents.add(Entry(path, EntryKind.DIR, 0o755, "root", "root", f"package {name}"))
        for path in share.files:
            if path not in contents.entries:
                contents.add(Entry(path, EntryKind.MOUNTPOINT, 0o444, "root", "root", origin))
                contents.binds.append(Bind(path, path))
        for path in share.elf:
            try:
                libs, _ = host.libraries.closure(path)  # (a module's missing library: it fails only if loaded)
            except (OSError, elf.ElfError):
                continue
            contents.inputs.update([path, *libs])
            for lib in libs:
                if packages.reaches(lib, host, writable) or packages.under(lib, inside):
                    continue  # (a module's library where the jail writes: its name is not enough)
                if host.packages.private(lib):
                    continue  # (nor one others may not read on the host, whoever's file named it)
                if lib not in contents.entries and not packages.under(lib, share.dirs):
                    contents.add(Entry(lib, EntryKind.MOUNTPOINT, 0o444, "root", "root",
                                       f"library of package {name} (bind, ro)"))
                    contents.binds.append(Bind(lib, lib))


def rootfs_limit(jail: Jail) -> int:
    size = jail.tree.rootfs_max_size
    return size if isinstance(size, int) else 1 << 62  # infinity


def build_contents(loaded: Loaded, host: Host) -> tuple[Contents, list[Problem]]:
    """Everything the tree of one jail holds; problems name the jail file's keys."""
    jail = loaded.jail
    problems: list[Problem] = []
    contents = Contents()
    contents.inputs |= {os.path.abspath(loaded.source), elf.LD_SO_CACHE}
    for top in ("/etc", "/dev", "/proc", "/tmp", "/run"):
        contents.add(Entry(top, EntryKind.DIR, 0o755, "root", "root", "base layout"))
    contents.add(Entry(ROOT_MARKER, EntryKind.FILE, 0o444, "root", "root", "jailmgr's mark of a jail root",
                       f"{jail.name}\n".encode()))
    if jail.tree.rootfs is not None:
        _rootfs(loaded, contents, problems)
    _libraries(loaded, contents, host, problems)
    for place in jail.runtime_binds:  # the time zone and the locales: bound from the host, read-only
        kind, mode = (EntryKind.DIR, 0o755) if place.directory else (EntryKind.MOUNTPOINT, 0o444)
        contents.add(Entry(place.path, kind, mode, "root", "root", f"{place.key}: host {place.path} (bind, ro)"))
        contents.binds.append(Bind(place.path, place.path))
        contents.inputs.add(place.path)  # (render refuses them absent; /etc/localtime's zone is its fingerprint)
    passwd, group, shadow = _host_users(jail, loaded, host, contents, problems)
    contents.add(Entry("/etc/passwd", EntryKind.FILE, 0o644, "root", "root", "users from the host's /etc/passwd",
                       passwd))
    contents.add(Entry("/etc/group", EntryKind.FILE, 0o644, "root", "root", "groups from the host's /etc/group", group))
    if shadow:
        contents.add(Entry("/etc/shadow", EntryKind.FILE, 0o600, "root", "root", "the users' host shadow entries",
                           shadow))
    contents.add(Entry("/etc/nsswitch.conf", EntryKind.FILE, 0o644, "root", "root", "jailmgr default", NSSWITCH))
    # localhost resolves (PostgreSQL's listen_addresses, many defaults); a tree.files entry replaces it.
    contents.add(Entry("/etc/hosts", EntryKind.FILE, 0o644, "root", "root", "jailmgr default",
                       f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{jail.uts_name}\n"
                       .encode()))
    for dir_entry in jail.tree.dirs:
        contents.add(Entry(dir_entry.path, EntryKind.DIR, dir_entry.mode, dir_entry.owner, dir_entry.group,
                           "tree.dirs (writable)" if dir_entry.writable else "tree.dirs",
                           writable=dir_entry.writable))
    for i, entry in enumerate(jail.tree.files):
        data, origin = _file_data(loaded, i, host, contents, problems)
        if data is not None:
            contents.add(Entry(entry.path, EntryKind.FILE, entry.mode, entry.owner, entry.group, origin, data))
    if jail.tree.pam and "/etc/pam.d/other" not in contents.entries:
        contents.add(Entry("/etc/pam.d/other", EntryKind.FILE, 0o644, "root", "root", "tree.pam",
                           pam_stack(jail.tree.pam)))
    for mount in jail.mounts:
        target = mount.target or "/proc"
        if target not in contents.entries:
            contents.add(Entry(target, EntryKind.DIR, 0o755, "root", "root", f"mount point ({mount.type})"))
        if mount.type == "bind" and mount.create and mount.source:
            contents.host_dirs.append((mount.source, mount.owner, mount.group))
    if jail.tree.packages:
        _packages(loaded, contents, host, problems)
        program = jail.exec[0]
        bound = [b.target for b in contents.binds]
        if (not problems and jail.tree.rootfs is None and program not in contents.entries
                and not any(program.startswith(d + "/") for d in bound)):
            problems.append(loaded.problem("exec[0]", f"{program} is not in the tree: none of tree.packages brings "
                                           "it; add it to tree.binaries"))
    if jail.workdir != "/" and jail.workdir not in contents.entries:
        problems.append(loaded.problem("workdir", f"{jail.workdir} is not a directory of the tree; add it to dirs"))
    return contents, problems


def tree_size(contents: Contents) -> int:
    """Bytes the tree takes in file data (mount points and directories count as 0)."""
    return sum(len(e.data) for e in contents.entries.values())


def describe(contents: Contents) -> list[str]:
    lines = [f"rootfs     {contents.rootfs} (sha256 {contents.rootfs_sha256[:16]}...), unpacked first"
             ] if contents.rootfs else []
    lines += [e.describe() for _, e in sorted(contents.entries.items())]
    lines += [f"bind-ro    {b.source} -> {b.target}" for b in contents.binds]
    lines += [f"host-dir   {path} (created if missing, owner {owner})" for path, owner, _ in contents.host_dirs]
    return lines



def _rows(contents: Contents, path: str, width: int) -> list[list[str]]:
    """The colon-separated lines of one of the jail's own files, those with `width` fields or more."""
    lines = contents.entries[path].data.decode().splitlines()
    return [fields for fields in (line.split(":") for line in lines) if len(fields) >= width]


def ids(contents: Contents) -> tuple[dict[str, int], dict[str, int]]:
    """User and group ids as the jail's own passwd and group files give them."""
    users = {"root": 0, **{f[0]: int(f[2]) for f in _rows(contents, "/etc/passwd", 4)}}
    groups = {"root": 0, **{f[0]: int(f[2]) for f in _rows(contents, "/etc/group", 3)}}
    return users, groups


def jail_users(contents: Contents) -> dict[str, list[int]]:
    """The jail's passwd as jailmgr wrote it: name -> [uid, primary gid] (what `exec --user` may name)."""
    return {f[0]: [int(f[2]), int(f[3])] for f in _rows(contents, "/etc/passwd", 4)}


def primary_gid(contents: Contents, user: str) -> int:
    return next((int(f[3]) for f in _rows(contents, "/etc/passwd", 4) if f[0] == user), 0)


def supplementary_gids(contents: Contents, user: str) -> list[int]:
    """The groups whose member lists in the jail's /etc/group (as jailmgr wrote it) name the user:
    decided here, so that nothing in the jail reads its group file as root."""
    return sorted({int(f[2]) for f in _rows(contents, "/etc/group", 4) if user in f[3].split(",")})
