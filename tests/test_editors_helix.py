"""The Helix recipe (client_ext/helix). Helix is neither in Debian bookworm nor on PyPI, so
no real Helix runs here: the recipe's files are parsed, and the command line its key
binding sends (`:lsp-workspace-command dspex.explain {...}`, with Helix's `%{...}`
expansions filled in as Helix would) is run against the daemon."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from daemon import start_daemon
from lsprotocol import types

from dspex_protocol import ExplainCommandArgs

HELIX = Path(__file__).resolve().parent.parent / "client_ext" / "helix"
PREFIX = ":lsp-workspace-command "


def load(name: str) -> dict[str, Any]:
    return tomllib.loads((HELIX / name).read_text(encoding="utf-8"))


def helix_arguments(line: str, **expansions: str | int) -> tuple[str, list[Any]]:
    """What Helix sends for a typed `:lsp-workspace-command NAME JSON...` line: the command
    and the JSON values after it (a stream), after filling in `%{name}` expansions."""
    assert line.startswith(PREFIX)
    for name, value in expansions.items():
        line = line.replace("%{" + name + "}", str(value))
    assert "%{" not in line, f"an expansion left unfilled: {line}"
    command, _, rest = line[len(PREFIX) :].partition(" ")
    decoder, values, at, rest = json.JSONDecoder(), [], 0, rest.strip()
    while at < len(rest):
        value, at = decoder.raw_decode(rest, at)
        values.append(value)
        while at < len(rest) and rest[at].isspace():
            at += 1
    return command, values


def test_languages_toml_declares_the_daemon() -> None:
    config = load("languages.toml")
    assert config["language-server"]["dspex"]["command"] == "dspex-server"
    (markdown,) = [lang for lang in config["language"] if lang["name"] == "markdown"]
    assert "dspex" in markdown["language-servers"]


def test_the_explain_binding_is_the_same_in_normal_and_select_mode() -> None:
    keys = load("config.toml")["keys"]
    assert keys["normal"]["space"]["A"]["e"] == keys["select"]["space"]["A"]["e"]


def test_the_explain_binding_sends_valid_arguments() -> None:
    line = load("config.toml")["keys"]["normal"]["space"]["A"]["e"]
    command, arguments = helix_arguments(
        line, buffer_name="src/greet.py", selection_line_start=3, selection_line_end=4,
        language="python",
    )  # fmt: skip
    assert command == "dspex.explain"
    (argument,) = arguments
    args = ExplainCommandArgs.model_validate(argument)
    assert (args.path, args.start_line, args.end_line) == ("src/greet.py", 3, 4)


async def test_the_daemon_explains_what_the_binding_selects(env: dict[str, str]) -> None:
    options = {"defaultProvider": "mock", "providers": {"mock": {"mode": "echo"}}}
    text = "import sys\n\ndef greet(name):\n    return name\n"
    async with start_daemon(env, initialization_options=options) as d:
        uri = "file:///work/project/src/greet.py"
        d.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )
        line = load("config.toml")["keys"]["normal"]["space"]["A"]["e"]
        command, arguments = helix_arguments(
            line, buffer_name="src/greet.py", selection_line_start=3, selection_line_end=4,
            language="python",
        )  # fmt: skip
        params = types.ExecuteCommandParams(command=command, arguments=arguments)
        answer = await d.request(types.WORKSPACE_EXECUTE_COMMAND, params)
        assert "```python\ndef greet(name):\n    return name\n```" in answer["text"]
        assert answer["shown"] == "message"  # this client declared no window/showDocument
