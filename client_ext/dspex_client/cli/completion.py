"""`dspex completion bash|zsh`: a completion script generated from the parser itself, so it
always knows every command and option."""

from __future__ import annotations

import argparse
from typing import Any


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings)


def words(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """`{"": top-level words, "chat": its options, "index": its subcommands, ...}`."""
    table: dict[str, list[str]] = {"": [*_subcommands(parser), *_options(parser)]}
    for name, sub in _subcommands(parser).items():
        table[name] = [*_subcommands(sub), *_options(sub)]
        for inner, leaf in _subcommands(sub).items():
            table[f"{name} {inner}"] = _options(leaf)
    return table


def bash_script(parser: argparse.ArgumentParser) -> str:
    cases = "\n".join(
        f'        "{key}") opts="{" ".join(values)}" ;;' for key, values in words(parser).items()
    )
    return f"""# dspex bash completion: eval "$(dspex completion bash)"
_dspex() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" key="" w
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$w" in -*) ;; *) key="${{key:+$key }}$w" ;; esac
    done
    local opts=""
    case "$key" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _dspex dspex
"""


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "completion", help="print a shell completion script (bash; zsh via bashcompinit)"
    )
    parser.add_argument("shell", choices=["bash", "zsh"])
    parser.set_defaults(handler=print_completion)


def print_completion(args: argparse.Namespace) -> int:
    from . import build_parser

    script = bash_script(build_parser())
    if args.shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    print(script, end="")
    return 0
