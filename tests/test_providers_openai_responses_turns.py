"""The Responses API over several turns, through the daemon against the loopback fake:
reasoning items (summaries, encrypted content) sent back linked to the calls and
messages that followed them, server tools as parts, and previousResponseId chaining."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from daemon import SINGLE_ATTEMPT, Daemon, start_daemon
from fakes.base import Reply, ServerTool, Thinking
from fakes.openai_responses_server import FakeOpenAIResponses
from provider_checks import WEATHER_TOOL, chat, chat_error, stream_chat
from responses_support import P, d, fake, fresh_fake, last_body, responses_env

pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here

CALL = {"id": "call_weather_1", "name": "get_weather", "arguments": {"city": "Paris"}}
ASK = {"role": "user", "content": "Weather in Paris?"}
THINKING = Thinking("**Planning**\n\nI should call the weather tool.")


async def test_reasoning_is_asked_for_and_comes_back_as_a_part(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(Reply(blocks=[THINKING, "Rayleigh scattering."], reasoning_tokens=64))
    result = await chat(d, P, reasoning={"effort": "high", "summary": "detailed"})
    sent = last_body(fake)
    assert sent["model"] == "o4-mini"
    assert sent["reasoning"] == {"effort": "high", "summary": "detailed"}
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["store"] is False
    message = result["choices"][0]["message"]
    assert message["content"] == "Rayleigh scattering."
    assert message["reasoning"] == THINKING.text
    reasoning, text = message["parts"]
    assert reasoning["type"] == "reasoning"
    assert reasoning["summary"] is True
    assert reasoning["id"].startswith("rs_")
    assert reasoning["data"]  # the encrypted content, opaque
    assert reasoning["provider"] == P
    assert text == {"type": "text", "text": "Rayleigh scattering.", "id": text["id"]}
    assert result["usage"]["reasoningTokens"] == 64


async def test_streamed_reasoning_arrives_as_its_own_delta_then_closes(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    two = Thinking("First thought.\n\n\nSecond thought.")  # two summary parts
    fake.queue(Reply(blocks=[two, "Done."]))
    result, partials = await stream_chat(d, P, reasoning={"summary": "auto"})
    streamed = "".join(p["delta"].get("reasoning", "") for p in partials)
    assert streamed == "First thought.\n\nSecond thought."
    closing = [p["delta"]["parts"][0] for p in partials if p["delta"].get("parts")]
    assert closing[0]["type"] == "reasoning" and closing[0]["data"]
    message = result["choices"][0]["message"]
    assert message["reasoning"] == streamed
    assert message["parts"][0]["data"] == closing[0]["data"]
    fake.queue(Reply(blocks=[two, "Done."]))
    plain = await chat(d, P, reasoning={"summary": "auto"})
    plain_parts = plain["choices"][0]["message"]["parts"]
    assert [p["type"] for p in plain_parts] == [p["type"] for p in message["parts"]]
    assert plain_parts[0]["text"] == message["parts"][0]["text"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_use_with_reasoning_sends_the_reasoning_back_before_the_call(
    d: Daemon, fake: FakeOpenAIResponses, streamed: bool
) -> None:
    """Turn 1: reasoning (encrypted) and a function call. Turn 2: the answer as it came
    and the tool result; the reasoning item goes back before the call, linked by ids, as
    the API requires with nothing stored (the fake refuses either one alone)."""
    fake.queue(Reply(blocks=[THINKING], tool_calls=[CALL]))
    params: dict[str, Any] = {"messages": [ASK], "tools": [WEATHER_TOOL], "reasoning": {}}
    first = (await stream_chat(d, P, **params))[0] if streamed else await chat(d, P, **params)
    answer = first["choices"][0]["message"]
    assert first["choices"][0]["finishReason"] == "tool_calls"
    assert [c["id"] for c in answer["toolCalls"]] == [CALL["id"]]
    assert answer["toolCalls"][0]["itemId"].startswith("fc_")

    fake.queue(Reply(text="It is sunny in Paris."))
    history = [
        ASK,
        answer,
        {"role": "tool", "toolCallId": CALL["id"], "content": '{"sky": "sunny"}'},
    ]
    second = await chat(d, P, messages=history, tools=[WEATHER_TOOL], reasoning={})
    assert second["choices"][0]["message"]["content"] == "It is sunny in Paris."
    reasoning = answer["parts"][0]
    sent = last_body(fake)["input"]
    assert sent[0] == {"role": "user", "content": "Weather in Paris?"}
    assert sent[1] == {
        "type": "reasoning",
        "id": reasoning["id"],
        "summary": [{"type": "summary_text", "text": THINKING.text}],
        "encrypted_content": reasoning["data"],
    }
    assert sent[2] == {
        "type": "function_call",
        "id": answer["toolCalls"][0]["itemId"],
        "call_id": CALL["id"],
        "name": "get_weather",
        "arguments": json.dumps(CALL["arguments"]),
    }
    assert sent[3] == {
        "type": "function_call_output",
        "call_id": CALL["id"],
        "output": '{"sky": "sunny"}',
    }


async def test_a_history_without_the_reasoning_goes_back_unlinked(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(Reply(blocks=[THINKING], tool_calls=[CALL]))
    first = await chat(d, P, messages=[ASK], tools=[WEATHER_TOOL])
    answer = first["choices"][0]["message"]
    stripped = {"role": "assistant", "toolCalls": answer["toolCalls"]}  # parts dropped
    fake.queue(Reply(text="Sunny."))
    history = [ASK, stripped, {"role": "tool", "toolCallId": CALL["id"], "content": "sunny"}]
    result = await chat(d, P, messages=history, tools=[WEATHER_TOOL])
    assert result["choices"][0]["message"]["content"] == "Sunny."
    call_item = last_body(fake)["input"][1]
    assert call_item["type"] == "function_call"
    assert "id" not in call_item  # sent with its item id, the API would want the reasoning


async def test_the_fake_refuses_a_linked_call_without_its_reasoning(
    fake: FakeOpenAIResponses,
) -> None:
    """What the test above avoids: the API's answer to a call sent with its item id but
    without the reasoning item that preceded it (and to reasoning without encrypted
    content when nothing is stored)."""
    fake.queue(Reply(blocks=[THINKING], tool_calls=[CALL]))
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    url = fake.api_base + "/responses"
    first_body = {
        "model": "o4-mini",
        "input": "q",
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=first_body, headers=headers) as r:
            output = (await r.json())["output"]
        reasoning, call = output
        orphan = {
            "model": "o4-mini",
            "store": False,
            "input": [
                {"role": "user", "content": "q"},
                {k: call[k] for k in ("type", "id", "call_id", "name", "arguments")},
                {"type": "function_call_output", "call_id": CALL["id"], "output": "x"},
            ],
        }
        async with http.post(url, json=orphan, headers=headers) as r:
            assert r.status == 400
            message = (await r.json())["error"]["message"]
        assert message == (
            f"Item '{call['id']}' of type 'function_call' was provided without its required "
            f"'reasoning' item: '{reasoning['id']}'."
        )
        by_id = {**orphan, "input": [{"type": "reasoning", "id": reasoning["id"], "summary": []}]}
        async with http.post(url, json=by_id, headers=headers) as r:
            assert r.status == 404
            assert "Items are not persisted when `store` is set to false" in (await r.text())


async def test_a_reasoning_item_without_encrypted_content_is_left_out_when_not_stored(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    """A reasoning part without its opaque data (the answer came stored, or from a client
    that dropped it) cannot be looked up with store=false: it is not sent, nor are the ids
    that would link to it."""
    history = [
        ASK,
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "text": "hmm", "summary": True, "id": "rs_1", "provider": P},
                {"type": "text", "text": "Sunny.", "id": "msg_1"},
            ],
        },
        {"role": "user", "content": "And tomorrow?"},
    ]
    await chat(d, P, messages=history)
    assert last_body(fake)["input"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "And tomorrow?"},
    ]


async def test_a_multi_turn_conversation_with_reasoning_keeps_its_links(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    """Reasoning, then a message: the next turn sends both, the message as an output
    message item with its id (the reasoning's following item)."""
    fake.queue(Reply(blocks=[THINKING, "Paris is sunny."]))
    first = await chat(d, P, messages=[ASK], reasoning={})
    answer = first["choices"][0]["message"]
    fake.queue(Reply(text="Tomorrow too."))
    second = await chat(
        d, P, messages=[ASK, answer, {"role": "user", "content": "And tomorrow?"}], reasoning={}
    )
    assert second["choices"][0]["message"]["content"] == "Tomorrow too."
    sent = last_body(fake)["input"]
    assert [i.get("type", "easy") for i in sent] == ["easy", "reasoning", "message", "easy"]
    assert sent[2] == {
        "type": "message",
        "role": "assistant",
        "id": answer["parts"][1]["id"],
        "status": "completed",
        "content": [{"type": "output_text", "text": "Paris is sunny.", "annotations": []}],
    }


async def test_another_providers_reasoning_is_not_sent(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    signed = {"type": "reasoning", "text": "hmm", "signature": "sig", "provider": "anthropic"}
    history = [
        ASK,
        {"role": "assistant", "parts": [signed, {"type": "text", "text": "Sunny."}]},
        {"role": "user", "content": "More?"},
    ]
    await chat(d, P, messages=history)
    assert last_body(fake)["input"][1] == {"role": "assistant", "content": "Sunny."}


# -- server tools -------------------------------------------------------------------------

WEB = ServerTool(
    id="ws_1",
    name="web_search",
    input={"action": {"type": "search", "query": "weather Paris"}},
    output={},
    result_type="web_search_call",
)


async def test_server_tools_are_declared_and_their_items_are_parts(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(Reply(blocks=[WEB, "Sunny, 24°C."]))
    result = await chat(
        d,
        P,
        model="gpt-4.1",
        serverTools=[
            {"name": "web_search", "config": {"search_context_size": "low"}},
            {"name": "code_execution"},
            {"name": "file_search", "config": {"vector_store_ids": ["vs_1"]}},
            {"name": "image_generation"},
            {
                "name": "mcp",
                "config": {"server_label": "docs", "server_url": "https://mcp.example/"},
            },
        ],
    )
    sent = last_body(fake)
    assert sent["tools"] == [
        {"type": "web_search", "search_context_size": "low"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "image_generation"},
        {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example/"},
    ]
    assert sent["include"] == [
        "web_search_call.action.sources",
        "code_interpreter_call.outputs",
        "file_search_call.results",
    ]
    message = result["choices"][0]["message"]
    assert "toolCalls" not in message
    assert result["choices"][0]["finishReason"] == "stop"
    tool, text = message["parts"]
    assert tool == {
        "type": "server_tool",
        "id": "ws_1",
        "name": "web_search",
        "input": {"action": {"type": "search", "query": "weather Paris"}},
        "output": {"status": "completed"},
        "resultType": "web_search_call",
        "isError": False,
        "provider": P,
    }
    assert text["text"] == "Sunny, 24°C."


async def test_a_server_tool_streams_whole_and_goes_back_as_its_item(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    code = ServerTool(
        id="ci_1",
        name="code_interpreter",
        input={"code": "print(6*7)", "container_id": "cntr_1"},
        output={"outputs": [{"type": "logs", "logs": "42"}]},
        result_type="code_interpreter_call",
    )
    fake.queue(Reply(blocks=[THINKING, code, "The answer is 42."]))
    result, partials = await stream_chat(
        d, P, serverTools=[{"name": "code_execution"}], reasoning={}
    )
    wholes = [
        p for c in partials for p in c["delta"].get("parts") or () if p["type"] == "server_tool"
    ]
    assert [w["name"] for w in wholes] == ["code_execution"]
    assert wholes[0]["output"] == {
        "status": "completed",
        "outputs": [{"type": "logs", "logs": "42"}],
    }
    answer = result["choices"][0]["message"]
    assert [p["type"] for p in answer["parts"]] == ["reasoning", "server_tool", "text"]

    fake.queue(Reply(text="Yes."))
    history = [ASK, answer, {"role": "user", "content": "Sure?"}]
    await chat(d, P, messages=history, serverTools=[{"name": "code_execution"}], reasoning={})
    sent = last_body(fake)["input"]
    assert sent[2] == {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "code": "print(6*7)",
        "container_id": "cntr_1",
        "status": "completed",
        "outputs": [{"type": "logs", "logs": "42"}],
    }
    assert sent[1]["type"] == "reasoning" and sent[3]["type"] == "message"


# -- previousResponseId -------------------------------------------------------------------


async def test_previous_response_id_continues_a_stored_response(
    env: dict[str, str], fake: FakeOpenAIResponses
) -> None:
    options = {**SINGLE_ATTEMPT, "providers": {"openai-responses": {"store": True}}}
    async with start_daemon(responses_env(env, fake), initialization_options=options) as daemon:
        fake.queue(Reply(text="Noted: your name is Ada."))
        first = await chat(
            daemon, P, model="gpt-4.1", messages=[{"role": "user", "content": "I am Ada."}]
        )
        assert last_body(fake)["store"] is True
        fake.queue(Reply(text="You are Ada."))
        second = await chat(
            daemon,
            P,
            model="gpt-4.1",
            messages=[{"role": "user", "content": "Who am I?"}],
            previousResponseId=first["responseId"],
        )
    assert second["choices"][0]["message"]["content"] == "You are Ada."
    sent = last_body(fake)
    assert sent["previous_response_id"] == first["responseId"]
    assert sent["input"] == [{"role": "user", "content": "Who am I?"}]
    # The fake answered with the stored turn before the new input.
    context = fake.contexts[-1]
    assert context[0] == {"role": "user", "content": "I am Ada."}
    assert context[1]["content"][0]["text"] == "Noted: your name is Ada."
    assert context[-1] == {"role": "user", "content": "Who am I?"}
    assert second["responseId"] != first["responseId"]


async def test_previous_response_id_of_an_unstored_response_is_refused(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    first = await chat(d, P, model="gpt-4.1")
    assert last_body(fake)["store"] is False
    data = await chat_error(
        d, P, model="gpt-4.1", previousResponseId=first["responseId"], messages=[ASK]
    )
    assert data["kind"] == "invalid_messages"
    assert data["status"] == 404
    assert "not found" in data["message"]
    # With previousResponseId the continuation is stored, so that the chain can go on.
    assert last_body(fake)["store"] is True
