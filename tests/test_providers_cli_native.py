"""The `dspex` command line against the Ollama and Bedrock fakes and the local embedder."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from daemon import clean_env
from fakes.base import Reply
from fakes.bedrock_server import FakeBedrock
from fakes.ollama_server import FakeOllama


async def dspex(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from dspex_client.cli import run_main; run_main()",
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_streams_an_ollama_answer(tmp_path: Path) -> None:
    async with FakeOllama() as fake:
        fake.queue(Reply(text="Blue light scatters more."))
        env = clean_env(tmp_path, OLLAMA_HOST=fake.base_url)
        code, out, err = await dspex(env, "chat", "-p", "ollama", "--stream", "Why blue?")
    assert code == 0, err
    assert out.strip() == "Blue light scatters more."
    assert fake.requests[-1].body["stream"] is True


async def test_cli_chats_with_bedrock_and_the_request_is_signed(tmp_path: Path) -> None:
    async with FakeBedrock() as fake:
        env = clean_env(tmp_path, **fake.env())
        code, out, err = await dspex(env, "chat", "-p", "bedrock", "--json", "Hello Bedrock")
    assert code == 0, err
    result = json.loads(out)
    assert result["choices"][0]["message"]["content"] == "Hello Bedrock"
    assert result["provider"] == "bedrock"
    assert fake.signature_failures == []


async def test_cli_embeds_offline_with_the_local_provider(tmp_path: Path) -> None:
    code, out, err = await dspex(clean_env(tmp_path), "embed", "--json", "one", "two")
    assert code == 0, err
    result = json.loads(out)
    assert result["provider"] == "local" and result["dimensions"] == 256
    assert len(result["embeddings"]) == 2
