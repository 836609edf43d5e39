"""`workspace/executeCommand` for every LSP client: `dspex.chat` and `dspex.explain` answer,
and show the answer (a short one with window/showMessage, a long one as a markdown file
opened with window/showDocument); a cancelled command stops its provider call."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from daemon import Daemon, start_daemon
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from raw_daemon import raw_daemon

URI = "file:///work/greet.py"
TEXT = "import sys\n\ndef greet(name):\n    return f'Hello, {name}'\n\nprint(greet(sys.argv[1]))\n"
LONG = "\n".join(f"Line {i} of a long explanation." for i in range(20))
SHOW_DOCUMENT = types.ClientCapabilities(
    window=types.WindowClientCapabilities(
        show_document=types.ShowDocumentClientCapabilities(support=True)
    )
)


@pytest.fixture
def cache_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def mock(mode: str = "echo", reply: str = "") -> dict[str, Any]:
    return {"defaultProvider": "mock", "providers": {"mock": {"mode": mode, "reply": reply}}}


async def execute(d: Daemon, command: str, *arguments: Any) -> Any:
    params = types.ExecuteCommandParams(command=command, arguments=list(arguments))
    return await d.request(types.WORKSPACE_EXECUTE_COMMAND, params)


def messages(d: Daemon) -> list[str]:
    return [m.message if hasattr(m, "message") else m["message"] for m in d.client.messages]


async def eventually(check: Any, wait_s: float = 5.0) -> None:
    for _ in range(int(wait_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def test_initialize_advertises_the_chat_and_explain_commands(env: dict[str, str]) -> None:
    async with start_daemon(env) as d:
        commands = d.initialize_result.capabilities.execute_command_provider.commands
        assert {"dspex.chat", "dspex.explain", "dspex.predict"} <= set(commands)


async def test_a_short_chat_answer_is_shown_as_a_message(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        answer = await execute(d, "dspex.chat", {"prompt": "hello from a command"})
        assert answer["text"] == "hello from a command"
        assert answer["shown"] == "message" and answer["provider"] == "mock"
        await eventually(lambda: "hello from a command" in messages(d))


async def test_the_prompt_may_be_a_bare_string(env: dict[str, str]) -> None:
    # Helix: `:lsp-workspace-command dspex.chat "..."` sends one JSON string.
    async with start_daemon(env, initialization_options=mock()) as d:
        answer = await execute(d, "dspex.chat", "just a string")
        assert answer["text"] == "just a string"


async def test_a_long_answer_is_opened_as_a_markdown_document(cache_env: dict[str, str]) -> None:
    options = mock("fixed", LONG)
    async with start_daemon(cache_env, options, capabilities=SHOW_DOCUMENT) as d:
        answer = await execute(d, "dspex.chat", {"prompt": "explain everything"})
        assert answer["shown"] == "document"
        path = Path(urlparse(answer["uri"]).path)
        assert path.is_relative_to(Path(cache_env["XDG_CACHE_HOME"]) / "dspex" / "answers")
        content = path.read_text(encoding="utf-8")
        assert content.startswith("# explain everything\n") and LONG in content
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        await eventually(lambda: bool(d.client.shown_documents))
        (shown,) = d.client.shown_documents
        assert (shown.uri, shown.take_focus) == (answer["uri"], True)
        assert messages(d) == []


async def test_without_show_document_a_long_answer_is_a_message(
    cache_env: dict[str, str],
) -> None:
    async with start_daemon(cache_env, initialization_options=mock("fixed", LONG)) as d:
        answer = await execute(d, "dspex.chat", {"prompt": "explain everything"})
        assert answer["shown"] == "message" and "uri" not in answer
        await eventually(lambda: LONG in messages(d))
        assert not (Path(cache_env["XDG_CACHE_HOME"]) / "dspex").exists()


async def test_show_none_only_returns_the_answer(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        answer = await execute(d, "dspex.chat", {"prompt": "quiet", "show": "none"})
        assert (answer["text"], answer["shown"]) == ("quiet", "none")
        await asyncio.sleep(0.2)
        assert messages(d) == []


async def test_explain_sends_the_selected_range_in_the_documents_language(
    env: dict[str, str],
) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        d.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}},
        )
        selected = {"start": {"line": 2, "character": 0}, "end": {"line": 4, "character": 0}}
        answer = await execute(d, "dspex.explain", {"uri": URI, "range": selected, "show": "none"})
        # The echo mock answers the prompt it was sent.
        prompt = answer["text"]
        assert prompt.startswith("Explain this python.")
        assert "from greet.py" in prompt
        assert "```python\ndef greet(name):\n    return f'Hello, {name}'\n```" in prompt
        assert "import sys" not in prompt


async def test_explain_takes_a_path_and_one_based_lines(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Helix: {"path": "%{buffer_name}", "startLine": %{selection_line_start}, ...}
    source = tmp_path / "greet.py"
    source.write_text(TEXT, encoding="utf-8")
    async with start_daemon(env, initialization_options=mock()) as d:
        args = {"path": str(source), "startLine": 1, "endLine": 1, "show": "none"}
        answer = await execute(d, "dspex.explain", args)
        assert "```python\nimport sys\n```" in answer["text"]


async def test_explain_takes_the_text_itself(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        args = {"text": "SELECT 1", "language": "sql", "question": "Why?", "show": "none"}
        answer = await execute(d, "dspex.explain", args)
        assert answer["text"].startswith("Why?") and "```sql\nSELECT 1\n```" in answer["text"]


async def test_explain_of_a_missing_document_is_invalid_params(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        with pytest.raises(JsonRpcException) as refused:
            await execute(d, "dspex.explain", {"uri": "file:///no/such/file.py"})
        assert refused.value.code == -32602
        assert "no such document: file:///no/such/file.py" in str(refused.value)


async def test_explain_takes_one_source(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        with pytest.raises(JsonRpcException) as both:
            await execute(d, "dspex.explain", {"text": "x", "uri": URI})
        assert both.value.code == -32602
        assert "give exactly one of uri, path or text" in str(both.value)


async def test_chat_arguments_are_validated(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        with pytest.raises(JsonRpcException) as refused:
            await execute(d, "dspex.chat", {"prompt": "x", "show": "popup"})
        assert refused.value.code == -32602
        assert "show" in str(refused.value)
        answer = await execute(d, "dspex.chat", {"prompt": "still alive"})
        assert answer["text"] == "still alive"


async def test_a_cancelled_command_stops_its_provider_call(env: dict[str, str]) -> None:
    options = {**mock(), "providers": {"mock": {"latencyMs": 3000}}}
    async with raw_daemon(env, options) as d:
        params = {"command": "dspex.chat", "arguments": [{"prompt": "slow"}]}
        msg_id = d.send_request("workspace/executeCommand", params)
        await asyncio.sleep(0.5)
        d.cancel(msg_id)
        answer = await d.answer(msg_id, wait_s=2)  # well before the mock's 3 s
        assert answer["error"]["code"] == -32800
        for _ in range(20):  # the provider call ends well before the mock would answer
            stats = await d.result("dspex/stats", {"provider": "mock"})
            entry = stats["providers"][0]
            if entry["inFlight"] == 0:
                break
            await asyncio.sleep(0.05)
        assert entry["inFlight"] == 0 and entry["requestsCancelled"] == 1
        await asyncio.sleep(3)
        assert len(d.answers[msg_id]) == 1
