"""Predict internals without a daemon: strategies, request parts, strict schemas, text
parsing, and the repair loop's accounting against a scripted `ask`."""

from __future__ import annotations

from typing import Any

import pytest

from dspex_protocol import (
    AssistantMessage,
    ChatResult,
    Choice,
    Demo,
    ErrorKind,
    Message,
    NamedToolChoice,
    PredictParams,
    ToolCall,
    ToolDefinition,
    Usage,
)
from dspex_server.errors import DspexError
from dspex_server.predict.model import build_model, json_schema, strict_schema
from dspex_server.predict.modes import (
    prompt_style,
    read_answer,
    request_parts,
    select_strategy,
)
from dspex_server.predict.prompt import OUTPUT_TOOL, build_messages, parse_text
from dspex_server.predict.repair import RepairPolicy, run_with_repair
from dspex_server.predict.service import check_demos, check_inputs, prepare_signature
from dspex_server.predict.signature import SignatureError
from dspex_server.providers.table import PROVIDER_BY_NAME, ProviderSpec

SEED = "text -> sentiment, confidence, reasoning"


def spec(wire: str, caps: set[str]) -> ProviderSpec:
    return ProviderSpec("p", wire, None, "m", capabilities=frozenset(caps))  # type: ignore[arg-type]


class CostedResult(ChatResult):
    """A chat result with the cost the pipeline will report once pricing lands."""

    cost: float | None = None


def result(
    text: str | None = None,
    calls: list[ToolCall] | None = None,
    prompt: int = 10,
    completion: int = 5,
    cost: float | None = None,
) -> ChatResult:
    return CostedResult(
        choices=[Choice(message=AssistantMessage(content=text, tool_calls=calls))],
        usage=Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        ),
        provider="p",
        model="m",
        correlation_id="c",
        latency_ms=1.0,
        cost=cost,
    )


class Script:
    """An `ask` that answers from a list and records what it was asked."""

    def __init__(self, *answers: ChatResult) -> None:
        self.answers = list(answers)
        self.asked: list[list[Message]] = []

    async def __call__(self, messages: list[Message]) -> ChatResult:
        self.asked.append(messages)
        return self.answers.pop(0)


def setup(signature: str = SEED, strategy: str = "json_object", **params: Any) -> Any:
    sig = prepare_signature(PredictParams(signature=signature, **params))
    model = build_model("Out", sig.outputs)
    style = prompt_style(strategy)  # type: ignore[arg-type]
    messages = build_messages(sig, {"text": "I love Elixir"}, [], style, json_schema(model))
    return sig, model, style, messages


# --- strategies ----------------------------------------------------------------------


def test_structured_uses_json_schema_where_the_provider_has_it() -> None:
    assert select_strategy("structured", PROVIDER_BY_NAME["openai"]) == "json_schema"


def test_structured_is_a_forced_tool_call_on_anthropic() -> None:
    assert select_strategy("structured", spec("anthropic", {"chat", "tools"})) == "tool"


@pytest.mark.parametrize("wire", ["gemini", "ollama"])
def test_structured_uses_the_native_schema_on_gemini_and_ollama(wire: str) -> None:
    assert select_strategy("structured", spec(wire, {"chat"})) == "json_schema"


def test_structured_falls_back_to_json_mode_then_prompt() -> None:
    assert select_strategy("structured", PROVIDER_BY_NAME["mock"]) == "json_object"
    assert select_strategy("structured", spec("openai_compat", {"chat"})) == "prompt_json"


def test_json_and_text_modes() -> None:
    assert select_strategy("json", PROVIDER_BY_NAME["openai"]) == "json_object"
    assert select_strategy("json", spec("openai_compat", {"chat"})) == "prompt_json"
    assert select_strategy("text", PROVIDER_BY_NAME["openai"]) == "text"


def test_openai_json_schema_is_strict_when_the_schema_allows() -> None:
    _, model, _, _ = setup()
    schema = json_schema(model)
    parts = request_parts("json_schema", schema, strict_schema(schema), [], "openai_compat")
    assert parts.response_format is not None
    assert parts.response_format.strict is True
    assert parts.tools is None and parts.tool_choice is None


def test_a_free_form_field_makes_the_schema_non_strict() -> None:
    _, model, _, _ = setup("text -> data: dict[str, int]")
    schema = json_schema(model)
    assert strict_schema(schema) is None
    parts = request_parts("json_schema", schema, None, [], "openai_compat")
    assert parts.response_format is not None and parts.response_format.strict is None


