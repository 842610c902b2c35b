"""Shell completion for bash, zsh and fish, generated from the argparse parser at package build time.

A completion that started Python on every TAB would cost about 100 ms a press;
these scripts know the commands and options already.  Jail names come from
the records' file names (/var/lib/jailmgr/state/NAME.json, root only: the
directory is 0700) and from the `name:` line of each jail file in
/etc/jailmgr/jails.d (readable by all), so `sudo jailmgr status <TAB>`
completes in an unprivileged shell.  Only words that are jail names are
offered: a file's other bytes never reach the shell as code or options.

    python3 -m jailmgr.completion bash > /usr/share/bash-completion/completions/jailmgr
    python3 -m jailmgr.completion zsh  > /usr/share/zsh/vendor-completions/_jailmgr
    python3 -m jailmgr.completion fish > /usr/share/fish/vendor_completions.d/jailmgr.fish

Generated here rather than by Debian's python3-shtab (1.5.5 in bookworm): it
would be a build dependency only, but the jail names need a hand-written
function per shell in any case, and the generator below is shorter than
shtab's preambles plus the glue.
"""

from __future__ import annotations

import argparse
import sys

from .manpage import _subcommands
from .paths import DEFAULT_JAILS_DIR, DEFAULT_STATE_DIR, NAME_RE

STATE_DIR = DEFAULT_STATE_DIR
JAILS_DIR = DEFAULT_JAILS_DIR


def names_sh(state_dir: str = STATE_DIR, jails_dir: str = JAILS_DIR) -> str:
    """A POSIX sh snippet (no single quote in it) that prints the jail names, one a line, sorted, unique."""
    name = NAME_RE.replace("{0,62}", "*")  # (a basic regular expression: grep's and sed's)
    return (f'{{ for f in {state_dir}/*.json; do [ -e "$f" ] && basename "$f" .json; done; '
            f'sed -n "s/^name:[[:space:]]*\\({name}\\)[[:space:]]*\\(#.*\\)\\{{0,1\\}}\\$/\\1/p" '
            f'{jails_dir}/*.yaml 2>/dev/null; }} | grep -x "{name}" | sort -u')


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({flag for action in parser._actions for flag in action.option_strings
                   if action.help != argparse.SUPPRESS})


def _takes(parser: argparse.ArgumentParser) -> str:
    """What the command's words are: jail names, paths, command names, or nothing."""
    dests = {action.dest for action in parser._actions if not action.option_strings}
    if dests & {"names", "name"}:
        return "names"
    if dests & {"paths", "path"}:
        return "paths"
    if "topic" in dests:
        return "commands"
    return ""


def _described(parser: argparse.ArgumentParser,
               skip: frozenset[str] | set[str] = frozenset()) -> list[tuple[list[str], str, bool]]:
    """Each option: its flags, its help, whether it takes a value."""
    return [(list(a.option_strings), a.help or "", a.nargs != 0) for a in parser._actions
            if a.option_strings and a.help != argparse.SUPPRESS and not set(a.option_strings) & skip]


GLOBALS = {"--json", "-q", "--quiet", "-v", "--verbose", "--debug", "-h", "--help"}


def script(parser: argparse.ArgumentParser, state_dir: str = STATE_DIR, jails_dir: str = JAILS_DIR) -> str:
    """The bash completion."""
    subs = _subcommands(parser)
    cases = []
    for name, sub in subs.items():
        takes = _takes(sub)
        words = {"names": '$(_jailmgr_names)', "commands": " ".join(subs)}.get(takes, "")
        files = "yes" if takes == "paths" else ""
        cases.append(f'        {name}) opts="{" ".join(_flags(sub))}"; words="{words}"; files="{files}" ;;')
    return f"""# bash completion for jailmgr, generated from its argument parser; do not edit.
_jailmgr_names() {{
    {names_sh(state_dir, jails_dir)}
}}

_jailmgr() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} command="" i opts words files
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            -*) ;;
            *) command=${{COMP_WORDS[i]}}; break ;;
        esac
    done
    if [ -z "$command" ]; then
        COMPREPLY=($(compgen -W "{" ".join(subs)} {" ".join(_flags(parser))}" -- "$cur"))
        return
    fi
    case $command in
{chr(10).join(cases)}
        *) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ -n "$files" ]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
}}
complete -F _jailmgr jailmgr
"""


