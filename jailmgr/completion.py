"""Bash completion, generated from the argparse parser at package build time (a static script).

A completion that started Python on every TAB would cost about 100 ms a press;
this script knows the commands and options already, and reads the managed
jail names from the records' file names (/var/lib/jailmgr/state/NAME.json).

    python3 -m jailmgr.completion > /usr/share/bash-completion/completions/jailmgr
"""

from __future__ import annotations

import argparse
import sys

from .manpage import _subcommands
from .paths import DEFAULT_STATE_DIR

STATE_DIR = DEFAULT_STATE_DIR


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({flag for action in parser._actions for flag in action.option_strings
                   if action.help != argparse.SUPPRESS})


def _takes(parser: argparse.ArgumentParser) -> str:
    """What the command's words are: jail names, paths, or nothing."""
    dests = {action.dest for action in parser._actions if not action.option_strings}
    if dests & {"names", "name"}:
        return "names"
    if dests & {"paths", "path"}:
        return "paths"
    return ""


def script(parser: argparse.ArgumentParser, state_dir: str = STATE_DIR) -> str:
    subs = _subcommands(parser)
    cases = []
    for name, sub in subs.items():
        takes = _takes(sub)
        words = {"names": '$(_jailmgr_names)', "paths": ""}.get(takes, "")
        files = "yes" if takes == "paths" else ""
        cases.append(f'        {name}) opts="{" ".join(_flags(sub))}"; words="{words}"; files="{files}" ;;')
    return f"""# bash completion for jailmgr, generated from its argument parser; do not edit.
_jailmgr_names() {{
    local f
    for f in {state_dir}/*.json; do
        [ -e "$f" ] || continue
        f=${{f##*/}}
        printf '%s\\n' "${{f%.json}}"
    done
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


def main() -> int:
    from .cli import build_parser, commands

    sys.stdout.write(script(build_parser(commands())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
