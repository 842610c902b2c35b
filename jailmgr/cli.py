"""The command line: argparse, and the commands that read only (validate, render, schema); the rest are cli_ops's."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from . import __version__, paths
from .output import EXIT_ERROR, EXIT_OK, Output, read_stdin_as
from .problems import InvalidJails, JailError
from .termtext import visible, visible_lines


def cmd_validate(args: argparse.Namespace, out: Output) -> int:
    """The files alone; with --host, also what plan and apply would find on this host (preflight.py)."""
    from . import spec

    read_stdin_as(args)
    loaded, problems = spec.load(args.paths or spec.default_paths())
    if args.host:
        from .preflight import validate_host

        found, notes = validate_host(loaded)
        problems = sorted([*problems, *found])
        for note in notes:
            out.warn(f"not checked: {note}")
    out.problems(problems)
    bad = {p.file for p in problems}
    good = [item for item in loaded if str(item.source) not in bad]
    out.doc["jails"] = [{"name": item.jail.name, "file": str(item.source)} for item in good]
    for item in good:
        out.line(f"{item.source}: ok ({item.jail.name})")
    return EXIT_ERROR if problems else EXIT_OK


def cmd_render(args: argparse.Namespace, out: Output) -> int:
    from . import manifest, render, spec

    loaded = spec.load_or_raise([args.path])
    rendered, problems = render.render_all(loaded)
    if problems:
        raise InvalidJails(problems)
    docs = []
    for item in rendered:
        for warning in item.warnings:
            out.warn(warning)
        for unit_name, unit_text in item.units.items():
            out.line(f"# {os.path.join(paths.unit_dir(), unit_name)}")
            out.block(unit_text)
        out.line(f"# tree {item.loaded.jail.root_dir} ({manifest.tree_size(item.contents)} bytes of file data)")
        for line in manifest.describe(item.contents):
            out.line(line)
        docs.append({"name": item.name, "unit": item.loaded.jail.unit_name, "unit_text": item.unit_text,
                     "extra_units": item.extra_units,
                     "root": item.loaded.jail.root_dir,
                     "tree": [{"path": e.path, "kind": e.kind, "mode": f"{e.mode:04o}", "owner": e.owner,
                               "group": e.group, "origin": e.origin, "sha256": e.digest}
                              for _, e in sorted(item.contents.entries.items())],
                     "binds": [{"source": b.source, "target": b.target} for b in item.contents.binds]})
    out.doc["jails"] = docs
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: Output) -> int:
    import json

    from .schema import jail_schema

    json.dump(jail_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    out.json = False  # the schema is the document
    return EXIT_OK


def cmd_help(args: argparse.Namespace, out: Output) -> int:
    """A command's usage, options and examples (what its manual page jailmgr-CMD(8) says); no COMMAND: all."""
    from .examples import EXAMPLES
    from .manpage import _subcommands

    parser = build_parser(commands())
    subs = _subcommands(parser)
    if args.topic is None:
        out.block(parser.format_help())
        out.line("`jailmgr help COMMAND` or `man jailmgr-COMMAND` for one command's options and examples")
        return EXIT_OK
    if args.topic not in subs:
        raise JailError(f"no command {args.topic!r}", hint=f"the commands: {', '.join(subs)}")
    out.block(subs[args.topic].format_help())
    out.line("examples:")
    for what, line in EXAMPLES.get(args.topic, []):
        out.line(f"  # {what}")
        out.line(f"  {line}")
    out.doc["command"] = args.topic
    out.doc["examples"] = [{"description": what, "command": line} for what, line in EXAMPLES.get(args.topic, [])]
    return EXIT_OK


GLOBAL_OPTIONS = ((("--json",), "machine output: one JSON document on stdout"),
                  (("-q", "--quiet"), "print only errors"), (("-v", "--verbose"), "say more, on stderr"),
                  (("--debug",), "show tracebacks"))
GLOBAL_FLAGS = frozenset(flag for flags, _ in GLOBAL_OPTIONS for flag in flags)


