"""Manual pages generated from the code, so they can't drift from it: jailmgr(8), one jailmgr-CMD(8)
per command, and jailmgr.yaml(5).

jailmgr(8) walks the argparse parser the command line is built from (every
command, argument and option with its help); jailmgr-CMD(8) is one command's
part of it with its examples (examples.py, also shown by `jailmgr help CMD`);
jailmgr.yaml(5) walks the
model that parses jail files and drives `jailmgr schema` (every key, its
kind, its default and its description).  Run at package build time:

    python3 -m jailmgr.manpage OUTDIR      # writes OUTDIR/jailmgr.8, OUTDIR/jailmgr-CMD.8, OUTDIR/jailmgr.yaml.5

A small generator of our own rather than Debian's argparse-manpage: that
one covers only the first page, and a roff writer for both is short.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from . import __version__
from .examples import EXAMPLES
from .fields import Choice, ListOf, Record, WordOrRecord
from .model import Jail


def roff(text: str) -> str:
    """Text for a roff line: backslashes and hyphens escaped, no line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public walk of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _usage(name: str, sub: argparse.ArgumentParser) -> str:
    words = []
    for action in sub._actions:
        if action.option_strings or action.dest in ("help", argparse.SUPPRESS):
            continue
        metavar = action.metavar or action.dest.upper()
        words.append(f"[{metavar}...]" if action.nargs in ("*", argparse.REMAINDER)
                     else f"{metavar}..." if action.nargs == "+" else str(metavar))
    return " ".join([name, "[OPTIONS]", *words])


def _options(sub: argparse.ArgumentParser, skip: set[str], only: set[str] | None = None) -> list[str]:
    lines = []
    for action in sub._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or set(action.option_strings) & skip:
            continue
        if only is not None and not set(action.option_strings) & only:
            continue
        flags = ", ".join(f"\\fB{roff(flag)}\\fR" for flag in action.option_strings)
        if action.nargs != 0:
            flags += f" \\fI{roff(str(action.metavar or action.dest.upper()))}\\fR"
        lines += [".TP", flags, roff(action.help or "")]
    return lines


def jailmgr_8(parser: argparse.ArgumentParser) -> str:
    globals_ = {"--json", "-q", "--quiet", "-v", "--verbose", "--debug", "-h", "--help"}
    out = [f'.TH JAILMGR 8 "" "jailmgr {__version__}" "System Administration"', ".SH NAME",
           "jailmgr \\- chroot jails for services, described in YAML, run by systemd", ".SH SYNOPSIS",
           "\\fBjailmgr\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]", ".SH DESCRIPTION",
           roff(parser.description or ""),
           "Each jail is a file, \\fIjailmgr.yaml\\fR(5); a PATH is such a file or a directory of them (every",
           "\\fI*.yaml\\fR in it); the default is \\fI/etc/jailmgr/jails.d\\fR. Commands that change the host run",
           "as root. Bad input is reported as \\fIfile:line:col: key: message\\fR and changes nothing.",
           ".SH GLOBAL OPTIONS", *_options(parser, set()), ".SH COMMANDS"]
    for name, sub in _subcommands(parser).items():
        out += [f".SS {roff(_usage(name, sub))}", roff(sub.description or "")]
        out += _options(sub, globals_)
    out += [".SH EXAMPLES", *_examples("apply"), *_examples("check"), *_examples("destroy")]
    out += [*_EXIT_STATUS, ".SH REMOVING THE PACKAGE",
            "Removing the Debian package (\\fBapt remove jailmgr\\fR) stops no jail: they keep running, and their",
            "units, trees and records stay, for jailmgr installed again to manage. Purging it",
            "(\\fBapt purge jailmgr\\fR) destroys every jail as \\fBjailmgr destroy\\fR does (its units, tree and",
            "record; the data of bound host directories stays), says what it removed, and leaves the jail files",
            "in \\fI/etc/jailmgr/jails.d\\fR, which are the operator's.",
            ".SH FILES", ".TP", "\\fI/etc/jailmgr/jails.d/*.yaml\\fR", "jail files",
            ".TP", "\\fI/etc/jailmgr/templates\\fR, \\fI/usr/share/jailmgr/templates\\fR", "templates",
            ".TP", "\\fI/etc/systemd/system/jail\\-NAME.service\\fR", "the units jailmgr writes",
            ".TP", "\\fI/var/lib/jailmgr/\\fR", "records of what was built, and the default jail roots",
            ".TP", "\\fI/run/jailmgr.lock\\fR", "the lock",
            ".SH SEE ALSO", ", ".join(f"\\fBjailmgr\\-{roff(name)}\\fR(8)" for name in _subcommands(parser)) + ",",
            "\\fBjailmgr.yaml\\fR(5), \\fBsystemd.exec\\fR(5), \\fBsystemd\\-analyze\\fR(1), \\fBbwrap\\fR(1),",
            "\\fI/usr/share/doc/jailmgr/\\fR"]
    return "\n".join(out) + "\n"


_EXIT_STATUS = [".SH EXIT STATUS", "0 success; 1 an error (the message says what and where); 2 with",
                "\\fB\\-\\-detailed\\-exitcode\\fR: there are changes."]
_GLOBALS = {"--json", "-q", "--quiet", "-v", "--verbose", "--debug"}


