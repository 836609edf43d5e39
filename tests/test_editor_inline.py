"""`textDocument/inlineCompletion` through the real daemon: documents synced incrementally,
fill-in-the-middle by chat (mock, OpenAI fake) or a native FIM endpoint (FIM fake),
cancel-previous, per-language enable, and acceptance stats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from daemon import Daemon, start_daemon
from fakes.base import Reply
from fakes.fim_server import FakeFim, fill_for
from fakes.openai_server import FakeOpenAI
from lsprotocol import types
from pygls.exceptions import JsonRpcException

URI = "file:///work/example.py"
TEXT = "def greet(name):\n    return \n\nprint(greet('x'))\n"


def fixed_mock(reply: str, **inline: Any) -> dict[str, Any]:
    return {
        "defaultProvider": "mock",
        "providers": {"mock": {"mode": "fixed", "reply": reply}},
        "editor": {"inlineCompletion": {"debounceMs": 0, **inline}},
    }


def open_doc(d: Daemon, text: str = TEXT, uri: str = URI, language: str = "python") -> None:
    d.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}},
    )


def change(d: Daemon, line: int, char: int, new: str, version: int, uri: str = URI) -> None:
    """An incremental edit: insert `new` at (line, char)."""
    at = {"line": line, "character": char}
    d.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": at, "end": at}, "text": new}],
        },
    )


async def complete(d: Daemon, line: int, char: int, uri: str = URI, kind: int = 1) -> Any:
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=char),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind(kind)),
    )
    return await d.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params)


def items(result: Any) -> list[Any]:
    if result is None:
        return []
    found = result.items if hasattr(result, "items") else result.get("items", result)
    return list(found)


def insert_text(item: Any) -> str:
    text = item.insert_text if hasattr(item, "insert_text") else item["insertText"]
    return text if isinstance(text, str) else text.value


def command_args(item: Any) -> list[Any]:
    command = item.command if hasattr(item, "command") else item["command"]
    return list(command.arguments if hasattr(command, "arguments") else command["arguments"])


async def accept(d: Daemon, item_id: str) -> Any:
    """What an editor does on accepting an item: run the item's command."""
    params = types.ExecuteCommandParams(
        command="dspex.inlineCompletion.accept", arguments=[item_id]
    )
    return await d.request(types.WORKSPACE_EXECUTE_COMMAND, params)


async def test_initialize_advertises_inline_completion_and_incremental_sync(
    env: dict[str, str],
) -> None:
    async with start_daemon(env) as d:
        caps = d.initialize_result.capabilities
        assert caps.inline_completion_provider is not None
        assert caps.text_document_sync.open_close is True
        assert caps.text_document_sync.change == 2  # Incremental
        assert "dspex.inlineCompletion.accept" in caps.execute_command_provider.commands


async def test_an_inline_completion_comes_from_the_configured_provider(
    env: dict[str, str],
) -> None:
    async with start_daemon(env, initialization_options=fixed_mock("name.upper()")) as d:
        open_doc(d)
        result = await complete(d, 1, 11)
        (item,) = items(result)
        assert insert_text(item) == "name.upper()"
        assert len(command_args(item)) == 1


async def test_the_prompt_is_the_synced_text_around_the_cursor(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    options = {"defaultProvider": "openai", "editor": {"inlineCompletion": {"debounceMs": 0}}}
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d)
        change(d, 1, 11, "f'Hello, ", version=2)  # incremental: `return f'Hello, `
        fake_openai.queue(Reply(text="```python\n    return f'Hello, {name}'\n```"))
        (item,) = items(await complete(d, 1, 20))
        # The fence and the repeated line are cleaned off a chat model's answer.
        assert insert_text(item) == "{name}'"
        (sent,) = [r for r in fake_openai.requests if r.path.endswith("/chat/completions")]
        user = sent.body["messages"][-1]["content"]
        assert "    return f'Hello, <CURSOR>\n\nprint(greet('x'))" in user
        assert 128 in (sent.body.get("max_tokens"), sent.body.get("max_completion_tokens"))


async def test_a_language_can_be_turned_off(env: dict[str, str]) -> None:
    options = fixed_mock("x", languages={"markdown": False})
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d, "# Title\n", uri="file:///work/README.md", language="markdown")
        assert items(await complete(d, 0, 7, uri="file:///work/README.md")) == []
        open_doc(d)
        assert [insert_text(i) for i in items(await complete(d, 1, 11))] == ["x"]


async def test_the_context_budget_cuts_the_prefix_at_a_line(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    options = {
        "defaultProvider": "openai",
        "editor": {"inlineCompletion": {"debounceMs": 0, "prefixChars": 30, "suffixChars": 10}},
    }
    text = "".join(f"line number {i}\n" for i in range(50))
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d, text)
        fake_openai.queue(Reply(text="ok"))
        await complete(d, 40, 0)
        user = fake_openai.requests[-1].body["messages"][-1]["content"]
        body = user.split("\n", 1)[1]  # after the `File:` line
        assert body.startswith("line number 39\n<CURSOR>line")  # whole lines only
        assert "line number 38" not in body and "line number 41" not in body


