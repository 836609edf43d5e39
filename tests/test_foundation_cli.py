"""The installed `dspex` command, run as a subprocess the way scripts use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_cli
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI, openai_error


async def test_chat_prints_the_answer(env: dict[str, str]) -> None:
    code, out, err = await run_cli(env, "chat", "hello")
    assert code == 0
    assert out == "hello\n"
    assert "mock" in err  # the fallback is announced on stderr, not mixed into the answer


async def test_chat_reads_a_piped_prompt(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "chat", stdin="piped prompt\n")
    assert (code, out) == (0, "piped prompt\n")


async def test_chat_dash_reads_stdin(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "chat", "-", "--system", "be brief", stdin="from stdin")
    assert (code, out) == (0, "from stdin\n")


async def test_chat_json_prints_the_whole_result(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "chat", "hi", "--json", "--provider", "mock")
    assert code == 0
    result = json.loads(out)
    assert result["provider"] == "mock"
    assert result["choices"][0]["message"]["content"] == "hi"
    assert result["usage"]["totalTokens"] > 0


async def test_chat_stream_prints_the_same_text(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "chat", "--stream", "a longer streamed answer")
    assert (code, out) == (0, "a longer streamed answer\n")


async def test_errors_exit_non_zero_with_kind_on_stderr(env: dict[str, str]) -> None:
    code, out, err = await run_cli(env, "chat", "hi", "--provider", "openai")
    assert code == 3
    assert out == ""
    assert err.startswith("error: provider_not_configured: ")


async def test_invalid_params_exit_2_and_name_the_field(env: dict[str, str]) -> None:
    code, _, err = await run_cli(env, "chat", "hi", "--temperature", "7")
    assert code == 2
    assert "error: invalid_params" in err
    assert "temperature" in err


async def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    code, _, err = await run_cli(env, "chat", "--temperature", "warm", "hi")
    assert code == 2
    assert "temperature" in err


async def test_chat_against_openai_fake_with_model_and_system(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    fake_openai.queue(Reply(text="Paris."))
    code, out, err = await run_cli(
        env,
        "chat",
        "Capital of France?",
        "--model",
        "gpt-4o",
        "--system",
        "Answer in one word.",
        "--temperature",
        "0",
    )
    assert (code, out, err) == (0, "Paris.\n", "")
    body = fake_openai.requests[-1].body
    assert body["model"] == "gpt-4o"
    assert body["temperature"] == 0
    assert body["messages"] == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of France?"},
    ]


NO_RETRY = Path(__file__).parent / "fakes" / "no_retry.toml"


async def test_provider_errors_from_the_fake_exit_3(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    fake_openai.queue(openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded"))
    code, _, err = await run_cli({**env, "DSPEX_CONFIG": str(NO_RETRY)}, "chat", "hi")
    assert code == 3
    assert err.startswith("error: rate_limited: Rate limit reached")
    assert (fake_openai.api_key or "") not in err


async def test_providers_and_config_commands(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "providers", "--json")
    assert code == 0
    assert json.loads(out)["defaultProvider"] == "mock"
    code, out, _ = await run_cli({**env, "OPENAI_API_KEY": "sk-cli-secret-999"}, "config")
    assert code == 0
    assert "sk-cli-secret-999" not in out
    assert json.loads(out)["config"]["providers"]["openai"]["apiKey"] == "<redacted>"


async def test_embed_prints_one_vector_per_line(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "embed", "--provider", "mock", stdin="alpha beta\ngamma\n")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 and len(rows[0]) == len(rows[1]) > 0


@pytest.mark.parametrize("args", [["--help"], ["chat", "--help"], ["embed", "--help"]])
async def test_help_everywhere(env: dict[str, str], args: list[str]) -> None:
    code, out, _ = await run_cli(env, *args)
    assert code == 0
    assert "usage: dspex" in out


async def test_chat_reasoning_is_shown_on_stderr_only_when_asked(env: dict[str, str]) -> None:
    code, out, err = await run_cli(
        env, "chat", "--reasoning", "high", "--show-reasoning", "--no-stream", "why?"
    )
    assert (code, out) == (0, "why?\n")
    assert "(mock) reasoning requested (effort=high)" in err
    code, out, err = await run_cli(env, "chat", "--reasoning", "high", "--stream", "why?")
    assert (code, out) == (0, "why?\n")
    assert "reasoning requested" not in err


async def test_chat_reasoning_streams_to_stderr(env: dict[str, str]) -> None:
    code, out, err = await run_cli(
        env, "chat", "--reasoning-budget", "64", "--show-reasoning", "--stream", "why?"
    )
    assert (code, out) == (0, "why?\n")
    assert "budgetTokens=64" in err
