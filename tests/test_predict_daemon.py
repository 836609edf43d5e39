"""`dspex/predict` and `dspex.predict` through the real daemon, against the mock provider
and the loopback Chat Completions fake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from daemon import Daemon, start_daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI
from lsprotocol import types
from pygls.exceptions import JsonRpcException

SEED = "text -> sentiment, confidence, reasoning"
SEED_INPUT = {"text": "I love programming in Elixir!"}
VALID = {"sentiment": "positive", "confidence": "high", "reasoning": "The writer loves Elixir."}


def mock_options(*replies: str) -> dict[str, Any]:
    return {"providers": {"mock": {"mode": "cycle", "replies": list(replies)}}}


async def execute(d: Daemon, *arguments: Any) -> Any:
    params = types.ExecuteCommandParams(command="dspex.predict", arguments=list(arguments))
    return await d.client.workspace_execute_command_async(params)


def last_body(fake: FakeOpenAI) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


# --- the mock provider -------------------------------------------------------------------


async def test_the_seed_example_works_on_the_mock(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock_options(json.dumps(VALID))) as d:
        result = await d.request("dspex/predict", {"signature": SEED, "inputs": SEED_INPUT})
    assert result["outputs"] == VALID
    assert result["attempts"] == 1
    assert result["provider"] == "mock"
    assert result["mode"] == "structured" and result["strategy"] == "json_object"
    assert result["usage"]["totalTokens"] > 0


async def test_text_mode_on_the_mock_reads_field_markers(env: dict[str, str]) -> None:
    answer = (
        "[[ ## sentiment ## ]]\npositive\n\n[[ ## confidence ## ]]\nhigh\n\n"
        "[[ ## reasoning ## ]]\nLoves it.\n\n[[ ## completed ## ]]"
    )
    async with start_daemon(env, initialization_options=mock_options(answer)) as d:
        result = await d.request(
            "dspex/predict", {"signature": SEED, "inputs": SEED_INPUT, "mode": "text"}
        )
    assert result["outputs"] == {
        "sentiment": "positive",
        "confidence": "high",
        "reasoning": "Loves it.",
    }
    assert result["strategy"] == "text"


async def test_repair_loop_on_the_mock_broken_then_missing_then_valid(env: dict[str, str]) -> None:
    replies = ("Sure! The sentiment is positive.", '{"sentiment": "positive"}', json.dumps(VALID))
    async with start_daemon(env, initialization_options=mock_options(*replies)) as d:
        result = await d.request("dspex/predict", {"signature": SEED, "inputs": SEED_INPUT})
        stats = await d.request("dspex/providers")
    assert result["attempts"] == 3
    assert result["outputs"] == VALID
    assert stats["defaultProvider"] == "mock"


async def test_missing_fields_error_names_them(env: dict[str, str]) -> None:
    options = mock_options('{"sentiment": "positive", "confidence": "high"}')
    async with start_daemon(env, initialization_options=options) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request(
                "dspex/predict", {"signature": SEED, "inputs": SEED_INPUT, "maxRetries": 1}
            )
    assert err.value.code == -32012
    data = err.value.data
    assert data["kind"] == "missing_fields"
    assert data["details"]["missing"] == ["reasoning"]
    assert data["details"]["attempts"] == 2
    assert data["correlationId"]


async def test_validation_failed_carries_errors_and_the_raw_answer(env: dict[str, str]) -> None:
    raw = '{"label": "maybe"}'
    async with start_daemon(env, initialization_options=mock_options(raw)) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request(
                "dspex/predict",
                {
                    "signature": "text -> label: Literal['yes', 'no']",
                    "inputs": {"text": "x"},
                    "maxRetries": 0,
                },
            )
    assert err.value.code == -32013
    assert err.value.data["kind"] == "validation_failed"
    assert err.value.data["details"]["rawAnswer"] == raw
    assert any(e.startswith("label:") for e in err.value.data["details"]["errors"])


async def test_never_json_is_invalid_json_response(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock_options("no JSON here")) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request("dspex/predict", {"signature": SEED, "inputs": SEED_INPUT})
    assert err.value.data["kind"] == "invalid_json_response"
    assert err.value.data["details"]["attempts"] == 3


BAD_PARAMS: list[tuple[dict[str, Any], list[str]]] = [
    ({"signature": "text sentiment", "inputs": {}}, ["signature"]),
    ({"signature": "text -> x: Widget", "inputs": {"text": "t"}}, ["signature"]),
    ({"signature": SEED, "inputs": {"txt": "t"}}, ["inputs", "txt"]),
    ({"signature": "n: int -> a", "inputs": {"n": "many"}}, ["inputs", "n"]),
    ({"signature": SEED, "inputs": SEED_INPUT, "mode": "yaml"}, ["mode"]),
]


async def test_bad_signatures_and_inputs_are_invalid_params(daemon: Daemon) -> None:
    for params, loc in BAD_PARAMS:
        with pytest.raises(JsonRpcException) as err:
            await daemon.request("dspex/predict", params)
        assert err.value.code == -32602, params
        assert err.value.data["errors"][0]["loc"][: len(loc)] == loc, params
    # The daemon is still there after all of them.
    assert (await daemon.request("dspex/providers"))["defaultProvider"] == "mock"


async def test_the_json_form_of_a_signature(env: dict[str, str]) -> None:
    signature = {
        "inputs": [{"name": "text", "description": "a product review"}],
        "outputs": [
            {"name": "stars", "type": "int", "ge": 1, "le": 5},
            {"name": "label", "choices": ["pos", "neg"]},
        ],
        "instructions": "Rate the review.",
    }
    options = mock_options('{"stars": 9, "label": "pos"}', '{"stars": 5, "label": "pos"}')
    async with start_daemon(env, initialization_options=options) as d:
        result = await d.request(
            "dspex/predict", {"signature": signature, "inputs": {"text": "great"}}
        )
    assert result["outputs"] == {"stars": 5, "label": "pos"}
    assert result["attempts"] == 2


async def test_execute_command_runs_a_prediction(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock_options(json.dumps(VALID))) as d:
        commands = d.initialize_result.capabilities.execute_command_provider.commands
        result = await execute(d, {"signature": SEED, "inputs": SEED_INPUT})
        with pytest.raises(JsonRpcException) as err:
            await execute(d, 1, 2)
        with pytest.raises(JsonRpcException) as bad_sig:
            await execute(d, {"signature": "a b", "inputs": {}})
    assert "dspex.predict" in commands
    assert result["outputs"] == VALID
    assert err.value.code == -32602
    assert bad_sig.value.code == -32602


# --- the Chat Completions fake -----------------------------------------------------------


async def test_structured_mode_sends_a_strict_json_schema(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text=json.dumps(VALID)))
    result = await openai_daemon.request("dspex/predict", {"signature": SEED, "inputs": SEED_INPUT})
    assert result["outputs"] == VALID
    assert result["strategy"] == "json_schema"
    assert result["provider"] == "openai"
    fmt = last_body(fake_openai)["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["sentiment", "confidence", "reasoning"]
    assert schema["properties"]["confidence"]["enum"] == ["low", "medium", "high"]
    assert schema["additionalProperties"] is False


async def test_json_mode_sends_json_object_and_the_schema_in_the_prompt(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text="```json\n" + json.dumps(VALID) + "\n```"))
    result = await openai_daemon.request(
        "dspex/predict", {"signature": SEED, "inputs": SEED_INPUT, "mode": "json"}
    )
    assert result["outputs"] == VALID
    body = last_body(fake_openai)
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]["content"]
    assert '"enum":["low","medium","high"]' in system


async def test_text_mode_sends_markers_and_no_response_format(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(
        Reply(text="[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"),
    )
    result = await openai_daemon.request(
        "dspex/predict",
        {"signature": "question -> answer: int", "inputs": {"question": "2+2"}, "mode": "text"},
    )
    assert result["outputs"] == {"answer": 4}
    body = last_body(fake_openai)
    assert "response_format" not in body
    assert "[[ ## question ## ]]\n2+2" in body["messages"][-1]["content"]


async def test_repair_loop_accounting_on_the_openai_fake(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(
        Reply(text="I'd say positive!", prompt_tokens=100, completion_tokens=5),
        Reply(text='{"sentiment": "positive"}', prompt_tokens=120, completion_tokens=6),
        Reply(text=json.dumps(VALID), prompt_tokens=130, completion_tokens=20),
    )
    result = await openai_daemon.request(
        "dspex/predict", {"signature": SEED, "inputs": SEED_INPUT, "maxRetries": 2}
    )
    assert result["attempts"] == 3
    assert result["outputs"] == VALID
    assert result["usage"]["promptTokens"] == 350
    assert result["usage"]["completionTokens"] == 31
    assert result["usage"]["totalTokens"] == 381
    # Priced by the pipeline (genai-prices), summed over the three attempts.
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    expected = sum(
        float(
            calc_price(
                PriceUsage(input_tokens=p, output_tokens=c),
                "gpt-4o-mini-2024-07-18",
                provider_id="openai",
            ).total_price
        )
        for p, c in ((100, 5), (120, 6), (130, 20))
    )
    assert result["cost"] == pytest.approx(expected)
    assert len(fake_openai.requests) == 3
    third = last_body(fake_openai)["messages"]
    assert third[-2]["role"] == "assistant"
    assert third[-2]["content"] == '{"sentiment": "positive"}'
    assert "confidence" in third[-1]["content"]
    assert not any("I'd say positive" in (m["content"] or "") for m in third)
    # Every attempt carries the one correlation id of the prediction.
    assert result["correlationId"]


async def test_demos_and_chain_of_thought_shape_the_prompt(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text=json.dumps({"reasoning": "2 and 2", "answer": "4"})))
    result = await openai_daemon.request(
        "dspex/predict",
        {
            "signature": "question -> answer",
            "inputs": {"question": "2+2?"},
            "chainOfThought": True,
            "demos": [{"inputs": {"question": "1+1?"}, "outputs": {"answer": "2"}}],
        },
    )
    assert list(result["outputs"]) == ["reasoning", "answer"]
    body = last_body(fake_openai)
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "1+1?" in body["messages"][1]["content"]
    assert json.loads(body["messages"][2]["content"]) == {"answer": "2"}
    schema = body["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["reasoning", "answer"]


async def test_tool_calls_of_the_signature_come_back_in_the_result(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    call = {"id": "call_1", "name": "lookup", "arguments": {"q": "Elixir"}}
    fake_openai.queue(Reply(text=None, tool_calls=[call]))
    tool = {
        "name": "lookup",
        "description": "look a term up",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    result = await openai_daemon.request(
        "dspex/predict",
        {
            "signature": "question -> answer",
            "inputs": {"question": "What is Elixir?"},
            "tools": [tool],
        },
    )
    assert result["toolCalls"] == [call]
    assert result["outputs"] == {}
    body = last_body(fake_openai)
    assert body["tool_choice"] == "auto"
    assert body["tools"][0]["function"]["name"] == "lookup"


async def test_a_provider_error_keeps_its_kind(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    from fakes.openai_server import openai_error

    fake_openai.queue(openai_error(400, "bad", "invalid_request_error", "invalid_request_error"))
    with pytest.raises(JsonRpcException) as err:
        await openai_daemon.request("dspex/predict", {"signature": SEED, "inputs": SEED_INPUT})
    assert err.value.data["kind"] == "invalid_messages"
    assert err.value.data["provider"] == "openai"
