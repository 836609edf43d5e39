"""ConverseStream decoding does not depend on how the network splits the frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fakes.bedrock_server import event
from hypothesis import given, settings
from hypothesis import strategies as st

MODEL = "amazon.nova-lite-v1:0"


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=40))
def test_event_stream_frames_split_anywhere_decode_the_same(sizes: list[int]) -> None:
    from dspex_server.config import ConfigStore
    from dspex_server.providers.bedrock import BedrockAdapter
    from dspex_server.providers.bedrock_stream import ConverseStreamParser
    from dspex_server.providers.registry import AdapterRegistry

    stream = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}}),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            event("messageStop", {"stopReason": "end_turn"}),
            event("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}}),
        ]
    )
    pieces, start = [], 0
    for size in sizes * (len(stream) // max(1, sum(sizes)) + 1):
        pieces.append(stream[start : start + size])
        start += size
        if start >= len(stream):
            break
    if start < len(stream):
        pieces.append(stream[start:])

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async def decode() -> list[Any]:
        registry = AdapterRegistry(
            ConfigStore({"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"})
        )
        adapter = await registry.get("bedrock")
        assert isinstance(adapter, BedrockAdapter)
        try:
            return [p async for p in ConverseStreamParser(adapter, MODEL).parts(chunks())]
        finally:
            await registry.aclose()

    parts = asyncio.run(decode())
    assert "".join(p.delta.content for p in parts if p.delta and p.delta.content) == "Hello"
    assert [p.finish_reason for p in parts if p.finish_reason] == ["stop"]
    assert [p.usage.total_tokens for p in parts if p.usage] == [5]


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(
        st.tuples(st.text(alphabet="abcxyz ", min_size=1, max_size=6), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    size=st.integers(min_value=1, max_value=61),
)
def test_damaged_frames_are_skipped_wherever_they_fall(
    words: list[tuple[str, bool]], size: int
) -> None:
    """Frames whose message CRC is wrong (`damaged`), anywhere in the stream and split at
    any byte: each is skipped and counted, every sound delta is delivered in order."""
    from fakes.bedrock_server import corrupt

    from dspex_server.config import ConfigStore
    from dspex_server.providers.bedrock import BedrockAdapter
    from dspex_server.providers.bedrock_stream import ConverseStreamParser
    from dspex_server.providers.registry import AdapterRegistry

    def delta(text: str) -> bytes:
        return event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})

    frames = [event("messageStart", {"role": "assistant"})]
    frames += [corrupt(delta(w)) if damaged else delta(w) for w, damaged in words]
    frames += [event("messageStop", {"stopReason": "end_turn"})]
    frames += [event("metadata", {"usage": {"inputTokens": 1, "outputTokens": 1}})]
    stream = b"".join(frames)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(stream), size):
            yield stream[start : start + size]

    async def decode() -> list[Any]:
        registry = AdapterRegistry(
            ConfigStore({"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"})
        )
        adapter = await registry.get("bedrock")
        assert isinstance(adapter, BedrockAdapter)
        try:
            return [p async for p in ConverseStreamParser(adapter, MODEL).parts(chunks())]
        finally:
            await registry.aclose()

    parts = asyncio.run(decode())
    sound = "".join(w for w, damaged in words if not damaged)
    assert "".join(p.delta.content for p in parts if p.delta and p.delta.content) == sound
    assert sum(p.malformed for p in parts) == sum(damaged for _, damaged in words)
    assert [p.finish_reason for p in parts if p.finish_reason] == ["stop"]