def _global_options(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    for flags, help_ in GLOBAL_OPTIONS:
        common.add_argument(*flags, action="store_true", default=default, help=help_)
    return common


class _Unbuilt:
    """A subcommand's parser left out (build_parser's `only`): its options are not built."""

    def add_argument(self, *args: object, **kwargs: object) -> None:
        return None


def build_parser(commands: dict[str, Callable[..., int]], only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only`, that subcommand's parser alone (the others cost a run that names
    one of them a few milliseconds of argparse, and it can't reach them)."""
    # Global options are accepted before and after the command; the copy on the
    # subcommands has no default, so it never resets what was given before it.
    common = _global_options(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="jailmgr", parents=[_global_options(False)],
                                     description="Manage chroot jails for services, run by systemd.")
    parser.add_argument("--version", action="version", version=f"jailmgr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser | _Unbuilt:
        if only is not None and name != only:
            return _Unbuilt()
        p = sub.add_parser(name, help=help_, parents=[common], description=help_)
        p.set_defaults(func=commands[name])
        return p

    stdin_help = "read the jail file PATH from standard input (it need not exist): what it would do once written"
    validate = add("validate", "check jail files; change nothing")
    validate.add_argument("paths", nargs="*", metavar="PATH")
    validate.add_argument("--host", action="store_true",
                          help="also check them against this host as plan and apply do (binaries, users, templates, "
                               "mount sources, ports); root sees everything, others what they may")
    validate.add_argument("--stdin-as", metavar="PATH", help=stdin_help)
    add("render", "print the unit and the tree apply would build").add_argument("path", metavar="PATH")
    add("schema", "print the JSON Schema of a jail file")
    for name, help_ in (("plan", "show what apply would change"), ("apply", "converge jails to their files")):
        p = add(name, help_)
        p.add_argument("paths", nargs="*", metavar="PATH")
        p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
        if name == "plan":
            p.add_argument("--stdin-as", metavar="PATH", help=stdin_help)
        if name == "apply":
            p.add_argument("--check", action="store_true", help="plan only")
        p.add_argument("--prune", action="store_true", help="destroy managed jails no longer defined under PATH")
    add("status", "state of jails").add_argument("names", nargs="*", metavar="NAME")
    add("list", "the jails jailmgr manages")
    add("destroy", "stop and remove jails and their trees").add_argument("names", nargs="+", metavar="NAME")
    add("reload", "deliver each jail's reload_signal to its program (as systemctl reload)").add_argument(
        "names", nargs="+", metavar="NAME")
    logs = add("logs", "the jail's journal")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until interrupted")
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many of the last lines (default 50)")
    ex = add("exec", "run a command inside a running jail")
    ex.add_argument("--user", help="run as this user (name or uid) instead of the program's")
    ex.add_argument("name", metavar="NAME")
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD")
    add("check", "audit jails").add_argument("names", nargs="*", metavar="NAME")
    stale = add("stale", "running jails that still use a file replaced since they started (a library upgrade)")
    stale.add_argument("names", nargs="*", metavar="NAME")
    stale.add_argument("--restart", action="store_true", help="restart those jails")
    add("help", "a command's options and examples, as its manual page jailmgr-COMMAND(8) has them").add_argument(
        "topic", nargs="?", metavar="COMMAND")
    return parser


def _lazy(name: str) -> Callable[[argparse.Namespace, Output], int]:
    """A command whose module is imported only when it runs (validate stays cheap)."""

    def call(args: argparse.Namespace, out: Output) -> int:
        from . import cli_ops

        return cli_ops.COMMANDS[name](args, out)

    return call


def commands() -> dict[str, Callable[..., int]]:
    table: dict[str, Callable[..., int]] = {"validate": cmd_validate, "render": cmd_render, "schema": cmd_schema,
                                            "help": cmd_help}
    for name in ("plan", "apply", "destroy", "reload", "list", "status", "logs", "exec", "check", "stale"):
        table[name] = _lazy(name)
    return table


def named_command(argv: list[str], known: dict[str, Callable[..., int]]) -> str | None:
    """The command argv names after the global flags, when it is one of `known`; None for anything else
    (--help, --version, a typo: the whole parser says what there is)."""
    for arg in argv:
        if arg not in GLOBAL_FLAGS:
            return arg if arg in known else None
    return None


def main(argv: list[str] | None = None) -> int:
    table = commands()
    parser = build_parser(table, only=named_command(sys.argv[1:] if argv is None else argv, table))
    args = parser.parse_args(argv)
    out = Output(args)
    try:
        return out.finish(args.func(args, out))
    except InvalidJails as exc:
        out.problems(exc.problems)
        print(f"jailmgr: {len(exc.problems)} problem(s); nothing was changed", file=sys.stderr)
        return out.finish(EXIT_ERROR)
    except JailError as exc:
        if args.debug:
            raise
        print(f"jailmgr: error: {visible_lines(str(exc))}", file=sys.stderr)
        if exc.hint:
            print(f"jailmgr: hint: {visible(exc.hint)}", file=sys.stderr)
        out.doc["error"] = str(exc)
        return out.finish(EXIT_ERROR)
    except KeyboardInterrupt:
        print("jailmgr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `jailmgr render ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as exc:
        if args.debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"jailmgr: error: {visible(str(exc.strerror or exc))}{visible(where)}", file=sys.stderr)
        print("jailmgr: hint: --debug shows where it happened", file=sys.stderr)
        out.doc["error"] = str(exc)
        return out.finish(EXIT_ERROR)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
