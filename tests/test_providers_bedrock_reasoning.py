"""Bedrock reasoning and Nova's built-in tools through the daemon, plain and streamed,
against the fake Converse API: reasoningContent (signed, redacted) as reasoning parts,
reasoning asked per model family, a thinking + tool-use conversation sent back with its
signatures unchanged, and Nova's code interpreter reported as a server tool, never as
a tool call."""

from __future__ import annotations

from typing import Any

import pytest
from bedrock_support import bedrock, fake_bedrock, fresh_script
from daemon import Daemon
from fakes.base import Reply, ServerTool, Thinking
from fakes.bedrock_server import FakeBedrock
from provider_cases import WEATHER_TOOL, rpc_error

pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["bedrock", "fake_bedrock", "fresh_script"]  # module-scoped fixtures used here

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA2 = "us.amazon.nova-2-lite-v1:0"
SIGNATURE = "EqQBCkgIBhABGAIiQL2sig+unchanged=="
THOUGHT = Thinking(text="The user wants the weather; I should call the tool.", signature=SIGNATURE)
CALL = {"id": "tooluse_w1", "name": "get_weather", "arguments": {"city": "Oslo"}}
RESULT = [{"json": {"stdOut": "7006652", "stdErr": "", "exitCode": 0, "isError": False}}]
INTERPRETER = ServerTool(
    id="tooluse_ci1",
    name="nova_code_interpreter",
    input={"snippet": "1234 * 5678"},
    output=RESULT,
    result_type="nova_code_interpreter_result",
)