def test_strict_schema_makes_optional_fields_required_and_nullable() -> None:
    _, model, _, _ = setup("text -> answer, note: Optional[str]")
    strict = strict_schema(json_schema(model))
    assert strict is not None
    assert strict["required"] == ["answer", "note"]
    assert {"type": "null"} in strict["properties"]["note"]["anyOf"]
    assert "default" not in strict["properties"]["note"]


def test_tool_strategy_forces_the_output_tool_or_requires_a_tool_beside_user_tools() -> None:
    _, model, _, _ = setup()
    schema = json_schema(model)
    alone = request_parts("tool", schema, None, [], "anthropic")
    assert alone.tool_choice == NamedToolChoice(name=OUTPUT_TOOL)
    assert alone.tools is not None and alone.tools[0].parameters == schema
    lookup = ToolDefinition(name="lookup")
    both = request_parts("tool", schema, None, [lookup], "anthropic")
    assert both.tool_choice == "required"
    assert [t.name for t in both.tools or []] == [OUTPUT_TOOL, "lookup"]


def test_reserved_and_duplicate_tool_names_are_refused() -> None:
    with pytest.raises(SignatureError, match="reserved"):
        prepare_signature(PredictParams(signature=SEED, tools=[ToolDefinition(name=OUTPUT_TOOL)]))
    with pytest.raises(SignatureError, match="distinct"):
        prepare_signature(PredictParams(signature=SEED, tools=[ToolDefinition(name="a")] * 2))


def test_tools_declared_in_the_json_form_join_the_params_tools() -> None:
    signature = {
        "inputs": [{"name": "q"}],
        "outputs": [{"name": "answer"}],
        "tools": [{"name": "search"}],
    }
    sig = prepare_signature(
        PredictParams(signature=signature, tools=[ToolDefinition(name="lookup")])
    )
    assert [t.name for t in sig.tools] == ["search", "lookup"]


def test_inputs_are_checked_against_the_signature() -> None:
    sig = prepare_signature(PredictParams(signature="n: int, text -> answer"))
    assert check_inputs(sig, {"n": "3", "text": [1]}) == {"n": 3, "text": [1]}
    with pytest.raises(SignatureError) as err:
        check_inputs(sig, {"n": "x", "text": "t"})
    assert err.value.errors[0]["loc"] == ["inputs", "n"]
    with pytest.raises(SignatureError, match="unknown input 'txt'"):
        check_inputs(sig, {"n": 1, "txt": "t"})


def test_demos_may_name_only_the_signatures_fields() -> None:
    sig = prepare_signature(PredictParams(signature="question -> answer"))
    check_demos(sig, [Demo(inputs={"question": "1+1"}, outputs={"answer": "2"})])
    with pytest.raises(SignatureError) as err:
        check_demos(sig, [Demo(inputs={"question": "1+1"}, outputs={"anser": "2"})])
    assert err.value.errors[0]["loc"] == ["demos", 0, "outputs", "anser"]


def test_chain_of_thought_puts_reasoning_first() -> None:
    sig = prepare_signature(PredictParams(signature="q -> answer", chain_of_thought=True))
    assert sig.output_names == ["reasoning", "answer"]


# --- text mode parsing ---------------------------------------------------------------


def test_text_answers_are_read_from_their_markers() -> None:
    sig = prepare_signature(PredictParams(signature="q -> answer, n: int, tags: list[str]"))
    parsed = parse_text(
        "Here you go\n[[ ## answer ## ]]\nforty two\n\n[[ ## n ## ]]\n42\n"
        '[[ ## tags ## ]]\n["a", "b"]\n\n[[ ## completed ## ]]\n',
        sig,
    )
    assert parsed.values == {"answer": "forty two", "n": 42, "tags": ["a", "b"]}
    assert not parsed.missing and not parsed.problems


def test_text_parsing_is_strict_about_markers() -> None:
    sig = prepare_signature(PredictParams(signature="q -> answer, n: int"))
    parsed = parse_text("[[ ## answer ## ]]\na\n[[ ## answer ## ]]\nb\n[[ ## bogus ## ]]\nx", sig)
    assert parsed.missing == ["n"]
    assert any("twice" in p for p in parsed.problems)
    assert any("bogus" in p for p in parsed.problems)


# --- the repair loop -------------------------------------------------------------------

VALID = '{"sentiment": "positive", "confidence": "high", "reasoning": "love"}'


