"""The llama provider through the real daemon, on a GGUF model the test writes itself
(tests/tiny_gguf.py): streamed chat, usage from the tokenizer, grammar-constrained
structured output and tool calls, embeddings, the context window, and cancellation."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from daemon import Daemon, clean_env, start_daemon
from provider_checks import chat, chat_error, stream_chat, streamed_text
from raw_daemon import raw_daemon
from reliability_support import eventually
from tiny_gguf import CONTEXT_LENGTH, N_EMBD, render_prompt

from dspex_server.providers.llama import NOTICE

REQUEST_CANCELLED = -32800
NESTED = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 24},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "mood": {"enum": ["calm", "angry", "glad"]},
        "author": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 16},
                "verified": {"type": "boolean"},
            },
            "required": ["name", "verified"],
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 8},
            "minItems": 1,
            "maxItems": 3,
        },
        "scores": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"k": {"type": "string", "maxLength": 6}, "v": {"type": "number"}},
                "required": ["k", "v"],
            },
            "maxItems": 2,
        },
    },
    "required": ["title", "rating", "mood", "author", "tags", "scores"],
}


def llama_env(env: dict[str, str], model: Path, extra: str = "") -> dict[str, str]:
    config = Path(env["DSPEX_CONFIG"])
    config.write_text(
        f'[providers.llama]\nmodel_path = "{model}"\n'
        f'[providers.llama.models.small]\npath = "{model}"\nn_ctx = 128\n'
        f'[providers.llama.models.gone]\npath = "{model.parent / "gone.gguf"}"\n{extra}',
        encoding="utf-8",
    )
    return env


@pytest.fixture
async def llama(env: dict[str, str], tiny_gguf: Path) -> AsyncIterator[Daemon]:
    async with start_daemon(llama_env(env, tiny_gguf)) as d:
        yield d


def tokenizer(model: Path) -> Any:
    """llama.cpp's own tokenizer for the model, in the test process."""
    import llama_cpp

    return llama_cpp.Llama(model_path=str(model), n_ctx=64, verbose=False)


async def test_streamed_chat_yields_tokens_as_partial_results(llama: Daemon) -> None:
    result, partials = await stream_chat(llama, "llama", maxTokens=40, seed=7, temperature=1.0)
    choice = result["choices"][0]
    # Tokens stream as they are decoded, not as one answer at the end: the first token
    # leaves at once (one character: the tiny vocabulary's tokens are single characters);
    # tokens decoded within one event-loop iteration share a `$/progress` (see
    # docs/editors.md), so how many partials follow depends on the machine's pace.
    assert len(partials) >= 2
    assert len(partials[0]["delta"]["content"]) == 1
    assert choice["message"]["content"] == streamed_text(partials) != ""
    assert choice["finishReason"] == "length"
    assert result["usage"]["completionTokens"] == 40
    assert result["provider"] == "llama" and result["model"] == "tiny"
    assert result["cost"]["total"] == 0 and NOTICE in result["notices"]


async def test_usage_counts_match_the_tokenizer(llama: Daemon, tiny_gguf: Path) -> None:
    messages = [
        {"role": "system", "content": "Answer in one line."},
        {"role": "user", "content": "How many tokens is this prompt?"},
    ]
    result = await chat(llama, "llama", messages=messages, maxTokens=30, seed=3)
    usage, content = result["usage"], result["choices"][0]["message"]["content"]
    model = tokenizer(tiny_gguf)
    prompt = model.tokenize(render_prompt(messages).encode(), add_bos=False, special=True)
    assert usage["promptTokens"] == len(prompt)
    assert usage["completionTokens"] == len(model.tokenize(content.encode(), add_bos=False))
    assert usage["completionTokens"] == 30
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"]


async def test_the_same_seed_gives_the_same_answer(llama: Daemon) -> None:
    answers = [
        (await chat(llama, "llama", maxTokens=20, seed=11))["choices"][0]["message"]["content"]
        for _ in range(2)
    ]
    other = await chat(llama, "llama", maxTokens=20, seed=12)
    assert answers[0] == answers[1] != other["choices"][0]["message"]["content"]


async def test_a_stop_sequence_ends_the_answer_before_it(llama: Daemon) -> None:
    free = await chat(llama, "llama", maxTokens=60, seed=5)
    text = free["choices"][0]["message"]["content"]
    stop = text[20:22]
    cut = await chat(llama, "llama", maxTokens=60, seed=5, stop=[stop])
    assert cut["choices"][0]["message"]["content"] == text[: text.index(stop)]
    assert cut["choices"][0]["finishReason"] == "stop"


