"""The Responses API parsers and request builder, in-process: a streamed answer assembles
to the plain one for any split of its events, event types the parser does not know are
skipped, and a history's reasoning goes back linked or not at all."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from fakes.base import Refusal, Reply, ServerTool, Thinking
from fakes.openai_responses_wire import render_response, response_events
from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_protocol import Message, ReasoningPart, TextPart, ToolCall
from dspex_server.errors import DspexError
from dspex_server.providers.base import ProviderRequest, ProviderResponse, StreamAccumulator
from dspex_server.providers.openai_responses import OpenAIResponsesAdapter
from dspex_server.providers.openai_responses_request import build_body
from dspex_server.providers.openai_responses_stream import ResponsesStreamParser
from dspex_server.providers.settings import ResponsesSettings
from dspex_server.providers.table import PROVIDER_BY_NAME

P = "openai-responses"
BODY = {"model": "o4-mini", "include": ["reasoning.encrypted_content"]}


def adapter() -> OpenAIResponsesAdapter:
    return OpenAIResponsesAdapter(PROVIDER_BY_NAME[P], ResponsesSettings(), "sk-x", "httpx")


def plain(response: dict[str, Any]) -> ProviderResponse:
    return adapter().parse_response(json.loads(json.dumps(response)), "o4-mini", None)


def streamed(events: list[Any]) -> tuple[ProviderResponse, bool]:
    parser = ResponsesStreamParser(adapter(), "o4-mini", None)
    acc = StreamAccumulator("o4-mini")
    for event in events:
        for part in parser.feed(json.loads(json.dumps(event))):
            acc.add(part)
        if parser.done:
            break
    return acc.response(P), parser.done


def answer(response: ProviderResponse) -> tuple[Any, ...]:
    return (
        response.message.model_dump(),
        response.finish_reason,
        response.usage,
        response.model,
        response.response_id,
        response.logprobs,
    )


texts = st.text(alphabet="ab \n", min_size=0, max_size=12)
blocks = st.lists(
    st.one_of(
        texts.filter(bool),
        st.builds(Thinking, st.lists(texts.filter(str.strip), max_size=3).map("\n\n\n".join)),
        st.builds(Refusal, texts.filter(bool)),
        st.builds(
            ServerTool,
            id=st.sampled_from(["ws_1", "ci_2"]),
            name=st.just("web_search"),
            input=st.just({"action": {"type": "search", "query": "q"}}),
            output=st.one_of(st.just({}), st.just({"results": [{"text": "r"}]})),
            result_type=st.sampled_from(["web_search_call", "file_search_call", "newer_call"]),
        ),
    ),
    max_size=5,
)
calls = st.lists(
    st.builds(
        lambda n, city: {"id": f"call_{n}", "name": "get_weather", "arguments": {"city": city}},
        st.integers(0, 99),
        texts,
    ),
    max_size=3,
    unique_by=lambda c: c["id"],
)


@settings(max_examples=150, deadline=None)
@given(
    blocks=blocks,
    tool_calls=calls,
    finish=st.sampled_from([None, "length", "content_filter"]),
    logprobs=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_a_stream_assembles_to_the_plain_answer_for_any_split(
    blocks: list[Any], tool_calls: list[Any], finish: str | None, logprobs: bool, seed: int
) -> None:
    body = {**BODY, "include": [*BODY["include"], *(["message.output_text.logprobs"] * logprobs)]}
    reply = Reply(
        blocks=blocks,
        tool_calls=tool_calls,
        finish_reason=finish,
        reasoning_tokens=5,
        cached_tokens=3,
    )
    response = render_response(body, reply, "resp_1", itertools.count()).response
    rng = random.Random(seed)

    def split(text: str) -> list[str]:
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 3))))
        return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])] if text else []

    events = response_events(response, split)
    whole, done = streamed(events)
    assert done
    assert answer(whole) == answer(plain(response))


@settings(max_examples=60, deadline=None)
@given(blocks=blocks, tool_calls=calls, seed=st.integers(0, 2**32))
def test_a_stream_of_done_events_only_assembles_to_the_plain_answer(
    blocks: list[Any], tool_calls: list[Any], seed: int
) -> None:
    """Servers that send no deltas (only each `*.done` with the whole) are read alike."""
    response = render_response(
        BODY, Reply(blocks=blocks, tool_calls=tool_calls), "r", itertools.count()
    ).response
    events = [e for e in response_events(response) if not e["type"].endswith(".delta")]
    assert answer(streamed(events)[0]) == answer(plain(response))


def test_unknown_and_progress_events_are_skipped() -> None:
    response = render_response(BODY, Reply(blocks=["Hello."]), "r", itertools.count()).response
    events = response_events(response)
    noise = [
        {"type": "response.output_text.annotation.added", "output_index": 0, "annotation": {}},
        {"type": "response.something_new.delta", "output_index": 0, "delta": "?"},
        {"type": "keepalive"},
    ]
    whole, done = streamed([*events[:4], *noise, *events[4:]])
    assert done
    assert whole.message.content == "Hello."


def test_a_stream_without_its_terminal_event_is_not_done() -> None:
    response = render_response(BODY, Reply(blocks=["Hello."]), "r", itertools.count()).response
    whole, done = streamed(response_events(response)[:-1])
    assert not done
    assert whole.message.content == "Hello."


def test_items_the_final_response_holds_but_the_stream_skipped_are_read_at_the_end() -> None:
    tool = ServerTool(
        id="mcpl_1",
        name="mcp",
        input={"server_label": "docs"},
        output={"tools": []},
        result_type="mcp_list_tools",
    )
    response = render_response(
        BODY, Reply(blocks=[tool, "Listed."]), "r", itertools.count()
    ).response
    events = [
        e
        for e in response_events(response)
        if not (e["type"] == "response.output_item.done" and e["output_index"] == 0)
    ]
    whole, _ = streamed(events)
    assert [p.type for p in whole.message.parts or ()] == ["text", "server_tool"]


def test_a_failed_response_and_an_error_event_are_errors() -> None:
    failed = {
        "id": "r",
        "status": "failed",
        "output": [],
        "error": {"code": "rate_limit_exceeded", "message": "slow down"},
    }
    with pytest.raises(DspexError) as info:
        plain(failed)
    assert info.value.kind.value == "rate_limited" and info.value.retryable
    with pytest.raises(DspexError) as info:
        streamed([{"type": "response.failed", "response": failed}])
    assert info.value.kind.value == "rate_limited"
    with pytest.raises(DspexError) as info:
        streamed(
            [{"type": "error", "code": "invalid_prompt", "message": "bad prompt", "param": None}]
        )
    assert info.value.kind.value == "invalid_messages"
    assert "bad prompt" in info.value.message


# -- the history sent back ----------------------------------------------------------------


def body_for(*messages: Message, store: bool = False) -> list[dict[str, Any]]:
    request = ProviderRequest(model="o4-mini", messages=list(messages))
    return build_body(request, provider=P, store=store, reasons=True)["input"]


USER = Message(role="user", content="q")
CALL = ToolCall(id="call_1", name="f", arguments={}, item_id="fc_1")


def test_linked_reasoning_goes_back_before_its_call_with_the_ids() -> None:
    turn = Message(
        role="assistant",
        content=[ReasoningPart(text="t", summary=True, id="rs_1", data="enc")],
        tool_calls=[CALL],
    )
    sent = body_for(USER, turn)
    assert [i.get("type") for i in sent] == [None, "reasoning", "function_call"]
    assert sent[1]["encrypted_content"] == "enc" and sent[2]["id"] == "fc_1"


def test_reasoning_without_data_is_dropped_unless_stored() -> None:
    turn = Message(
        role="assistant",
        content=[ReasoningPart(text="t", summary=True, id="rs_1"), TextPart(text="a", id="msg_1")],
    )
    assert body_for(USER, turn)[1] == {"role": "assistant", "content": "a"}
    stored = body_for(USER, turn, store=True)
    assert stored[1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "t"}],
    }
    assert stored[2]["id"] == "msg_1"


def test_reasoning_whose_following_item_lost_its_id_is_dropped() -> None:
    turn = Message(
        role="assistant",
        content=[ReasoningPart(id="rs_1", data="enc")],
        tool_calls=[ToolCall(id="call_1", name="f")],
    )
    sent = body_for(USER, turn)
    assert [i.get("type") for i in sent] == [None, "function_call"]


def test_reasoning_text_contents_go_back_as_content_and_summaries_as_summary() -> None:
    turn = Message(
        role="assistant",
        content=[
            ReasoningPart(text="raw", id="rs_1", data="enc"),
            ReasoningPart(text="sum", summary=True, id="rs_1"),
            TextPart(text="a", id="msg_1"),
        ],
    )
    item = body_for(USER, turn)[1]
    assert item["content"] == [{"type": "reasoning_text", "text": "raw"}]
    assert item["summary"] == [{"type": "summary_text", "text": "sum"}]