async def test_repair_loop_sums_usage_and_cost_over_attempts() -> None:
    sig, model, style, messages = setup()
    ask = Script(
        result("Sure! It is positive.", cost=0.001),
        result('{"sentiment": "positive"}', prompt=20, cost=0.002),
        result(VALID, prompt=30),
    )
    outcome = await run_with_repair(
        ask, messages, "json_object", style, sig, model, RepairPolicy(max_retries=2)
    )
    assert outcome.outputs == {"sentiment": "positive", "confidence": "high", "reasoning": "love"}
    assert outcome.accounting.attempts == 3
    assert outcome.accounting.usage.prompt_tokens == 60
    assert outcome.accounting.usage.completion_tokens == 15
    assert outcome.accounting.usage.total_tokens == 75
    assert outcome.accounting.cost == pytest.approx(0.003)


async def test_a_retry_carries_only_the_last_failed_answer_and_its_errors() -> None:
    sig, model, style, messages = setup()
    ask = Script(result("first broken"), result('{"sentiment": "positive"}'), result(VALID))
    await run_with_repair(
        ask, messages, "json_object", style, sig, model, RepairPolicy(max_retries=2)
    )
    third = ask.asked[2]
    assert len(third) == len(messages) + 2
    assert third[-2].role == "assistant" and third[-2].text() == '{"sentiment": "positive"}'
    assert "confidence" in third[-1].text() and "reasoning" in third[-1].text()
    assert all("first broken" not in m.text() for m in third)


async def test_out_of_retries_raises_the_last_failure_with_details() -> None:
    sig, model, style, messages = setup()
    ask = Script(result("nope"), result('{"sentiment": "positive", "confidence": "huge"}'))
    with pytest.raises(DspexError) as err:
        await run_with_repair(
            ask, messages, "json_object", style, sig, model, RepairPolicy(max_retries=1)
        )
    exc = err.value
    assert exc.kind == ErrorKind.MISSING_FIELDS
    assert exc.details is not None
    assert exc.details["missing"] == ["reasoning"]
    assert exc.details["attempts"] == 2
    assert any("confidence" in e for e in exc.details["errors"])
    assert exc.details["rawAnswer"].startswith('{"sentiment"')


async def test_invalid_values_are_validation_failed() -> None:
    sig, model, style, messages = setup("text -> score")
    ask = Script(result('{"score": 7}'))
    with pytest.raises(DspexError) as err:
        await run_with_repair(
            ask, messages, "json_object", style, sig, model, RepairPolicy(max_retries=0)
        )
    assert err.value.kind == ErrorKind.VALIDATION_FAILED
    assert err.value.details is not None and err.value.details["rawAnswer"] == '{"score": 7}'


async def test_a_spent_token_budget_stops_the_retries() -> None:
    sig, model, style, messages = setup()
    ask = Script(result("broken", prompt=100), result(VALID))
    with pytest.raises(DspexError) as err:
        await run_with_repair(
            ask,
            messages,
            "json_object",
            style,
            sig,
            model,
            RepairPolicy(max_retries=3, token_budget=50),
        )
    assert err.value.kind == ErrorKind.BUDGET_EXCEEDED
    assert err.value.details is not None
    assert err.value.details["failure"] == "invalid_json_response"
    assert len(ask.asked) == 1


async def test_the_tool_strategy_reads_the_output_tool_arguments() -> None:
    sig, model, style, messages = setup(strategy="tool")
    call = ToolCall(
        id="t1",
        name=OUTPUT_TOOL,
        arguments={"sentiment": "positive", "confidence": "low", "reasoning": "r"},
    )
    outcome = await run_with_repair(
        Script(result(calls=[call])), messages, "tool", style, sig, model, RepairPolicy()
    )
    assert outcome.outputs["confidence"] == "low"


async def test_calls_of_the_signatures_tools_come_back_without_validation() -> None:
    sig, model, style, messages = setup()
    call = ToolCall(id="t1", name="lookup", arguments={"q": "elixir"})
    outcome = await run_with_repair(
        Script(result(calls=[call])), messages, "json_object", style, sig, model, RepairPolicy()
    )
    assert outcome.outputs == {} and outcome.tool_calls == [call]


def test_read_answer_prefers_the_output_tool() -> None:
    msg = AssistantMessage(
        tool_calls=[ToolCall(id="1", name=OUTPUT_TOOL, arguments={"a": 1})], content=None
    )
    answer = read_answer("tool", msg)
    assert answer.arguments == {"a": 1} and answer.tool_calls == []
