"""The `dspex` CLI against the Anthropic and Gemini fakes: one streamed chat each, and
Gemini embeddings, through a daemon the CLI spawns itself."""

from __future__ import annotations

import json

from cli_runner import run_cli
from fakes.anthropic_server import FakeAnthropic
from fakes.base import Reply
from fakes.gemini_server import FakeGemini, fake_vector


async def test_cli_streams_an_anthropic_answer(env: dict[str, str]) -> None:
    async with FakeAnthropic() as fake:
        fake.queue(Reply(text="Streamed through the CLI"))
        env = {**env, "ANTHROPIC_API_KEY": fake.api_key or "", "ANTHROPIC_BASE_URL": fake.base_url}
        code, out, err = await run_cli(env, "chat", "--provider", "anthropic", "--stream", "hi")
        assert code == 0, err
        assert out.strip() == "Streamed through the CLI"
        assert fake.requests[-1].body["stream"] is True
        assert fake.api_key not in out + err


async def test_cli_chats_and_embeds_with_gemini(env: dict[str, str]) -> None:
    async with FakeGemini() as fake:
        env = {**env, "GEMINI_API_KEY": fake.api_key or "", "GEMINI_BASE_URL": fake.base_url}
        code, out, err = await run_cli(env, "chat", "--provider", "gemini", "--json", "ping")
        assert code == 0, err
        result = json.loads(out)
        assert result["choices"][0]["message"]["content"] == "ping"
        assert result["provider"] == "gemini"
        code, out, err = await run_cli(env, "embed", "--provider", "gemini", "--json", "alpha")
        assert code == 0, err
        assert json.loads(out)["embeddings"] == [fake_vector("alpha", FakeGemini.embed_dimensions)]