def chat(model: str, content: str = "Weather in Oslo?", **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": content}]
    return {"provider": "bedrock", "model": model, "messages": messages, **extra}


def sent(fake: FakeBedrock) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


# -- reasoning asked per model family -------------------------------------------------------


async def test_claude_thinking_budget_goes_in_additional_model_request_fields(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(blocks=[THOUGHT, "Let me check."]))
    result = await bedrock.request("dspex/chat", chat(CLAUDE, reasoning={"budgetTokens": 2048}))
    body = sent(fake_bedrock)
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 2048}
    }
    # Room for the answer after the budget: Claude's budget must stay below maxTokens.
    assert body["inferenceConfig"] == {"maxTokens": 2048 + 4096}
    message = result["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert message["reasoning"] == THOUGHT.text
    assert message["parts"] == [
        {
            "type": "reasoning",
            "text": THOUGHT.text,
            "summary": False,
            "signature": SIGNATURE,
            "provider": "bedrock",
        },
        {"type": "text", "text": "Let me check."},
    ]


async def test_claude_effort_becomes_a_budget_under_max_tokens(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    await bedrock.request("dspex/chat", chat(CLAUDE, maxTokens=3000, reasoning={"effort": "high"}))
    body = sent(fake_bedrock)
    assert body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 2999
    assert body["inferenceConfig"]["maxTokens"] == 3000


async def test_claude_budget_below_the_minimum_is_refused_before_sending(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    data = await rpc_error(bedrock, "dspex/chat", chat(CLAUDE, reasoning={"budgetTokens": 500}))
    assert data["kind"] == "invalid_messages"
    assert "at least 1024" in data["message"]
    data = await rpc_error(
        bedrock, "dspex/chat", chat(CLAUDE, maxTokens=2000, reasoning={"budgetTokens": 4000})
    )
    assert "below maxTokens" in data["message"]
    assert fake_bedrock.requests == []


async def test_claude_budget_zero_turns_thinking_off(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    await bedrock.request("dspex/chat", chat(CLAUDE, reasoning={"budgetTokens": 0}))
    assert sent(fake_bedrock)["additionalModelRequestFields"] == {"thinking": {"type": "disabled"}}


async def test_nova2_effort_is_its_reasoning_config(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(blocks=[Thinking(text="[REDACTED]"), "Paris."]))
    result = await bedrock.request("dspex/chat", chat(NOVA2, reasoning={"effort": "high"}))
    assert sent(fake_bedrock)["additionalModelRequestFields"] == {
        "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}
    }
    assert result["choices"][0]["message"]["reasoning"] == "[REDACTED]"
    await bedrock.request("dspex/chat", chat(NOVA2, reasoning={}))
    config = sent(fake_bedrock)["additionalModelRequestFields"]["reasoningConfig"]
    assert config == {"type": "enabled", "maxReasoningEffort": "medium"}


async def test_nova2_refuses_a_token_budget(bedrock: Daemon, fake_bedrock: FakeBedrock) -> None:
    data = await rpc_error(bedrock, "dspex/chat", chat(NOVA2, reasoning={"budgetTokens": 2000}))
    assert data["kind"] == "invalid_messages"
    assert "effort" in data["message"]
    assert fake_bedrock.requests == []


async def test_a_model_that_always_reasons_accepts_reasoning_without_a_field(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(blocks=[Thinking(text="Okay, the user asks..."), "Look both ways."]))
    result = await bedrock.request("dspex/chat", chat("us.deepseek.r1-v1:0", reasoning={}))
    assert "additionalModelRequestFields" not in sent(fake_bedrock)
    message = result["choices"][0]["message"]
    assert message["reasoning"] == "Okay, the user asks..."
    assert message["parts"][0].get("signature") is None
    await bedrock.request(
        "dspex/chat", chat("openai.gpt-oss-120b-1:0", reasoning={"effort": "low"})
    )
    assert sent(fake_bedrock)["additionalModelRequestFields"] == {"reasoning_effort": "low"}


async def test_reasoning_is_refused_where_the_model_cannot_reason(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    data = await rpc_error(bedrock, "dspex/chat", chat("eu.amazon.nova-lite-v1:0", reasoning={}))
    assert "cannot reason" in data["message"]  # the catalog says so
    data = await rpc_error(
        bedrock, "dspex/chat", chat("mistral.mistral-large-2407-v1:0", reasoning={})
    )
    assert data["details"]["unsupported"] == ["reasoning"]  # no documented switch
    assert fake_bedrock.requests == []


# -- reasoning in answers ---------------------------------------------------------------


async def test_streamed_reasoning_is_its_own_delta_and_the_signature_closes_it(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(blocks=[THOUGHT, "Sunny."]))
    result = await bedrock.request(
        "dspex/chat", chat(CLAUDE, reasoning={}, partialResultToken="think")
    )
    chunks = bedrock.partials["think"]
    assert "".join(c["delta"].get("reasoning", "") for c in chunks) == THOUGHT.text
    assert "".join(c["delta"].get("content", "") for c in chunks) == "Sunny."
    closing = [p for c in chunks for p in c["delta"].get("parts", ())]
    assert closing == [{"type": "reasoning", "summary": False, "signature": SIGNATURE}]
    message = result["choices"][0]["message"]
    assert [p["type"] for p in message["parts"]] == ["reasoning", "text"]
    assert message["parts"][0]["signature"] == SIGNATURE
    assert message["parts"][0]["text"] == THOUGHT.text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_redacted_reasoning_is_opaque_data(
    bedrock: Daemon, fake_bedrock: FakeBedrock, stream: bool
) -> None:
    redacted = [Thinking(redacted="RXU4RUNrZ0lCeEFC"), Thinking(redacted="RXFBRENrZ0lC")]
    fake_bedrock.queue(Reply(blocks=[*redacted, "Hello."]))
    extra = {"partialResultToken": "redacted"} if stream else {}
    result = await bedrock.request("dspex/chat", chat(CLAUDE, reasoning={}, **extra))
    message = result["choices"][0]["message"]
    assert message["content"] == "Hello."
    assert "reasoning" not in message
    assert [p.get("data") for p in message["parts"]] == [
        "RXU4RUNrZ0lCeEFC",
        "RXFBRENrZ0lC",
        None,
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_thinking_with_tools_round_trip_sends_the_signed_reasoning_back(
    bedrock: Daemon, fake_bedrock: FakeBedrock, stream: bool
) -> None:
    fake_bedrock.queue(Reply(blocks=[THOUGHT, "Let me check."], tool_calls=[CALL]))
    extra = {"partialResultToken": f"loop-{stream}"} if stream else {}
    params = chat(CLAUDE, tools=[WEATHER_TOOL], reasoning={"budgetTokens": 1024})
    first = await bedrock.request("dspex/chat", {**params, **extra})
    answer = first["choices"][0]["message"]
    assert answer["toolCalls"] == [{**CALL}]
    history = [
        *params["messages"],
        answer,
        {"role": "tool", "toolCallId": "tooluse_w1", "content": "Snow, -3 C"},
    ]
    fake_bedrock.queue(Reply(text="It is snowing in Oslo."))
    second = await bedrock.request("dspex/chat", {**params, "messages": history})
    assert second["choices"][0]["message"]["content"] == "It is snowing in Oslo."
    assert fake_bedrock.validation_failures == []
    assert sent(fake_bedrock)["messages"][1] == {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": THOUGHT.text, "signature": SIGNATURE}}},
            {"text": "Let me check."},
            {
                "toolUse": {
                    "toolUseId": "tooluse_w1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                }
            },
        ],
    }


async def test_a_tool_turn_without_its_signed_reasoning_is_refused_as_the_api_does(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "Let me check.", "toolCalls": [CALL]},
        {"role": "tool", "toolCallId": "tooluse_w1", "content": "Snow"},
    ]
    params = chat(CLAUDE, tools=[WEATHER_TOOL], reasoning={}, messages=history)
    data = await rpc_error(bedrock, "dspex/chat", params)
    assert data["kind"] == "invalid_messages"
    assert "must start with a thinking block" in data["message"]


async def test_a_changed_signature_is_refused_as_the_api_does(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    forged = {"type": "reasoning", "text": "hmm", "signature": "forged", "provider": "bedrock"}
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "parts": [forged], "toolCalls": [CALL]},
        {"role": "tool", "toolCallId": "tooluse_w1", "content": "Snow"},
    ]
    data = await rpc_error(
        bedrock, "dspex/chat", chat(CLAUDE, tools=[WEATHER_TOOL], reasoning={}, messages=history)
    )
    assert "Invalid `signature`" in data["message"]


async def test_another_providers_reasoning_is_not_sent_to_bedrock(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    theirs = {"type": "reasoning", "text": "x", "signature": "s", "provider": "anthropic"}
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "parts": [theirs, {"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "Again?"},
    ]
    await bedrock.request("dspex/chat", chat(CLAUDE, messages=history))
    assert sent(fake_bedrock)["messages"][1]["content"] == [{"text": "Hello."}]


# -- Nova's built-in tools ----------------------------------------------------------------


async def test_code_execution_asks_for_novas_code_interpreter(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(blocks=[INTERPRETER, "1234 * 5678 = 7006652."]))
    result = await bedrock.request(
        "dspex/chat", chat(NOVA2, "What is 1234 * 5678?", serverTools=[{"name": "code_execution"}])
    )
    assert sent(fake_bedrock)["toolConfig"] == {
        "tools": [{"systemTool": {"name": "nova_code_interpreter"}}]
    }
    choice = result["choices"][0]
    assert "toolCalls" not in choice["message"]
    assert choice["finishReason"] == "stop"
    assert choice["message"]["content"] == "1234 * 5678 = 7006652."
    assert choice["message"]["parts"][0] == {
        "type": "server_tool",
        "id": "tooluse_ci1",
        "name": "nova_code_interpreter",
        "input": {"snippet": "1234 * 5678"},
        "output": RESULT,
        "resultType": "nova_code_interpreter_result",
        "isError": False,
        "provider": "bedrock",
    }


async def test_a_streamed_built_in_tool_is_a_whole_part_beside_the_client_call(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    final = {"id": "tooluse_f1", "name": "final_result", "arguments": {"result": 7006652}}
    fake_bedrock.queue(Reply(blocks=[INTERPRETER], tool_calls=[final]))
    tool = {"name": "final_result", "parameters": {"type": "object"}}
    params = chat(
        NOVA2,
        "What is 1234 * 5678?",
        tools=[tool],
        toolChoice="required",
        serverTools=[{"name": "code_execution"}],
        partialResultToken="ci",
    )
    result = await bedrock.request("dspex/chat", params)
    chunks = bedrock.partials["ci"]
    wholes = [p for c in chunks for p in c["delta"].get("parts", ())]
    assert [(p["type"], p["name"]) for p in wholes] == [("server_tool", "nova_code_interpreter")]
    assert wholes[0]["output"] == RESULT
    streamed_calls = [t for c in chunks for t in c["delta"].get("toolCalls", ())]
    assert {t.get("name") for t in streamed_calls} <= {"final_result", None}
    assert streamed_calls[0]["name"] == "final_result"
    choice = result["choices"][0]
    assert choice["message"]["toolCalls"] == [final]
    assert choice["finishReason"] == "tool_calls"
    assert [p["type"] for p in choice["message"]["parts"]] == ["server_tool"]


async def test_built_in_tool_results_go_back_as_bedrock_sent_them(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.queue(Reply(blocks=[INTERPRETER, "7006652."]))
    params = chat(NOVA2, "What is 1234 * 5678?", serverTools=[{"name": "code_execution"}])
    first = await bedrock.request("dspex/chat", params)
    history = [
        *params["messages"],
        first["choices"][0]["message"],
        {"role": "user", "content": "Now double it."},
    ]
    # Asked without serverTools: the history's built-in tool is declared again.
    await bedrock.request("dspex/chat", chat(NOVA2, messages=history))
    body = sent(fake_bedrock)
    assert fake_bedrock.validation_failures == []
    assert body["messages"][1]["content"] == [
        {
            "toolUse": {
                "toolUseId": "tooluse_ci1",
                "name": "nova_code_interpreter",
                "input": {"snippet": "1234 * 5678"},
                "type": "server_tool_use",
            }
        },
        {
            "toolResult": {
                "toolUseId": "tooluse_ci1",
                "content": RESULT,
                "type": "nova_code_interpreter_result",
                "status": "success",
            }
        },
        {"text": "7006652."},
    ]
    assert body["toolConfig"] == {"tools": [{"systemTool": {"name": "nova_code_interpreter"}}]}


async def test_web_search_is_novas_grounding_and_other_names_are_refused(
    bedrock: Daemon, fake_bedrock: FakeBedrock
) -> None:
    await bedrock.request("dspex/chat", chat(NOVA2, serverTools=[{"name": "web_search"}]))
    assert sent(fake_bedrock)["toolConfig"]["tools"] == [{"systemTool": {"name": "nova_grounding"}}]
    data = await rpc_error(bedrock, "dspex/chat", chat(NOVA2, serverTools=[{"name": "web_fetch"}]))
    assert data["kind"] == "invalid_messages"
    assert "web_fetch" in data["message"]
    data = await rpc_error(
        bedrock, "dspex/chat", chat(CLAUDE, serverTools=[{"name": "code_execution"}])
    )
    assert data["details"]["unsupported"] == ["serverTools"]