@pytest.fixture
async def fake_fim() -> AsyncIterator[FakeFim]:
    fake = FakeFim()
    async with fake:
        yield fake


async def test_mistral_fills_in_the_middle_on_its_fim_endpoint(
    env: dict[str, str], fake_fim: FakeFim
) -> None:
    env = {
        **env,
        "MISTRAL_API_KEY": fake_fim.api_key or "",
        "MISTRAL_BASE_URL": fake_fim.base_url + "/v1",
    }
    options = {"editor": {"inlineCompletion": {"provider": "mistral", "debounceMs": 0}}}
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d)
        (item,) = items(await complete(d, 1, 11))
        (sent,) = fake_fim.requests
        assert sent.path == "/v1/fim/completions"
        assert sent.body["model"] == "codestral-latest"
        assert sent.body["prompt"] == "def greet(name):\n    return "
        assert sent.body["suffix"] == "\n\nprint(greet('x'))\n"
        assert insert_text(item) == fill_for(sent.body["prompt"], sent.body["suffix"])
        assert "sk-test-fake-key" not in repr(item)


async def test_ollama_fills_in_the_middle_with_suffix(
    env: dict[str, str], fake_fim: FakeFim
) -> None:
    env = {**env, "OLLAMA_HOST": fake_fim.base_url}
    options = {
        "editor": {
            "inlineCompletion": {"provider": "ollama", "model": "qwen2.5-coder", "debounceMs": 0}
        }
    }
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d)
        (item,) = items(await complete(d, 1, 11))
        (sent,) = fake_fim.requests
        assert sent.path == "/api/generate"
        assert sent.body["model"] == "qwen2.5-coder"
        assert sent.body["stream"] is False
        assert sent.body["suffix"] == "\n\nprint(greet('x'))\n"
        assert insert_text(item) == "filled(return|print(greet('x')))"


async def test_a_newer_request_cancels_the_older_one_and_its_provider_call(
    env: dict[str, str], fake_fim: FakeFim
) -> None:
    env = {**env, "OLLAMA_HOST": fake_fim.base_url}
    options = {"editor": {"inlineCompletion": {"provider": "ollama", "debounceMs": 0}}}
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d)
        fake_fim.queue(Reply(text="slow", delay_s=10.0), Reply(text="fast"))
        first = asyncio.ensure_future(complete(d, 1, 11))
        for _ in range(200):  # until the slow request reached the fake
            if fake_fim.requests:
                break
            await asyncio.sleep(0.02)
        change(d, 1, 11, "n", version=2)
        second = await asyncio.wait_for(complete(d, 1, 12), 10)
        assert [insert_text(i) for i in items(second)] == ["fast"]
        with pytest.raises(JsonRpcException) as cancelled:
            await asyncio.wait_for(first, 10)
        assert cancelled.value.code == -32800
        await asyncio.wait_for(fake_fim.disconnected.wait(), 10)  # the HTTP call was closed
        stats = await d.request("dspex/analytics/inlineCompletion", {})
        assert stats["total"]["cancelled"] == 1
        assert stats["total"]["offered"] == 1


async def test_automatic_requests_are_debounced(env: dict[str, str], fake_fim: FakeFim) -> None:
    env = {**env, "OLLAMA_HOST": fake_fim.base_url}
    options = {"editor": {"inlineCompletion": {"provider": "ollama", "debounceMs": 300}}}
    async with start_daemon(env, initialization_options=options) as d:
        open_doc(d)
        burst = [asyncio.ensure_future(complete(d, 1, 11, kind=2)) for _ in range(3)]
        done = await asyncio.gather(*burst, return_exceptions=True)
        assert sum(isinstance(r, JsonRpcException) for r in done) == 2
        assert len(fake_fim.requests) == 1  # only the last one reached the provider


async def test_acceptance_is_counted_from_did_show_and_the_accept_command(
    env: dict[str, str],
) -> None:
    async with start_daemon(env, initialization_options=fixed_mock("name")) as d:
        open_doc(d)
        ids = []
        for _ in range(3):
            (item,) = items(await complete(d, 1, 11))
            ids.append(command_args(item)[0])
        for item_id in ids[:2]:
            d.notify("dspex/inlineCompletion/didShow", {"id": item_id})
        accepted = await accept(d, ids[0])
        assert accepted["accepted"] is True
        again = await accept(d, ids[0])
        assert again["accepted"] is False  # counted once
        stats = await d.request("dspex/analytics/inlineCompletion", {})
        total = stats["total"]
        assert (total["offered"], total["shown"], total["accepted"]) == (3, 2, 1)
        assert total["acceptRate"] == 0.5
        assert stats["byLanguage"]["python"]["offered"] == 3
        assert stats["byProvider"]["mock"]["accepted"] == 1
        assert stats["meanLatencyMs"] > 0
