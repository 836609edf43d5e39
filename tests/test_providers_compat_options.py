"""How each Chat Completions row maps the request options (reasoning, n, logprobs,
penalties, parallelToolCalls, tool strict, user, metadata, serverTools, cacheControl) and
document/audio parts, and refuses what its API does not take, before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from compat_support import d, fakes, fresh
from daemon import Daemon
from fakes.openai_server import FakeOpenAI
from provider_checks import WEATHER_TOOL, chat, chat_error, stream_chat

__all__ = ["d", "fakes", "fresh"]  # module-scoped fixtures used here
pytestmark = pytest.mark.asyncio(loop_scope="module")

PDF_B64 = "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="
WAV_B64 = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA="


async def sent(d: Daemon, fakes: dict[str, FakeOpenAI], provider: str, **params: Any) -> Any:
    """The body the provider received for a plain chat with `params`."""
    await chat(d, provider, **params)
    return fakes[provider].requests[-1].body


async def refused(
    d: Daemon, fakes: dict[str, FakeOpenAI], provider: str, **params: Any
) -> dict[str, Any]:
    """The error of a request refused before anything reached the provider."""
    data = await chat_error(d, provider, **params)
    assert data["kind"] == "invalid_messages", data
    assert fakes[provider].requests == []
    return data


# -- reasoning ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "reasoning", "expected"),
    [
        ("openai", "o4-mini", {"effort": "high"}, {"reasoning_effort": "high"}),
        ("openai", "gpt-5-mini", {}, {}),
        ("groq", "openai/gpt-oss-120b", {"effort": "low"}, {"reasoning_effort": "low"}),
        ("groq", "qwen/qwen3-32b", {}, {"reasoning_format": "parsed"}),
        ("groq", "qwen/qwen3-32b", {"budgetTokens": 0}, {"reasoning_effort": "none"}),
        ("mistral", "magistral-small-latest", {}, {}),
        ("mistral", "mistral-small-latest", {"effort": "high"}, {"reasoning_effort": "high"}),
        ("xai", "grok-3-mini", {"effort": "low"}, {"reasoning_effort": "low"}),
        ("xai", "grok-4", {}, {}),
        ("openrouter", "deepseek/deepseek-r1", {}, {"reasoning": {"enabled": True}}),
        (
            "openrouter",
            "openai/gpt-5-mini",
            {"effort": "medium"},
            {"reasoning": {"effort": "medium"}},
        ),
        (
            "openrouter",
            "anthropic/claude-sonnet-4.5",
            {"budgetTokens": 2048},
            {"reasoning": {"max_tokens": 2048}},
        ),
        ("lmstudio", "openai/gpt-oss-20b", {"effort": "medium"}, {"reasoning_effort": "medium"}),
    ],
)
async def test_reasoning_is_mapped_per_row(
    d: Daemon,
    fakes: dict[str, FakeOpenAI],
    provider: str,
    model: str,
    reasoning: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    body = await sent(d, fakes, provider, model=model, reasoning=reasoning)
    keys = ("reasoning_effort", "reasoning_format", "reasoning", "thinking")
    assert {k: body[k] for k in keys if k in body} == expected


@pytest.mark.parametrize(
    ("provider", "model", "reasoning", "says"),
    [
        ("openai", "o3", {"budgetTokens": 1024}, "not budgetTokens"),
        ("openai", "o3", {"summary": "auto"}, "Responses API"),
        ("groq", "qwen/qwen3-32b", {"effort": "high"}, "no effort levels"),
        ("mistral", "magistral-medium-latest", {"effort": "low"}, "always reason"),
        ("mistral", "mistral-small-latest", {"effort": "low"}, "high or none"),
        ("xai", "grok-3-mini", {"effort": "medium"}, "low or high"),
        ("xai", "grok-4", {"effort": "high"}, "always reasons"),
        ("openrouter", "deepseek/deepseek-r1", {"effort": "low", "budgetTokens": 9}, "not both"),
        ("perplexity", "sonar-reasoning-pro", {}, "reasoning"),
        ("openai", "gpt-4.1", {}, "cannot reason"),
    ],
)
async def test_reasoning_the_row_cannot_honour_is_refused(
    d: Daemon,
    fakes: dict[str, FakeOpenAI],
    provider: str,
    model: str,
    reasoning: dict[str, Any],
    says: str,
) -> None:
    data = await refused(d, fakes, provider, model=model, reasoning=reasoning)
    assert says in data["message"]


# -- the other options -------------------------------------------------------------------


async def test_openai_maps_sampling_tooling_and_identity_options(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    tool = {**WEATHER_TOOL, "strict": True}
    body = await sent(
        d,
        fakes,
        "openai",
        tools=[tool],
        parallelToolCalls=False,
        frequencyPenalty=0.5,
        presencePenalty=-0.5,
        user="user-hash-42",
        metadata={"team": "search"},
        seed=3,
    )
    assert body["tools"][0]["function"]["strict"] is True
    assert body["parallel_tool_calls"] is False
    assert (body["frequency_penalty"], body["presence_penalty"]) == (0.5, -0.5)
    assert body["safety_identifier"] == "user-hash-42" and "user" not in body
    # Chat Completions takes metadata to tag stored completions only.
    assert (body["metadata"], body["store"]) == ({"team": "search"}, True)
    assert body["seed"] == 3


async def test_mistral_gets_only_the_fields_it_defines(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    body = await sent(
        d, fakes, "mistral", seed=7, n=2, presencePenalty=0.25, maxTokens=30, tools=[WEATHER_TOOL]
    )
    assert body["random_seed"] == 7 and "seed" not in body
    assert (body["n"], body["presence_penalty"], body["max_tokens"]) == (2, 0.25, 30)
    result, _ = await stream_chat(d, "mistral")
    assert "stream_options" not in fakes["mistral"].requests[-1].body
    assert result["usage"]["completionTokens"] == 7


@pytest.mark.parametrize(
    ("provider", "params", "unsupported"),
    [
        ("groq", {"logprobs": True}, ["logprobs"]),
        ("groq", {"n": 2}, ["n"]),
        ("groq", {"frequencyPenalty": 0.1}, ["frequencyPenalty"]),
        ("mistral", {"user": "u1", "logprobs": True}, ["logprobs", "user"]),
        ("mistral", {"metadata": {"a": "b"}}, ["metadata"]),
        ("perplexity", {"parallelToolCalls": True}, ["parallelToolCalls"]),
        ("openrouter", {"n": 2}, ["n"]),
        ("xai", {"model": "grok-4", "presencePenalty": 0.2}, ["presencePenalty"]),
        (
            "openai",
            {"model": "o3", "presencePenalty": 0.1, "logprobs": True},
            ["logprobs", "presencePenalty"],
        ),
        ("lmstudio", {"model": "qwen2.5-7b-instruct", "logprobs": True}, ["logprobs"]),
    ],
)
async def test_options_a_row_lacks_are_refused_by_name(
    d: Daemon,
    fakes: dict[str, FakeOpenAI],
    provider: str,
    params: dict[str, Any],
    unsupported: list[str],
) -> None:
    data = await refused(d, fakes, provider, **params)
    assert sorted(data["details"]["unsupported"]) == unsupported


async def test_neutral_values_pass_where_the_option_is_not_mapped(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    body = await sent(d, fakes, "groq", n=1, logprobs=False)
    assert "n" not in body and "logprobs" not in body


async def test_xai_reasoning_models_refuse_stop(d: Daemon, fakes: dict[str, FakeOpenAI]) -> None:
    data = await refused(d, fakes, "xai", model="grok-4", stop=["\n"])
    assert "stop" in data["message"]
    body = await sent(d, fakes, "xai", model="grok-3", stop=["\n"], presencePenalty=0.2)
    assert (body["stop"], body["presence_penalty"]) == (["\n"], 0.2)


async def test_openai_user_longer_than_its_limit_is_refused(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    data = await refused(d, fakes, "openai", user="u" * 65)
    assert "64" in data["message"]


# -- server tools ------------------------------------------------------------------------


async def test_server_tools_map_to_each_rows_native_declaration(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    web = {"name": "web_search", "config": {"max_results": 3}}
    body = await sent(d, fakes, "openrouter", serverTools=[web])
    assert body["plugins"] == [{"id": "web", "max_results": 3}]
    body = await sent(
        d,
        fakes,
        "groq",
        model="groq/compound",
        serverTools=[
            {"name": "web_search", "config": {"include_domains": ["python.org"]}},
            {"name": "code_execution"},
        ],
    )
    assert body["compound_custom"] == {
        "tools": {"enabled_tools": ["web_search", "code_interpreter"]}
    }
    assert body["search_settings"] == {"include_domains": ["python.org"]}
    ctx = {"name": "web_search", "config": {"search_context_size": "low"}}
    body = await sent(d, fakes, "openai", model="gpt-4o-mini-search-preview", serverTools=[ctx])
    assert body["web_search_options"] == {"search_context_size": "low"}


@pytest.mark.parametrize(
    ("provider", "params", "says"),
    [
        ("openrouter", {"serverTools": [{"name": "code_execution"}]}, "code_execution"),
        ("groq", {"serverTools": [{"name": "web_search"}]}, "groq/compound"),
        ("openai", {"serverTools": [{"name": "mcp"}]}, "mcp"),
        ("xai", {"serverTools": [{"name": "web_search"}]}, "serverTools"),
    ],
)
async def test_server_tools_a_row_lacks_are_refused(
    d: Daemon, fakes: dict[str, FakeOpenAI], provider: str, params: dict[str, Any], says: str
) -> None:
    data = await refused(d, fakes, provider, **params)
    assert says in data["message"]


# -- caching -----------------------------------------------------------------------------


async def test_openrouter_sends_cache_control_on_text_parts(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    system = {"role": "system", "content": "A long manual.", "cacheControl": {"ttl": "1h"}}
    part = {"type": "text", "text": "The book.", "cacheControl": {}}
    user = {"role": "user", "content": [part, {"type": "text", "text": "Summarise."}]}
    body = await sent(
        d, fakes, "openrouter", model="anthropic/claude-sonnet-4.5", messages=[system, user]
    )
    assert body["messages"][0]["content"] == [
        {
            "type": "text",
            "text": "A long manual.",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    assert body["messages"][1]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][1]["content"][1]


async def test_automatic_caching_rows_accept_cache_control_and_send_nothing(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    system = {"role": "system", "content": "A long manual.", "cacheControl": {}}
    body = await sent(d, fakes, "openai", messages=[system, {"role": "user", "content": "Hi"}])
    assert body["messages"][0] == {"role": "system", "content": "A long manual."}
    data = await refused(
        d, fakes, "perplexity", messages=[system, {"role": "user", "content": "Hi"}]
    )
    assert data["details"]["unsupported"] == ["cacheControl"]


# -- documents and audio -----------------------------------------------------------------


async def test_openai_sends_pdf_documents_as_file_parts(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    doc = {"type": "document", "data": PDF_B64, "mimeType": "application/pdf", "name": "a.pdf"}
    url_doc = {"type": "document", "url": f"data:application/pdf;base64,{PDF_B64}"}
    content = [{"type": "text", "text": "Compare."}, doc, url_doc]
    body = await sent(d, fakes, "openai", messages=[{"role": "user", "content": content}])
    parts = body["messages"][0]["content"]
    assert parts[1] == {
        "type": "file",
        "file": {"file_data": f"data:application/pdf;base64,{PDF_B64}", "filename": "a.pdf"},
    }
    assert parts[2]["file"]["file_data"] == f"data:application/pdf;base64,{PDF_B64}"
    assert parts[2]["file"]["filename"] == "document.pdf"


async def test_openai_sends_wav_and_mp3_as_input_audio(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    wav = {"type": "audio", "data": WAV_B64, "mimeType": "audio/wav"}
    mp3 = {"type": "audio", "url": f"data:audio/mpeg;base64,{WAV_B64}"}
    content = [{"type": "text", "text": "Transcribe."}, wav, mp3]
    body = await sent(
        d,
        fakes,
        "openai",
        model="gpt-4o-audio-preview",
        messages=[{"role": "user", "content": content}],
    )
    parts = body["messages"][0]["content"]
    assert parts[1] == {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}}
    assert parts[2]["input_audio"]["format"] == "mp3"


async def test_openrouter_and_mistral_take_documents_by_url(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    doc = {"type": "document", "url": "https://example.org/report.pdf", "name": "report.pdf"}
    user = {"role": "user", "content": [{"type": "text", "text": "Read."}, doc]}
    body = await sent(d, fakes, "openrouter", messages=[user])
    assert body["messages"][0]["content"][1]["file"] == {
        "file_data": "https://example.org/report.pdf",
        "filename": "report.pdf",
    }
    body = await sent(d, fakes, "mistral", messages=[user])
    assert body["messages"][0]["content"][1] == {
        "type": "document_url",
        "document_url": "https://example.org/report.pdf",
    }


@pytest.mark.parametrize(
    ("provider", "part", "says"),
    [
        ("openai", {"type": "document", "url": "https://example.org/a.pdf"}, "inline data only"),
        ("openai", {"type": "audio", "data": WAV_B64, "mimeType": "audio/ogg"}, "WAV or MP3"),
        ("openai", {"type": "audio", "url": "https://example.org/a.wav"}, "inline data only"),
        ("groq", {"type": "document", "data": PDF_B64, "mimeType": "application/pdf"}, "document"),
        ("mistral", {"type": "audio", "data": WAV_B64, "mimeType": "audio/wav"}, "audio"),
    ],
)
async def test_documents_and_audio_are_refused_where_the_row_cannot_send_them(
    d: Daemon, fakes: dict[str, FakeOpenAI], provider: str, part: dict[str, Any], says: str
) -> None:
    content = [{"type": "text", "text": "Look."}, part]
    data = await refused(d, fakes, provider, messages=[{"role": "user", "content": content}])
    assert says in data["message"]
