"""Anthropic request options through the daemon against the fake: prompt-cache breakpoints
and cache usage, user/metadata, parallel tool calls, strict tools, documents, and the
options the Messages API has no way to honour (refused, never dropped)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from anthropic_support import MODES, P, ask, d, fake, fresh_fake, last_body, refused
from daemon import Daemon
from fakes.anthropic_server import FakeAnthropic
from fakes.base import Reply
from provider_checks import WEATHER_TOOL, chat

__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here
pytestmark = pytest.mark.asyncio(loop_scope="module")

CACHED = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


async def test_cache_control_marks_the_message_part_tool_and_system_asked_for(
    d: Daemon, fake: FakeAnthropic
) -> None:
    messages = [
        {"role": "system", "content": "Long instructions.", "cacheControl": HOUR},
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "A long document.", "cacheControl": CACHED},
                {"type": "text", "text": "Question one?"},
            ],
        },
        {"role": "assistant", "content": "Answer one."},
        {"role": "user", "content": "Question two?", "cacheControl": CACHED},
    ]
    tool = {**WEATHER_TOOL, "cacheControl": CACHED}
    await chat(d, P, messages=messages, tools=[tool])
    body = last_body(fake)
    assert body["system"] == [
        {"type": "text", "text": "Long instructions.", "cache_control": HOUR},
        {"type": "text", "text": "Be brief."},
    ]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "A long document.", "cache_control": CACHED},
        {"type": "text", "text": "Question one?"},
    ]
    assert body["messages"][2]["content"] == [
        {"type": "text", "text": "Question two?", "cache_control": CACHED}
    ]
    assert body["tools"][0]["cache_control"] == CACHED
    assert "anthropic-beta" not in fake.requests[-1].headers  # the 1-hour TTL needs none


async def test_a_tool_result_takes_the_breakpoint_of_its_message(
    d: Daemon, fake: FakeAnthropic
) -> None:
    call = {"id": "toolu_1", "name": "get_weather", "arguments": {"city": "Oslo"}}
    messages = [
        {"role": "user", "content": "Oslo?"},
        {"role": "assistant", "toolCalls": [call]},
        {"role": "tool", "toolCallId": "toolu_1", "content": "snow", "cacheControl": CACHED},
    ]
    await chat(d, P, messages=messages, tools=[WEATHER_TOOL])
    result = last_body(fake)["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and result["cache_control"] == CACHED


async def test_more_than_four_breakpoints_are_refused(d: Daemon, fake: FakeAnthropic) -> None:
    messages = [
        {"role": "user", "content": f"part {i}", "cacheControl": CACHED}
        if i % 2 == 0
        else {"role": "assistant", "content": f"part {i}", "cacheControl": CACHED}
        for i in range(5)
    ]
    assert "at most 4 cache breakpoints" in await refused(d, fake, messages=messages)


@MODES
async def test_cache_reads_and_writes_are_in_usage_and_cost(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.queue(Reply(text="ok", prompt_tokens=20, cached_tokens=1000, cache_write_tokens=500))
    result, _ = await ask(d, streamed)
    usage = result["usage"]
    assert usage["promptTokens"] == 1520  # uncached + reads + writes
    assert usage["cachedTokens"] == 1000
    assert usage["cacheWriteTokens"] == 500
    assert usage["totalTokens"] == 1520 + usage["completionTokens"]
    assert result["cost"]["total"] > 0


async def test_user_becomes_metadata_user_id(d: Daemon, fake: FakeAnthropic) -> None:
    await chat(d, P, user="user-42")
    assert last_body(fake)["metadata"] == {"user_id": "user-42"}
    await chat(d, P, metadata={"user_id": "user-43"})
    assert last_body(fake)["metadata"] == {"user_id": "user-43"}


async def test_other_metadata_keys_are_refused(d: Daemon, fake: FakeAnthropic) -> None:
    assert "metadata takes only user_id" in await refused(d, fake, metadata={"tenant": "acme"})


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (None, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"type": "any", "disable_parallel_tool_use": True}),
        ("none", {"type": "none"}),
    ],
)
async def test_parallel_tool_calls_false_disables_parallel_tool_use(
    d: Daemon, fake: FakeAnthropic, choice: str | None, wire: dict[str, Any]
) -> None:
    extra = {"toolChoice": choice} if choice else {}
    await chat(d, P, tools=[WEATHER_TOOL], parallelToolCalls=False, **extra)
    assert last_body(fake)["tool_choice"] == wire


async def test_a_strict_tool_is_sent_strict(d: Daemon, fake: FakeAnthropic) -> None:
    await chat(d, P, tools=[{**WEATHER_TOOL, "strict": True}])
    assert last_body(fake)["tools"][0]["strict"] is True
    assert "anthropic-beta" not in fake.requests[-1].headers  # strict tool use is GA


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", 7),
        ("n", 2),
        ("logprobs", True),
        ("topLogprobs", 3),
        ("frequencyPenalty", 0.5),
        ("presencePenalty", 0.5),
        ("cachedContent", "cachedContents/abc"),
        ("previousResponseId", "resp_1"),
    ],
)
async def test_options_the_messages_api_lacks_are_refused(
    d: Daemon, fake: FakeAnthropic, option: str, value: Any
) -> None:
    assert option in await refused(d, fake, **{option: value})


PDF = base64.b64encode(b"%PDF-1.4 fake").decode()
NOTES = base64.b64encode(b"Meeting notes: ship it.").decode()


async def test_documents_become_document_blocks(d: Daemon, fake: FakeAnthropic) -> None:
    content = [
        {"type": "document", "data": PDF, "mimeType": "application/pdf", "name": "report.pdf"},
        {"type": "document", "url": "https://example.com/paper.pdf", "cacheControl": CACHED},
        {"type": "document", "data": NOTES, "mimeType": "text/plain", "name": "notes"},
        {"type": "text", "text": "Summarise these."},
    ]
    await chat(d, P, messages=[{"role": "user", "content": content}])
    assert last_body(fake)["messages"][0]["content"][:3] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
            "title": "report.pdf",
        },
        {
            "type": "document",
            "source": {"type": "url", "url": "https://example.com/paper.pdf"},
            "cache_control": CACHED,
        },
        {
            "type": "document",
            "source": {
                "type": "text",
                "media_type": "text/plain",
                "data": "Meeting notes: ship it.",
            },
            "title": "notes",
        },
    ]


@pytest.mark.parametrize(
    ("part", "words"),
    [
        (
            {"type": "document", "data": PDF, "mimeType": "application/msword"},
            "PDF and text/plain documents",
        ),
        (
            {"type": "document", "url": "https://example.com/a.txt", "mimeType": "text/plain"},
            "by URL as PDFs only",
        ),
        ({"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"}, "audio parts"),
    ],
)
async def test_parts_anthropic_cannot_take_are_refused(
    d: Daemon, fake: FakeAnthropic, part: dict[str, Any], words: str
) -> None:
    message = {"role": "user", "content": [part, {"type": "text", "text": "?"}]}
    assert words in await refused(d, fake, messages=[message])