async def test_json_schema_output_is_constrained_by_grammar(llama: Daemon) -> None:
    fmt = {"type": "json_schema", "name": "review", "schema": NESTED}
    for seed in range(3):
        result, partials = await stream_chat(
            llama, "llama", responseFormat=fmt, seed=seed, temperature=1.0, maxTokens=2000
        )
        content = result["choices"][0]["message"]["content"]
        assert content == streamed_text(partials)
        jsonschema.validate(json.loads(content), NESTED)
    # The grammar does the work: the same model, unconstrained, writes no JSON at all.
    free = await chat(llama, "llama", seed=0, temperature=1.0, maxTokens=200)
    with pytest.raises(json.JSONDecodeError):
        json.loads(free["choices"][0]["message"]["content"])


async def test_predict_on_the_local_model_returns_schema_valid_outputs(llama: Daemon) -> None:
    result = await llama.request(
        "dspex/predict",
        {
            "signature": "question -> verdict: Literal['yes', 'no'], score: int, "
            "tags: list[str], detail: dict[str, bool]",
            "inputs": {"question": "Is the sky blue?"},
            "provider": "llama",
            "temperature": 1.0,
            "maxRetries": 0,
        },
    )
    outputs = result["outputs"]
    assert result["attempts"] == 1 and result["strategy"] == "json_schema"
    assert outputs["verdict"] in ("yes", "no") and isinstance(outputs["score"], int)
    assert all(isinstance(t, str) for t in outputs["tags"])
    assert all(isinstance(v, bool) for v in outputs["detail"].values())


async def test_a_forced_tool_call_has_schema_valid_arguments(llama: Daemon) -> None:
    tool = {"name": "get_weather", "parameters": NESTED["properties"]["author"]}
    other = {"name": "get_time", "parameters": {"type": "object", "properties": {}}}
    result = await chat(
        llama, "llama", tools=[other, tool], toolChoice={"name": "get_weather"}, seed=1
    )
    (call,) = result["choices"][0]["message"]["toolCalls"]
    assert call["name"] == "get_weather" and result["choices"][0]["finishReason"] == "tool_calls"
    jsonschema.validate(call["arguments"], tool["parameters"])
    streamed, partials = await stream_chat(
        llama, "llama", tools=[tool], toolChoice="required", seed=2
    )
    fragments = [f for p in partials for f in p["delta"].get("toolCalls") or ()]
    assert [f["name"] for f in fragments] == ["get_weather"]
    assert all(not (p["delta"].get("content") or "") for p in partials)
    jsonschema.validate(json.loads(fragments[0]["arguments"]), tool["parameters"])
    assert streamed["choices"][0]["message"]["toolCalls"][0]["name"] == "get_weather"


async def test_with_tool_choice_auto_a_call_written_as_json_is_read_as_a_call(
    llama: Daemon,
) -> None:
    """The tiny model only writes a call when a grammar makes it: a JSON-Schema answer in
    the shape of a call stands in for a real model choosing to call (streamed text that
    may be a call is held back until it is complete)."""
    tool = {"name": "get_weather", "parameters": NESTED["properties"]["author"]}
    shape = {
        "type": "object",
        "properties": {"name": {"const": "get_weather"}, "arguments": tool["parameters"]},
        "required": ["name", "arguments"],
    }
    fmt = {"type": "json_schema", "schema": shape}
    result, partials = await stream_chat(
        llama, "llama", tools=[tool], toolChoice="auto", responseFormat=fmt, seed=4
    )
    message = result["choices"][0]["message"]
    assert message.get("content") is None and message["toolCalls"][0]["name"] == "get_weather"
    jsonschema.validate(message["toolCalls"][0]["arguments"], tool["parameters"])
    assert all(not (p["delta"].get("content") or "") for p in partials)
    # Without tools the same answer is plain text.
    plain = await chat(llama, "llama", responseFormat=fmt, seed=4)
    assert json.loads(plain["choices"][0]["message"]["content"])["name"] == "get_weather"


async def test_embeddings_come_from_the_same_model(llama: Daemon, tiny_gguf: Path) -> None:
    texts = ["first text", "a second, longer text"]
    result = await llama.request("dspex/embed", {"provider": "llama", "inputs": texts})
    assert result["dimensions"] == N_EMBD and len(result["embeddings"]) == 2
    for vector in result["embeddings"]:
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-4)
    model = tokenizer(tiny_gguf)
    expected = sum(len(model.tokenize(t.encode())) for t in texts)
    assert result["usage"]["promptTokens"] == expected


async def test_a_prompt_beyond_the_context_window_is_refused(llama: Daemon) -> None:
    long = [{"role": "user", "content": "word " * 60}]  # 300 tokens; `small` has 128
    data = await chat_error(llama, "llama", model="small", messages=long)
    assert data["kind"] == "invalid_messages"
    assert "context window" in data["message"] and "128" in data["message"]


async def test_the_live_model_list_reports_the_gguf_context_window(llama: Daemon) -> None:
    listed = await llama.request("dspex/models/list", {"provider": "llama", "live": True})
    windows = {m["id"]: m.get("contextWindow") for m in listed["models"]}
    assert windows == {"tiny": CONTEXT_LENGTH, "small": 128, "gone": None}


