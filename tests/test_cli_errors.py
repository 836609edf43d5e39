"""Exit codes and error messages a new user meets (issue 20, docs/cli.md): every error is
`error: <kind>: <message>` on stderr; usage errors exit 2, failed requests 3."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from cli_runner import DSPEX, run_cli

ERROR_LINE = re.compile(r"^error: [a-z_]+: \S")


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error")]


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["chat", ""], None),
        (["chat", "   "], None),
        (["chat"], ""),
        (["chat", "-"], "\n\n"),
    ],
    ids=["empty-argument", "blank-argument", "empty-stdin", "blank-stdin-dash"],
)
async def test_an_empty_prompt_exits_2_however_it_is_given(
    env: dict[str, str], args: list[str], stdin: str | None
) -> None:
    code, out, err = await run_cli(env, *args, stdin=stdin)
    assert (code, out) == (2, "")
    assert error_lines(err) and all(ERROR_LINE.match(line) for line in error_lines(err))
    assert error_lines(err)[0].startswith("error: usage: ")


async def test_an_unknown_provider_is_a_usage_error(env: dict[str, str]) -> None:
    code, _, err = await run_cli(env, "chat", "hi", "--provider", "nosuch")
    assert code == 2
    assert err.startswith("error: unsupported_provider: unknown provider 'nosuch'")


async def test_embed_without_input_says_so_without_pydantic_wording(env: dict[str, str]) -> None:
    code, out, err = await run_cli(env, "embed", stdin="")
    assert (code, out) == (2, "")
    assert err == "error: usage: no texts given: stdin held no non-empty line\n"
    code, _, err = await run_cli(env, "embed", "")
    assert (code, err) == (2, "error: usage: an empty text cannot be embedded\n")


@pytest.mark.parametrize(
    "args",
    [["chat", "--temperature", "warm", "hi"], ["nosuchcommand"], ["chat", "--bogus", "x"]],
)
async def test_argument_errors_have_the_same_form(env: dict[str, str], args: list[str]) -> None:
    code, _, err = await run_cli(env, *args)
    assert code == 2
    assert [line for line in err.splitlines() if line.startswith("error")] == [
        line for line in err.splitlines() if ERROR_LINE.match(line)
    ]
    assert error_lines(err)[0].startswith("error: usage: dspex")


async def test_network_errors_name_host_and_port(env: dict[str, str], tmp_path: Path) -> None:
    # Nothing listens on port 9 (discard) of the loopback interface.
    env = {
        **env,
        "OPENAI_API_KEY": "sk-test-0123456789",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    Path(env["DSPEX_CONFIG"]).write_text("[retry]\nattempts = 1\n", encoding="utf-8")
    code, _, err = await run_cli(env, "chat", "hi")
    assert code == 3
    assert err.startswith("error: network_error: ")
    assert "(127.0.0.1:9)" in err
    assert "sk-test" not in err


async def test_version_shows_the_package_and_the_protocol(env: dict[str, str]) -> None:
    from importlib.metadata import version

    from dspex_protocol import PROTOCOL_VERSION

    code, out, _ = await run_cli(env, "--version")
    assert (code, out) == (0, f"dspex {version('dspex')} (protocol {PROTOCOL_VERSION})\n")


@pytest.mark.parametrize("flag", ["--help", "--version"])
async def test_dspex_server_answers_help_and_version_without_reading_stdin(
    env: dict[str, str], flag: str
) -> None:
    server = str(Path(DSPEX).with_name("dspex-server"))
    # stdin stays open and empty: a daemon would wait on it for ever.
    process = await asyncio.create_subprocess_exec(
        server,
        flag,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    if flag == "--version":
        from importlib.metadata import version

        from dspex_protocol import PROTOCOL_VERSION

        assert out.decode() == f"dspex-server {version('dspex')} (protocol {PROTOCOL_VERSION})\n"
    else:
        assert out.decode().startswith("usage: dspex-server")


async def test_python_m_dspex_server_version(env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dspex_server",
        "--version",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    assert out.decode().startswith("dspex-server ")
