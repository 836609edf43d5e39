"""The CLI and a config file with an error (issue 20): exit 2 with
`error: invalid_config: <file>:<line>: <key as written>: <reason>`, and no answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_cli
from fakes.openai_server import FakeOpenAI


def write(env: dict[str, str], text: str) -> str:
    Path(env["DSPEX_CONFIG"]).write_text(text, encoding="utf-8")
    return env["DSPEX_CONFIG"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[providers.openai]\napi_key = "sk-cli-file-0123456789"\ndefualt_model = "x"\n',
            ":3: providers.openai.defualt_model: unknown key (did you mean default_model?)",
        ),
        (
            '[providers.openai]\ntimeout_ms = "soon"\n',
            ":2: providers.openai.timeout_ms: Input should be a valid integer",
        ),
        ('log_level = "info"\n[retry\nattempts = 1\n', ":2: "),
    ],
    ids=["typo", "wrong-type", "syntax"],
)
async def test_a_bad_file_exits_2_naming_file_line_and_key(
    env: dict[str, str], text: str, expected: str
) -> None:
    path = write(env, text)
    code, out, err = await run_cli(env, "chat", "hello")
    assert (code, out) == (2, "")
    first = err.splitlines()[0]
    assert first.startswith(f"error: invalid_config: {path}{expected}"), err
    assert "sk-cli-file" not in err
    assert "mock" not in err  # nothing was answered


async def test_a_missing_dspex_config_file_exits_2(env: dict[str, str]) -> None:
    path = Path(env["DSPEX_CONFIG"])
    path.unlink()
    code, out, err = await run_cli(env, "providers")
    assert (code, out) == (2, "")
    assert err == (
        f"error: invalid_config: {path}: no such file (named by DSPEX_CONFIG; unset it or "
        "create the file)\n"
    )


async def test_no_config_file_at_all_is_fine(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "DSPEX_CONFIG"}  # the user config dir has none
    code, out, _ = await run_cli(env, "chat", "hello")
    assert (code, out) == (0, "hello\n")


async def test_a_base_url_alone_configures_openai_for_a_keyless_server(
    env: dict[str, str],
) -> None:
    async with FakeOpenAI(api_key=None) as fake:
        env = {**env, "OPENAI_BASE_URL": fake.api_base}
        code, out, _ = await run_cli(env, "providers", "--json")
        assert code == 0
        providers = json.loads(out)
        assert providers["defaultProvider"] == "openai"
        assert {p["name"]: p["configured"] for p in providers["providers"]}["openai"] is True
        code, out, err = await run_cli(env, "chat", "hello", "--json")
        assert code == 0, err
        assert '"provider": "openai"' in out
        assert "Authorization" not in fake.requests[-1].headers


async def test_a_server_that_wants_a_key_says_no_key_was_sent(env: dict[str, str]) -> None:
    async with FakeOpenAI(api_key="sk-needed-0123456789") as fake:
        env = {**env, "OPENAI_BASE_URL": fake.api_base}
        write(env, "[retry]\nattempts = 1\n")
        code, _, err = await run_cli(env, "chat", "hello")
        assert code == 3
        host_port = fake.api_base.split("//")[1].split("/")[0]
        assert f"no API key was sent: the server at {host_port} requires one" in err
        assert "set OPENAI_API_KEY" in err


async def test_a_named_provider_without_its_key_says_exactly_that(env: dict[str, str]) -> None:
    code, _, err = await run_cli(env, "chat", "hi", "--provider", "anthropic")
    assert code == 3
    assert err == (
        "error: provider_not_configured: provider 'anthropic' needs an API key and none is "
        "set: set ANTHROPIC_API_KEY (or providers.anthropic.api_key)\n"
    )
    code, _, err = await run_cli(env, "chat", "hi", "--provider", "openai")
    assert "set OPENAI_BASE_URL alone" in err
