"""Anthropic server tools through the daemon against the fake: asked for by common name,
answered as server_tool parts (never tool calls), plain and streamed, sent back in the
history as their use and result blocks; pause_turn, refusals and unknown block types."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic_support import (
    MODES,
    P,
    ask,
    d,
    fake,
    fresh_fake,
    last_body,
    message_of,
    refused,
    streamed_parts,
)
from daemon import Daemon
from fakes.anthropic_server import FakeAnthropic
from fakes.base import Refusal, Reply, ServerTool
from provider_checks import chat, streamed_text

__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here
pytestmark = pytest.mark.asyncio(loop_scope="module")

RESULTS = [
    {
        "type": "web_search_result",
        "url": "https://weather.example/paris",
        "title": "Paris weather",
        "encrypted_content": "EqgfCioIARgBIiQ3",
        "page_age": "2 hours ago",
    }
]
SEARCH = ServerTool(
    "srvtoolu_01Search",
    "web_search",
    {"query": "weather in Paris today", "max_results": 5},
    RESULTS,
    "web_search_tool_result",
)
MCP = {"name": "mcp", "config": {"type": "url", "url": "https://mcp.example/mcp", "name": "wiki"}}


@pytest.mark.parametrize(
    ("tool", "declared", "beta"),
    [
        ({"name": "web_search", "config": {"max_uses": 3}}, "web_search_20250305", None),
        ({"name": "web_fetch"}, "web_fetch_20250910", "web-fetch-2025-09-10"),
        ({"name": "code_execution"}, "code_execution_20250825", "code-execution-2025-08-25"),
    ],
)
async def test_server_tools_are_declared_with_their_documented_type_and_beta(
    d: Daemon, fake: FakeAnthropic, tool: dict[str, Any], declared: str, beta: str | None
) -> None:
    await chat(d, P, serverTools=[tool])
    body = last_body(fake)
    assert body["tools"] == [{"type": declared, "name": tool["name"], **tool.get("config", {})}]
    assert "tool_choice" not in body  # no client tools: nothing to choose
    assert fake.requests[-1].headers.get("anthropic-beta") == beta


async def test_an_mcp_server_is_declared_with_its_beta(d: Daemon, fake: FakeAnthropic) -> None:
    await chat(d, P, serverTools=[MCP])
    body = last_body(fake)
    assert body["mcp_servers"] == [MCP["config"]]
    assert "tools" not in body
    assert fake.requests[-1].headers["anthropic-beta"] == "mcp-client-2025-04-04"


@pytest.mark.parametrize(
    ("tool", "words"),
    [
        ({"name": "file_search"}, "no server tool 'file_search'"),
        ({"name": "mcp", "config": {"name": "wiki"}}, "needs config.url and config.name"),
    ],
)
async def test_server_tools_anthropic_lacks_are_refused(
    d: Daemon, fake: FakeAnthropic, tool: dict[str, Any], words: str
) -> None:
    assert words in await refused(d, fake, serverTools=[tool])


@MODES
async def test_web_search_is_a_server_tool_part_not_a_tool_call(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.queue(Reply(blocks=["Let me look that up.", SEARCH, "It is sunny in Paris."]))
    result, partials = await ask(d, streamed, serverTools=[{"name": "web_search"}])
    message = message_of(result)
    assert "toolCalls" not in message
    assert result["choices"][0]["finishReason"] == "stop"
    assert message["content"] == "Let me look that up.It is sunny in Paris."
    assert [p["type"] for p in message["parts"]] == ["text", "server_tool", "text"]
    expected = {
        "type": "server_tool",
        "id": "srvtoolu_01Search",
        "name": "web_search",
        # Streamed, the input came in several input_json_delta pieces.
        "input": {"query": "weather in Paris today", "max_results": 5},
        "output": RESULTS,
        "resultType": "web_search_tool_result",
        "isError": False,
        "provider": P,
    }
    assert message["parts"][1] == expected
    if streamed:
        assert streamed_text(partials) == message["content"]
        assert streamed_parts(partials) == [{k: v for k, v in expected.items() if k != "provider"}]
        assert not any(c["delta"].get("toolCalls") for c in partials)


@MODES
async def test_a_failed_code_execution_is_an_error_result(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    failure = {"type": "code_execution_tool_result_error", "error_code": "unavailable"}
    run = ServerTool(
        "srvtoolu_01Run", "code_execution", {"code": "1/0"}, failure, "code_execution_tool_result"
    )
    fake.queue(Reply(blocks=[run, "The sandbox is unavailable."]))
    result, _ = await ask(d, streamed, serverTools=[{"name": "code_execution"}])
    part = message_of(result)["parts"][0]
    assert (part["isError"], part["output"]) == (True, failure)


@MODES
async def test_mcp_tool_use_round_trips_with_its_server_name(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    content = [{"type": "text", "text": "A Python agent framework."}]
    use = ServerTool("mcptoolu_01Ask", "ask_question", {"repo": "a/b"}, content, "mcp_tool_result")
    fake.queue(Reply(blocks=[use, "It is an agent framework."]))
    ask_user = {"role": "user", "content": "What is a/b?"}
    result, _ = await ask(d, streamed, messages=[ask_user], serverTools=[MCP])
    answer = message_of(result)
    part = answer["parts"][0]
    assert (part["name"], part["input"], part["resultType"]) == (
        "ask_question",
        {"repo": "a/b"},
        "mcp_tool_result",
    )

    history = [ask_user, answer, {"role": "user", "content": "Thanks"}]
    await chat(d, P, messages=history, serverTools=[MCP])
    assert last_body(fake)["messages"][1]["content"][:2] == [
        {
            "type": "mcp_tool_use",
            "id": "mcptoolu_01Ask",
            "name": "ask_question",
            "input": {"repo": "a/b"},
            "server_name": "wiki",
        },
        {
            "type": "mcp_tool_result",
            "tool_use_id": "mcptoolu_01Ask",
            "content": content,
            "is_error": False,
        },
    ]


async def test_an_mcp_call_in_the_history_needs_its_server(d: Daemon, fake: FakeAnthropic) -> None:
    part = {"type": "server_tool", "id": "mcptoolu_01", "name": "ask", "provider": P}
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "parts": [part]},
        {"role": "user", "content": "more"},
    ]
    assert "list the MCP server that ran it" in await refused(d, fake, messages=history)


async def test_server_tool_parts_go_back_as_use_and_result_blocks(
    d: Daemon, fake: FakeAnthropic
) -> None:
    fake.queue(Reply(blocks=["Searching.", SEARCH, "Sunny."]))
    ask_user = {"role": "user", "content": "Weather?"}
    answer = message_of(await chat(d, P, messages=[ask_user], serverTools=[{"name": "web_search"}]))
    history = [ask_user, answer, {"role": "user", "content": "And tomorrow?"}]
    await chat(d, P, messages=history, serverTools=[{"name": "web_search"}])
    assert last_body(fake)["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Searching."},
            {
                "type": "server_tool_use",
                "id": SEARCH.id,
                "name": "web_search",
                "input": SEARCH.input,
            },
            {"type": "web_search_tool_result", "tool_use_id": SEARCH.id, "content": RESULTS},
            {"type": "text", "text": "Sunny."},
        ],
    }


@MODES
async def test_a_paused_turn_ends_with_the_pending_server_tool_and_can_be_continued(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    pending = ServerTool("srvtoolu_01Next", "web_search", {"query": "more"})
    fake.queue(Reply(blocks=["Still searching.", pending], finish_reason="pause_turn"))
    ask_user = {"role": "user", "content": "Research this"}
    result, _ = await ask(d, streamed, messages=[ask_user], serverTools=[{"name": "web_search"}])
    assert result["choices"][0]["finishReason"] == "stop"
    answer = message_of(result)
    assert answer["parts"][1] == {
        "type": "server_tool",
        "id": "srvtoolu_01Next",
        "name": "web_search",
        "input": {"query": "more"},
        "isError": False,
        "provider": P,
    }
    # Sent back as the last message, the API continues the paused turn.
    await chat(d, P, messages=[ask_user, answer], serverTools=[{"name": "web_search"}])
    assert last_body(fake)["messages"][-1]["content"][-1] == {
        "type": "server_tool_use",
        "id": "srvtoolu_01Next",
        "name": "web_search",
        "input": {"query": "more"},
    }


@MODES
async def test_a_refusal_stop_reason_is_content_filter(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.queue(Reply(blocks=["I started to", Refusal("")]))
    result, _ = await ask(d, streamed)
    assert result["choices"][0]["finishReason"] == "content_filter"
    assert message_of(result)["content"] == "I started to"


@MODES
async def test_block_types_added_later_are_skipped(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.unknown_blocks = [{"type": "compaction", "content": "A summary of the talk so far."}]
    fake.queue(Reply(text="Hello after the summary."))
    result, partials = await ask(d, streamed)
    assert message_of(result) == {"role": "assistant", "content": "Hello after the summary."}
    assert result["choices"][0]["finishReason"] == "stop"
    if streamed:
        assert streamed_text(partials) == "Hello after the summary."