def _examples(name: str) -> list[str]:
    """One command's examples (examples.py): what each does, then the line, unfilled."""
    out = []
    for what, line in EXAMPLES.get(name, []):
        out += [".PP", roff(what), ".PP", ".RS 4", ".nf", f"\\fB{roff(line)}\\fR", ".fi", ".RE"]
    return out


def command_page(name: str, sub: argparse.ArgumentParser) -> str:
    """jailmgr-NAME(8): one command's synopsis, description, options (its own, then the global ones),
    examples; what `jailmgr help NAME` prints, as a page."""
    title = f"JAILMGR\\-{roff(name.upper())}"
    out = [f'.TH {title} 8 "" "jailmgr {__version__}" "System Administration"', ".SH NAME",
           f"jailmgr\\-{roff(name)} \\- {roff(sub.description or '')}", ".SH SYNOPSIS",
           f"\\fBjailmgr {roff(name)}\\fR {roff(_usage(name, sub).split(' ', 1)[1])}", ".SH DESCRIPTION",
           roff((sub.description or "").capitalize() + "."),
           "Jail files are \\fIjailmgr.yaml\\fR(5); a PATH is such a file or a directory of them; the default",
           "is \\fI/etc/jailmgr/jails.d\\fR. A NAME is a jail's name (\\fBjailmgr list\\fR).",
           ".SH OPTIONS", *(_options(sub, {*_GLOBALS, "-h", "--help"}) or ["Only the global options."]),
           ".SH GLOBAL OPTIONS", *_options(sub, set(), only={*_GLOBALS, "-h", "--help"}),
           ".SH EXAMPLES", *_examples(name), *_EXIT_STATUS,
           ".SH SEE ALSO", "\\fBjailmgr\\fR(8), \\fBjailmgr.yaml\\fR(5)"]
    return "\n".join(out) + "\n"


def _kind_text(kind: object) -> str:
    if isinstance(kind, Choice):
        return " | ".join(str(c) for c in kind.values)
    if isinstance(kind, ListOf):
        return f"list of {_kind_text(kind.item)}"
    if isinstance(kind, Record):
        return "mapping"
    if isinstance(kind, WordOrRecord):
        return " | ".join([*kind.words, "mapping"])
    names = {"Flag": "boolean", "MapOf": "mapping", "Text": "string", "Multiline": "string", "Anything": "any",
             "Device": "device name", "Percent": "percentage", "Mode": "octal string"}
    return names.get(type(kind).__name__, type(kind).__name__.lower())


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, int) and value >= 1 << 20:
        return f"{value >> 20}M" if value < 1 << 30 else f"{value >> 30}G"
    return str(value)


def _keys(cls: type, prefix: str, out: list[str]) -> None:
    nested = []
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if "kind" not in meta:
            continue  # set by a word, not a key of the file (Ready.notify)
        key = prefix + (meta.get("name") or field.name)
        kind = meta["kind"]
        if field.default is dataclasses.MISSING:
            default = "(required)"
        elif field.default in (None, (), "") or isinstance(kind, Record):
            default = ""
        else:
            default = f"default {_shown(field.default)}"
        out += [".TP", f"\\fB{roff(key)}\\fR ({roff(_kind_text(kind))}) {roff(default)}".rstrip(),
                roff(meta.get("doc", ""))]
        inner = kind.item if isinstance(kind, ListOf) else kind
        inner = inner.record if isinstance(inner, WordOrRecord) else inner
        if isinstance(inner, Record):
            nested.append((inner.cls, key + ("[]." if isinstance(kind, ListOf) else ".")))
    for inner_cls, inner_prefix in nested:
        out.append(f".SS {roff(inner_prefix.rstrip('.'))}")
        _keys(inner_cls, inner_prefix, out)


def jailmgr_yaml_5() -> str:
    out = [f'.TH JAILMGR.YAML 5 "" "jailmgr {__version__}" "File Formats"', ".SH NAME",
           "jailmgr.yaml \\- a jail file of jailmgr: one confined service", ".SH DESCRIPTION",
           "One YAML document describes one jail. Unknown keys are errors; every problem names the file, the",
           "line and the column. Modes are octal strings (\\fB\"0644\"\\fR). A JSON Schema of this format is",
           "printed by \\fBjailmgr schema\\fR.", ".SH KEYS"]
    _keys(Jail, "", out)
    out += [".SH EXAMPLE", ".nf", *[roff(line) for line in (
        "name: ftp", "exec: [/usr/sbin/vsftpd, /etc/vsftpd.conf]", "tree:", "  binaries: [/usr/sbin/vsftpd]",
        "  files: [{path: /etc/vsftpd.conf, template: vsftpd.conf.j2, vars: {port: 2121}}]",
        "  users: [ftp, nobody]", "security: {capabilities: [CAP_SYS_CHROOT, CAP_SETUID, CAP_SETGID]}")],
            ".fi", ".SH SEE ALSO", "\\fBjailmgr\\fR(8), \\fI/usr/share/doc/jailmgr/examples/\\fR"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    from .cli import build_parser, commands

    outdir = argv[1] if len(argv) > 1 else "."
    os.makedirs(outdir, exist_ok=True)
    parser = build_parser(commands())
    pages = {"jailmgr.8": jailmgr_8(parser), "jailmgr.yaml.5": jailmgr_yaml_5()}
    pages.update({f"jailmgr-{name}.8": command_page(name, sub) for name, sub in _subcommands(parser).items()})
    for name, text in pages.items():
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