async def test_an_unknown_model_names_the_configured_ones(llama: Daemon) -> None:
    data = await chat_error(llama, "llama", model="nope")
    assert data["kind"] == "invalid_messages" and "tiny" in data["message"]
    streamed = await chat_error(llama, "llama", model="nope", partialResultToken="u")
    assert streamed["kind"] == "invalid_messages"


async def test_a_missing_model_file_is_an_error_streamed_or_not(llama: Daemon) -> None:
    for extra in ({}, {"partialResultToken": "gone"}):
        data = await chat_error(llama, "llama", model="gone", **extra)
        assert data["kind"] == "provider_not_configured"
        assert "gone.gguf" in data["message"]


async def test_without_a_model_the_provider_says_how_to_name_one(daemon: Daemon) -> None:
    data = await chat_error(daemon, "llama")
    assert data["kind"] == "provider_not_configured"
    assert "providers.llama.model_path" in data["message"]
    assert "DSPEX_LLAMA_MODEL_PATH" in data["message"]
    providers = await daemon.request("dspex/providers", {})
    row = next(p for p in providers["providers"] if p["name"] == "llama")
    assert row["configured"] is False


async def test_cancel_stops_generation_and_frees_the_model(
    env: dict[str, str], tiny_gguf: Path
) -> None:
    async with raw_daemon(llama_env(env, tiny_gguf)) as d:
        params = {
            "provider": "llama",
            "messages": [{"role": "user", "content": "go on"}],
            "maxTokens": CONTEXT_LENGTH,
            "partialResultToken": "p",
        }
        msg_id = d.send_request("dspex/chat", params)

        def partials() -> int:
            return sum(1 for n in d.notifications if n["method"] == "$/progress")

        await eventually(lambda: partials() >= 3, wait_s=60)
        d.cancel(msg_id)
        answer = await d.answer(msg_id, wait_s=5)
        assert answer["error"]["code"] == REQUEST_CANCELLED
        seen = partials()
        await asyncio.sleep(0.3)
        assert partials() == seen
        # The model's thread is free again: the next request is answered at once.
        quick = await d.result(
            "dspex/chat", {"provider": "llama", "messages": params["messages"], "maxTokens": 4}
        )
        assert quick["usage"]["completionTokens"] == 4


async def test_tokens_sampled_after_a_cancel_stay_bounded(tiny_gguf: Path) -> None:
    """In-process, where the model's token counter can be read: closing a stream or
    cancelling a chat stops the worker thread within a token or two."""
    from dspex_protocol import Message
    from dspex_server.providers.base import ProviderRequest
    from dspex_server.providers.llama import LlamaAdapter
    from dspex_server.providers.settings import LlamaSettings
    from dspex_server.providers.table import PROVIDER_BY_NAME

    adapter = LlamaAdapter(PROVIDER_BY_NAME["llama"], LlamaSettings(model_path=str(tiny_gguf)))
    request = ProviderRequest(
        model="tiny", messages=[Message(role="user", content="go")], max_tokens=CONTEXT_LENGTH
    )
    try:
        stream = adapter.stream(request)
        for _ in range(3):
            await anext(stream)  # type: ignore[call-overload]
        model = adapter.loaded_model("tiny")
        assert model is not None
        at_cancel = model.sampled
        await stream.aclose()  # type: ignore[attr-defined]
        await adapter.idle("tiny")
        assert at_cancel < CONTEXT_LENGTH // 2
        assert model.sampled - at_cancel <= 2

        before = model.sampled
        task = asyncio.create_task(adapter.chat(request))
        await eventually(lambda: model.sampled > before + 5, wait_s=30)
        at_cancel = model.sampled
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await adapter.idle("tiny")
        assert model.sampled - at_cancel <= 2
        assert model.sampled - before < CONTEXT_LENGTH // 2
        assert adapter.loaded_model("tiny") is model  # one load serves every request
        # What context fitting (the catalog) learns from the loaded model: its GGUF window.
        assert adapter.known_context_window("tiny") == CONTEXT_LENGTH
    finally:
        await adapter.aclose()


def test_the_cli_streams_from_a_gguf_given_by_path(tmp_path: Path, tiny_gguf: Path) -> None:
    """`dspex chat --provider llama "hi"` with the model named by DSPEX_LLAMA_MODEL_PATH: the
    tiny model never writes an end token, so it runs to the end of its context window."""
    env = clean_env(tmp_path, DSPEX_LLAMA_MODEL_PATH=str(tiny_gguf))
    cli = [sys.executable, "-c", "from dspex_client.cli import run_main; run_main()"]
    done = subprocess.run(
        [*cli, "chat", "--provider", "llama", "--stream", "hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    prompt = len(render_prompt([{"role": "user", "content": "hi"}])) - len("<s>") + 1
    assert len(done.stdout) == CONTEXT_LENGTH - prompt + 1  # the answer and a newline
    assert f"note: {NOTICE}" in done.stderr