def _zsh_text(text: str) -> str:
    """Help text that is plain text in an _arguments spec or a _describe entry (no brackets, colons)."""
    return text.replace("[", "(").replace("]", ")").replace(":", ";").replace("\\", "/")


def _zsh_quote(text: str) -> str:
    """A zsh single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_specs(sub: argparse.ArgumentParser, skip: set[str]) -> list[str]:
    specs = []
    for flags, help_, value in _described(sub, skip):
        for flag in flags:
            specs.append(_zsh_quote(f"{flag}[{_zsh_text(help_)}]" + (":value:" if value else "")))
    return specs


def zsh_script(parser: argparse.ArgumentParser, state_dir: str = STATE_DIR, jails_dir: str = JAILS_DIR) -> str:
    """The zsh completion (#compdef), with _arguments specs from the parser."""
    subs = _subcommands(parser)
    described = [_zsh_quote(f"{name}:{_zsh_text(sub.description or '')}") for name, sub in subs.items()]
    cases = []
    for name, sub in subs.items():
        takes = _takes(sub)
        rest = {"names": ["'*:jail:_jailmgr_names'"], "paths": ["'*:path:_files'"],
                "commands": [f"'1:command:({' '.join(subs)})'"]}.get(takes, [])
        if name == "exec":
            rest = ["'1:jail:_jailmgr_names'", "'*::command:_normal'"]
        cases.append(f"                {name}) _arguments -s {' '.join([*_zsh_specs(sub, set()), *rest])} ;;")
    return f"""#compdef jailmgr
# zsh completion for jailmgr, generated from its argument parser; do not edit.
_jailmgr_names() {{
    local -a names
    names=(${{(f)"$(sh -c '{names_sh(state_dir, jails_dir)}' 2>/dev/null)"}})
    compadd -a names
}}

_jailmgr() {{
    local curcontext="$curcontext" state line
    typeset -A opt_args
    _arguments -C {' '.join(_zsh_specs(parser, set()))} '1:command:->command' '*::arg:->args'
    case $state in
        command)
            local -a commands
            commands=({' '.join(described)})
            _describe -t commands 'jailmgr command' commands
            ;;
        args)
            case $line[1] in
{chr(10).join(cases)}
            esac
            ;;
    esac
}}

_jailmgr "$@"
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(parser: argparse.ArgumentParser, state_dir: str = STATE_DIR, jails_dir: str = JAILS_DIR) -> str:
    """The fish completion: `complete` lines conditioned on the command seen."""
    subs = _subcommands(parser)
    names = " ".join(subs)
    out = ["# fish completion for jailmgr, generated from its argument parser; do not edit.",
           f"function __jailmgr_names; sh -c {_fish_quote(names_sh(state_dir, jails_dir))} 2>/dev/null; end",
           "complete -c jailmgr -f"]

    def option(cond: str, flags: list[str], help_: str, value: bool) -> str:
        words = [f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}" for flag in flags]
        return (f"complete -c jailmgr {cond}{' '.join(words)}" + (" -r" if value else "") +
                f" -d {_fish_quote(help_)}")

    for flags, help_, value in _described(parser):
        out.append(option("", flags, help_, value))
    for name, sub in subs.items():
        out.append(f"complete -c jailmgr -n 'not __fish_seen_subcommand_from {names}' -a {name} "
                   f"-d {_fish_quote(sub.description or '')}")
    for name, sub in subs.items():
        cond = f"-n '__fish_seen_subcommand_from {name}' "
        for flags, help_, value in _described(sub, GLOBALS):
            out.append(option(cond, flags, help_, value))
        takes = _takes(sub)
        if takes == "names":
            out.append(f"complete -c jailmgr {cond}-a '(__jailmgr_names)'")
        elif takes == "paths":
            out.append(f"complete -c jailmgr {cond}-F")
        elif takes == "commands":
            out.append(f"complete -c jailmgr {cond}-a '{names}'")
    return "\n".join(out) + "\n"


SHELLS = {"bash": script, "zsh": zsh_script, "fish": fish_script}


def main(argv: list[str]) -> int:
    from .cli import build_parser, commands

    shell = argv[1] if len(argv) > 1 else "bash"
    if shell not in SHELLS:
        print(f"usage: python3 -m jailmgr.completion [{'|'.join(SHELLS)}]", file=sys.stderr)
        return 2
    sys.stdout.write(SHELLS[shell](build_parser(commands())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
