"""Bedrock request options through the daemon against the fake Converse API: prompt
caching (cachePoint blocks, cache usage), options mapped (outputConfig, requestMetadata,
strict tools) or refused before anything is sent, documents and audio, and
`dspex/predict` on Bedrock using only what the adapter maps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bedrock_support import bedrock, fake_bedrock, fresh_script
from daemon import Daemon
from fakes.base import Reply
from fakes.bedrock_server import FakeBedrock
from provider_cases import WEATHER_TOOL, rpc_error

pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["bedrock", "fake_bedrock", "fresh_script"]  # module-scoped fixtures used here

CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA = "amazon.nova-lite-v1:0"
PDF_B64 = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def chat(messages: list[dict[str, Any]], model: str = CLAUDE, **extra: Any) -> dict[str, Any]:
    return {"provider": "bedrock", "model": model, "messages": messages, **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def sent(fake: FakeBedrock) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


# -- prompt caching ---------------------------------------------------------------------


async def test_cache_control_places_cache_points_after_what_it_marks(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    ephemeral = {"type": "ephemeral"}
    messages = [
        {"role": "system", "content": "You answer in one word.", "cacheControl": ephemeral},
        user(
            [
                {"type": "text", "text": "A long shared prefix.", "cacheControl": ephemeral},
                {"type": "text", "text": "The question?"},
            ]
        ),
    ]
    tool = {**WEATHER_TOOL, "cacheControl": {"type": "ephemeral", "ttl": "1h"}}
    await bedrock.request("dspex/chat", chat(messages, tools=[tool]))
    body = sent(fake_bedrock)
    assert fake_bedrock.validation_failures == []
    assert body["system"] == [
        {"text": "You answer in one word."},
        {"cachePoint": {"type": "default"}},
    ]
    assert body["messages"][0]["content"] == [
        {"text": "A long shared prefix."},
        {"cachePoint": {"type": "default"}},
        {"text": "The question?"},
    ]
    assert body["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default", "ttl": "1h"}}


async def test_a_cached_message_ends_with_a_cache_point(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    messages = [{"role": "user", "content": "Read this.", "cacheControl": {"type": "ephemeral"}}]
    await bedrock.request("dspex/chat", chat(messages, model=NOVA))
    assert sent(fake_bedrock)["messages"][0]["content"] == [
        {"text": "Read this."},
        {"cachePoint": {"type": "default"}},
    ]


async def test_a_cache_point_right_after_a_document_is_refused_before_sending(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    document = {
        "type": "document",
        "data": PDF_B64,
        "mimeType": "application/pdf",
        "cacheControl": {"type": "ephemeral"},
    }
    data = await rpc_error(
        bedrock, "dspex/chat", chat([user([{"type": "text", "text": "See:"}, document])])
    )
    assert data["kind"] == "invalid_messages"
    assert "after a document" in data["message"]
    assert fake_bedrock.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_cache_reads_and_writes_are_in_usage_and_prompt_tokens(
    bedrock: Daemon, fake_bedrock: FakeBedrock, stream: bool
) -> None:
    fake_bedrock.queue(
        Reply(
            text="5",
            prompt_tokens=13,
            completion_tokens=5,
            cached_tokens=1504,
            cache_write_tokens=20,
        )
    )
    extra = {"partialResultToken": "cache"} if stream else {}
    result = await bedrock.request("dspex/chat", chat([user("What is 2 + 3?")], **extra))
    assert result["usage"] == {
        "promptTokens": 13 + 1504 + 20,
        "completionTokens": 5,
        "totalTokens": 13 + 1504 + 20 + 5,
        "cachedTokens": 1504,
        "cacheWriteTokens": 20,
    }


# -- options mapped or refused -------------------------------------------------------------


async def test_json_schema_is_converse_output_config(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(text='{"city": "Paris"}'))
    fmt = {"type": "json_schema", "name": "CityInfo", "schema": SCHEMA}
    result = await bedrock.request(
        "dspex/chat", chat([user("Capital of France?")], responseFormat=fmt)
    )
    assert json.loads(result["choices"][0]["message"]["content"]) == {"city": "Paris"}
    definition = sent(fake_bedrock)["outputConfig"]["textFormat"]
    assert definition["type"] == "json_schema"
    assert definition["structure"]["jsonSchema"]["name"] == "CityInfo"
    assert json.loads(definition["structure"]["jsonSchema"]["schema"]) == SCHEMA


async def test_json_object_is_asked_in_the_system_prompt(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    await bedrock.request(
        "dspex/chat", chat([user("Capital of France?")], responseFormat={"type": "json_object"})
    )
    body = sent(fake_bedrock)
    assert "outputConfig" not in body
    assert body["system"] == [{"text": "Respond with a single JSON object and nothing else."}]


async def test_metadata_is_request_metadata(bedrock: Daemon, fake_bedrock: FakeBedrock) -> None:
    tags = {"team": "search", "ticket": "ABC-123"}
    await bedrock.request("dspex/chat", chat([user("Hi")], metadata=tags))
    assert sent(fake_bedrock)["requestMetadata"] == tags
    data = await rpc_error(bedrock, "dspex/chat", chat([user("Hi")], metadata={"bad key!": "x"}))
    assert data["kind"] == "invalid_messages"
    assert "metadata" in data["message"]


async def test_a_strict_tool_is_a_strict_tool_spec(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    await bedrock.request(
        "dspex/chat", chat([user("Weather?")], tools=[{**WEATHER_TOOL, "strict": True}])
    )
    assert sent(fake_bedrock)["toolConfig"]["tools"][0]["toolSpec"]["strict"] is True


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", 7),
        ("n", 2),
        ("logprobs", True),
        ("topLogprobs", 3),
        ("frequencyPenalty", 0.5),
        ("presencePenalty", 0.5),
        ("user", "user-42"),
        ("parallelToolCalls", False),
        ("cachedContent", "cachedContents/abc"),
        ("previousResponseId", "resp_1"),
    ],
)
async def test_options_converse_lacks_are_refused_not_dropped(
    bedrock: Daemon, fake_bedrock: FakeBedrock, option: str, value: Any
) -> None:
    data = await rpc_error(bedrock, "dspex/chat", chat([user("Hi")], **{option: value}))
    assert data["kind"] == "invalid_messages"
    assert option in data["details"]["unsupported"]
    assert fake_bedrock.requests == []


# -- documents and audio -------------------------------------------------------------------


async def test_documents_become_named_document_blocks(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    parts = [
        {"type": "text", "text": "Compare these."},
        {
            "type": "document",
            "data": PDF_B64,
            "mimeType": "application/pdf",
            "name": "Q3_report (final).pdf",
        },
        {
            "type": "document",
            "url": "data:text/plain;base64,aGVsbG8=",
            "name": "Q3_report (final).txt",
        },
        {"type": "document", "url": "s3://my-bucket/notes/summary.md?bucketOwner=111122223333"},
    ]
    await bedrock.request("dspex/chat", chat([user(parts)]))
    assert fake_bedrock.validation_failures == []
    assert sent(fake_bedrock)["messages"][0]["content"][1:] == [
        {"document": {"format": "pdf", "name": "Q3 report (final)", "source": {"bytes": PDF_B64}}},
        {
            "document": {
                "format": "txt",
                "name": "Q3 report (final) (2)",
                "source": {"bytes": "aGVsbG8="},
            }
        },
        {
            "document": {
                "format": "md",
                "name": "document",
                "source": {
                    "s3Location": {
                        "uri": "s3://my-bucket/notes/summary.md",
                        "bucketOwner": "111122223333",
                    }
                },
            }
        },
    ]


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({"url": "https://example.com/a.pdf", "mimeType": "application/pdf"}, "s3://"),
        ({"data": PDF_B64, "mimeType": "application/zip"}, "application/zip"),
    ],
)
async def test_documents_bedrock_cannot_take_are_refused(
    bedrock: Daemon, fake_bedrock: FakeBedrock, document: dict[str, Any], why: str
) -> None:
    data = await rpc_error(bedrock, "dspex/chat", chat([user([{"type": "document", **document}])]))
    assert data["kind"] == "invalid_messages"
    assert why in data["message"]
    assert fake_bedrock.requests == []


async def test_audio_becomes_an_audio_block(bedrock: Daemon, fake_bedrock: FakeBedrock) -> None:
    audio = {"type": "audio", "data": "UklGRiQAAABXQVZF", "mimeType": "audio/wav"}
    await bedrock.request(
        "dspex/chat",
        chat(
            [user([{"type": "text", "text": "Transcribe."}, audio])],
            model="us.amazon.nova-2-lite-v1:0",
        ),
    )
    assert sent(fake_bedrock)["messages"][0]["content"][1] == {
        "audio": {"format": "wav", "source": {"bytes": "UklGRiQAAABXQVZF"}}
    }


# -- predict -------------------------------------------------------------------------------


async def test_predict_on_bedrock_uses_only_what_the_adapter_maps(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    outputs = {"sentiment": "positive", "confidence": "high"}
    params = {
        "signature": "text -> sentiment, confidence",
        "inputs": {"text": "I love it"},
        "provider": "bedrock",
        "model": CLAUDE,
    }
    fake_bedrock.queue(
        Reply(tool_calls=[{"id": "t1", "name": "dspex_output", "arguments": outputs}])
    )
    structured = await bedrock.request("dspex/predict", params)
    assert structured["outputs"] == outputs
    assert structured["strategy"] == "tool"
    body = sent(fake_bedrock)
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "dspex_output"}}
    assert "outputConfig" not in body

    fake_bedrock.queue(Reply(text=json.dumps(outputs)))
    as_json = await bedrock.request("dspex/predict", {**params, "mode": "json"})
    assert as_json["outputs"] == outputs
    assert fake_bedrock.validation_failures == []
