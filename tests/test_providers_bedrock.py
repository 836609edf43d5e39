"""Amazon Bedrock (Converse, ConverseStream, InvokeModel) through the real daemon, against a
loopback fake that checks every SigV4 signature and streams real event-stream frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bedrock_support import bedrock, fake_bedrock, fresh_script
from daemon import Daemon, clean_env, start_daemon
from fakes.base import Garbage, Reply, TruncatedStream
from fakes.bedrock_server import AUTH_RE, FakeBedrock, StreamException, bedrock_error
from provider_cases import PNG_B64, WEATHER_TOOL, image_message, rpc_error, user_chat

pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["bedrock", "fake_bedrock", "fresh_script"]  # module-scoped fixtures used here

MODEL = "amazon.nova-lite-v1:0"


async def test_plain_chat_is_a_signed_converse_request(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    result = await bedrock.request(
        "dspex/chat",
        {
            "provider": "bedrock",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Why is the sky blue?"},
            ],
            "maxTokens": 50,
            "temperature": 0.3,
            "topP": 0.8,
            "stop": ["END"],
        },
    )
    assert result["choices"][0]["message"]["content"] == "Why is the sky blue?"
    assert result["choices"][0]["finishReason"] == "stop"
    assert result["usage"] == {"promptTokens": 11, "completionTokens": 7, "totalTokens": 18}
    assert result["model"] == MODEL
    sent = fake_bedrock.requests[-1]
    assert sent.path == f"/model/{MODEL}/converse"
    assert sent.body == {
        "messages": [{"role": "user", "content": [{"text": "Why is the sky blue?"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {
            "maxTokens": 50,
            "temperature": 0.3,
            "topP": 0.8,
            "stopSequences": ["END"],
        },
    }
    match = AUTH_RE.match(sent.headers["Authorization"])
    assert match is not None
    assert match["akid"] == fake_bedrock.access_key_id and match["region"] == "eu-west-3"
    assert "x-amz-date" in match["signed"].split(";")
    assert fake_bedrock.signature_failures == []


async def test_a_wrong_secret_key_is_refused_by_the_signature_check(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    real = fake_bedrock.secret_access_key
    fake_bedrock.secret_access_key = "a-different-secret"
    try:
        data = await rpc_error(bedrock, "dspex/chat", chat())
    finally:
        fake_bedrock.secret_access_key = real
    assert fake_bedrock.signature_failures == ["signature mismatch"]
    assert data["kind"] == "authentication" and data["status"] == 403
    assert data["details"] == {"code": "InvalidSignatureException"}
    assert real not in str(data)


async def test_streamed_chat_decodes_event_stream_frames(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(text="Rayleigh scattering, mostly.", completion_tokens=9))
    result = await bedrock.request("dspex/chat", chat(partialResultToken="s1"))
    deltas = [p["delta"].get("content") for p in bedrock.partials["s1"]]
    # Deltas that arrive in one read leave as one merged `$/progress` (partials.py).
    assert deltas
    assert "".join(d for d in deltas if d) == "Rayleigh scattering, mostly."
    assert result["choices"][0]["message"]["content"] == "Rayleigh scattering, mostly."
    assert result["choices"][0]["finishReason"] == "stop"
    assert result["usage"] == {"promptTokens": 11, "completionTokens": 9, "totalTokens": 20}
    assert fake_bedrock.requests[-1].path == f"/model/{MODEL}/converse-stream"


async def test_tool_call_round_trip(bedrock: Daemon, fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.queue(
        Reply(
            text="Let me check.",
            tool_calls=[
                {"id": "tooluse_abc", "name": "get_weather", "arguments": {"city": "Oslo"}}
            ],
        )
    )
    first = await bedrock.request(
        "dspex/chat", chat("Weather in Oslo?", tools=[WEATHER_TOOL], toolChoice="required")
    )
    assert first["choices"][0]["finishReason"] == "tool_calls"
    message = first["choices"][0]["message"]
    assert message["toolCalls"] == [
        {"id": "tooluse_abc", "name": "get_weather", "arguments": {"city": "Oslo"}}
    ]
    assert fake_bedrock.requests[-1].body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "inputSchema": {"json": WEATHER_TOOL["parameters"]},
                }
            }
        ],
        "toolChoice": {"any": {}},
    }

    fake_bedrock.queue(Reply(text="Snowing in Oslo."))
    second = await bedrock.request(
        "dspex/chat",
        {
            "provider": "bedrock",
            "tools": [WEATHER_TOOL],
            "toolChoice": {"name": "get_weather"},
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                message,
                {"role": "tool", "toolCallId": "tooluse_abc", "content": "snow, -3 C"},
                {"role": "user", "content": "Summarise."},
            ],
        },
    )
    assert second["choices"][0]["message"]["content"] == "Snowing in Oslo."
    body = fake_bedrock.requests[-1].body
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Let me check."},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_abc",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    }
                },
            ],
        },
        # the tool result and the next user text are one user turn: roles must alternate
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_abc",
                        "content": [{"text": "snow, -3 C"}],
                        "status": "success",
                    }
                },
                {"text": "Summarise."},
            ],
        },
    ]


async def test_streamed_tool_call_fragments_are_assembled(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    args = {"city": "Lima", "units": "metric"}
    fake_bedrock.queue(
        Reply(tool_calls=[{"id": "tooluse_1", "name": "get_weather", "arguments": args}])
    )
    result = await bedrock.request(
        "dspex/chat", chat(tools=[WEATHER_TOOL], partialResultToken="s2")
    )
    fragments = [t for p in bedrock.partials["s2"] for t in p["delta"].get("toolCalls") or []]
    assert fragments[0]["name"] == "get_weather" and fragments[0]["id"] == "tooluse_1"
    assert json.loads("".join(f.get("arguments") or "" for f in fragments)) == args
    assert {f["index"] for f in fragments} == {0}
    assert result["choices"][0]["finishReason"] == "tool_calls"
    assert result["choices"][0]["message"]["toolCalls"] == [
        {"id": "tooluse_1", "name": "get_weather", "arguments": args}
    ]


async def test_titan_embeddings_call_invoke_model_once_per_input(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    before = len(fake_bedrock.requests)
    result = await bedrock.request(
        "dspex/embed",
        {"provider": "bedrock", "inputs": ["one two", "three", "four"], "dimensions": 16},
    )
    calls = fake_bedrock.requests[before:]
    assert result["model"] == "amazon.titan-embed-text-v2:0"
    assert len(calls) == 3
    assert {c.path for c in calls} == {"/model/amazon.titan-embed-text-v2:0/invoke"}
    assert sorted(c.body["inputText"] for c in calls) == ["four", "one two", "three"]
    assert all(c.body["dimensions"] == 16 and c.body["normalize"] is True for c in calls)
    assert result["dimensions"] == 16 and len(result["embeddings"]) == 3
    assert result["usage"]["promptTokens"] == 4
    assert fake_bedrock.signature_failures == []


async def test_cohere_embeddings_send_texts_and_input_type(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    result = await bedrock.request(
        "dspex/embed",
        {
            "provider": "bedrock",
            "model": "cohere.embed-english-v3",
            "inputs": ["a query", "another"],
            "inputType": "query",
        },
    )
    sent = fake_bedrock.requests[-1].body
    assert sent == {"texts": ["a query", "another"], "input_type": "search_query"}
    assert len(result["embeddings"]) == 2 and result["dimensions"] == 24
    assert result["usage"]["promptTokens"] == 3  # from X-Amzn-Bedrock-Input-Token-Count


@pytest.mark.parametrize(
    ("status", "name", "kind", "retryable"),
    [
        (429, "ThrottlingException", "rate_limited", True),
        (400, "ValidationException", "invalid_messages", False),
        (403, "AccessDeniedException", "authentication", False),
        (429, "ModelNotReadyException", "api_error", True),
        (503, "ServiceUnavailableException", "api_error", True),
        (408, "ModelTimeoutException", "timeout", True),
    ],
)
async def test_error_types_map_to_kinds(
    bedrock: Daemon,
    fake_bedrock: FakeBedrock,
    status: int,
    name: str,
    kind: str,
    retryable: bool,
) -> None:
    err = bedrock_error(status, name, f"{name} happened")
    fake_bedrock.queue(err)
    data = await rpc_error(bedrock, "dspex/chat", chat())
    assert data["kind"] == kind and data["retryable"] is retryable
    assert data["status"] == status and data["details"] == {"code": name}
    assert data["requestId"] == err.headers["x-amzn-RequestId"]
    assert f"{name} happened" in data["message"]


async def test_exception_event_mid_stream_interrupts_the_answer(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(
        StreamException("throttlingException", "Too many tokens, slow down.", text="Half")
    )
    result = await bedrock.request("dspex/chat", chat(partialResultToken="s3"))
    assert result["choices"][0]["message"]["content"] == "Half"
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["error"]["kind"] == "rate_limited" and result["error"]["retryable"] is True


async def test_exception_event_before_any_text_is_an_error(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(StreamException("validationException", "Bad input.", text=""))
    data = await rpc_error(bedrock, "dspex/chat", chat(partialResultToken="s4"))
    assert data["kind"] == "invalid_messages"
    assert data["details"] == {"code": "ValidationException"}


async def test_truncated_stream_returns_the_partial_answer_as_interrupted(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(TruncatedStream(text="partial answer that never ends", chunks=2))
    result = await bedrock.request("dspex/chat", chat(partialResultToken="s5"))
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["choices"][0]["message"]["content"] == "partial answer"[:10]
    assert result["error"]["kind"] == "network_error"


async def test_a_slow_answer_times_out(bedrock: Daemon, fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.queue(Reply(text="late", delay_s=1.5))
    data = await rpc_error(bedrock, "dspex/chat", chat(timeoutMs=300))
    assert data["kind"] == "timeout" and data["retryable"] is True


async def test_malformed_body_is_invalid_response(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Garbage())
    data = await rpc_error(bedrock, "dspex/chat", chat())
    assert data["kind"] == "invalid_response"


@pytest.mark.parametrize(
    "content_type", ["text/html", "application/vnd.amazon.eventstream"], ids=["html", "bad-crc"]
)
async def test_malformed_event_stream_is_invalid_response(
    bedrock: Daemon, fake_bedrock: FakeBedrock, content_type: str
) -> None:
    fake_bedrock.queue(Garbage(body="<html>not frames</html>" * 4, content_type=content_type))
    data = await rpc_error(bedrock, "dspex/chat", chat(partialResultToken=f"s6-{content_type}"))
    assert data["kind"] == "invalid_response"
    assert ("event-stream frame" in data["message"]) is (content_type != "text/html")


async def test_config_answer_redacts_the_aws_secrets(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    answer = await bedrock.request("dspex/config")
    block = answer["config"]["providers"]["bedrock"]
    assert block["awsAccessKeyId"] == fake_bedrock.access_key_id
    assert block["region"] == fake_bedrock.region
    assert block["awsSecretAccessKey"] == "<redacted>"
    assert fake_bedrock.secret_access_key not in str(answer)


async def test_session_token_is_signed_and_sent(tmp_path: Path) -> None:
    async with FakeBedrock(session_token="FwoGZXIvYXdzEXAMPLEtoken") as fake:
        env = clean_env(tmp_path, **fake.env())
        async with start_daemon(env) as d:
            result = await d.request("dspex/chat", chat("hi"))
    assert result["choices"][0]["message"]["content"] == "hi"
    sent = fake.requests[-1].headers
    assert sent["X-Amz-Security-Token"] == "FwoGZXIvYXdzEXAMPLEtoken"
    assert "x-amz-security-token" in AUTH_RE.match(sent["Authorization"])["signed"]  # type: ignore[index]
    assert fake.signature_failures == []


async def test_without_botocore_bedrock_says_how_to_install_it(
    tmp_path: Path, fake_bedrock: FakeBedrock
) -> None:
    blocker = tmp_path / "block" / "botocore"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('botocore is blocked in this test')\n")
    env = clean_env(tmp_path, **fake_bedrock.env(), PYTHONPATH=str(blocker.parent))
    async with start_daemon(env) as d:
        data = await rpc_error(d, "dspex/chat", chat())
    assert data["kind"] == "unsupported_provider"
    assert "pip install 'dspex[bedrock]'" in data["message"]


async def test_list_models_reads_the_control_plane(fake_bedrock: FakeBedrock) -> None:
    from dspex_server.config import ConfigStore
    from dspex_server.providers.registry import AdapterRegistry

    registry = AdapterRegistry(ConfigStore(fake_bedrock.env()))
    try:
        adapter = await registry.get("bedrock")
        models = {m.id: m for m in await adapter.list_models()}
    finally:
        await registry.aclose()
    assert set(models) == {"amazon.nova-lite-v1:0", "amazon.titan-embed-text-v2:0"}
    assert models["amazon.nova-lite-v1:0"].capabilities == {"chat", "streaming"}
    assert models["amazon.titan-embed-text-v2:0"].capabilities == {"embeddings"}
    assert models["amazon.nova-lite-v1:0"].owned_by == "Amazon"
    assert fake_bedrock.requests[-1].path == "/foundation-models"
    assert fake_bedrock.signature_failures == []


def chat(content: str = "Why is the sky blue?", **extra: Any) -> dict[str, Any]:
    return user_chat("bedrock", content, **extra)


async def test_images_become_image_blocks(bedrock: Daemon, fake_bedrock: FakeBedrock) -> None:
    image = {"data": PNG_B64, "mimeType": "image/png"}
    await bedrock.request("dspex/chat", {"provider": "bedrock", "messages": [image_message(image)]})
    assert fake_bedrock.requests[-1].body["messages"][0]["content"] == [
        {"text": "What is in this picture?"},
        {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
    ]


async def test_an_unsupported_image_type_is_refused(bedrock: Daemon) -> None:
    image = {"data": PNG_B64, "mimeType": "image/tiff"}
    data = await rpc_error(
        bedrock, "dspex/chat", {"provider": "bedrock", "messages": [image_message(image)]}
    )
    assert data["kind"] == "invalid_messages" and "image/tiff" in data["message"]


async def test_a_bedrock_api_key_is_sent_as_a_bearer_token(tmp_path: Path) -> None:
    token = "ABSKZmFrZS1iZWRyb2NrLWFwaS1rZXk="
    async with FakeBedrock(bearer_token=token) as fake:
        env = clean_env(
            tmp_path,
            AWS_BEARER_TOKEN_BEDROCK=token,
            AWS_REGION=fake.region,
            AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.base_url,
        )
        async with start_daemon(env) as d:
            result = await d.request("dspex/chat", chat("hi there"))
            config = await d.request("dspex/config")
    assert result["choices"][0]["message"]["content"] == "hi there"
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {token}"
    assert fake.signature_failures == []
    assert token not in str(config)
