"""Context-window fitting: unit tests of the fitter and end to end through the daemon."""

from __future__ import annotations

from typing import Any

import pytest
from daemon import start_daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI
from pygls.exceptions import JsonRpcException

from dspex_protocol import Message, ToolCall
from dspex_server.context import estimate_message_tokens, fit_messages
from dspex_server.errors import DspexError


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


def ten(_: Message) -> int:
    return 10  # every message costs 10 tokens: the arithmetic stays readable


def test_truncation_keeps_system_messages_and_the_newest_turns() -> None:
    messages = [Message(role="system", content="s"), *(user(f"u{i}") for i in range(6))]
    fit = fit_messages(messages, limit=40, count=ten, fixed_tokens=0, strategy="truncate")
    assert [m.text() for m in fit.messages] == ["s", "u3", "u4", "u5"]
    assert fit.dropped == 3
    assert fit.estimated_tokens == 40


def test_truncation_never_separates_a_tool_call_from_its_results() -> None:
    call = Message(
        role="assistant", tool_calls=[ToolCall(id="c1", name="f"), ToolCall(id="c2", name="f")]
    )
    messages = [
        user("q1"),
        call,
        Message(role="tool", tool_call_id="c1", content="r1"),
        Message(role="tool", tool_call_id="c2", content="r2"),
        assistant("a1"),
        user("q2"),
    ]
    # Room for 3 messages: the call and its two results (30 tokens) cannot be split, so
    # they go together and the newest two turns stay.
    fit = fit_messages(messages, limit=30, count=ten, fixed_tokens=0, strategy="truncate")
    assert [m.role for m in fit.messages] == ["user"]
    assert [m.text() for m in fit.messages] == ["q2"]  # leading assistant turn trimmed too
    fit = fit_messages(messages, limit=50, count=ten, fixed_tokens=0, strategy="truncate")
    assert [m.role for m in fit.messages] == ["user"]
    fit = fit_messages(messages, limit=60, count=ten, fixed_tokens=0, strategy="truncate")
    assert [m.role for m in fit.messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "user",
    ]


def test_strategy_none_names_the_overflow() -> None:
    with pytest.raises(DspexError) as err:
        fit_messages([user("a"), user("b")], limit=15, count=ten, fixed_tokens=0, strategy="none")
    assert err.value.kind == "invalid_messages"
    assert err.value.details == {"estimatedTokens": 20, "limitTokens": 15, "overflowTokens": 5}


def test_a_newest_turn_larger_than_the_window_is_refused() -> None:
    with pytest.raises(DspexError) as err:
        fit_messages([user("a")], limit=5, count=ten, fixed_tokens=0, strategy="truncate")
    assert err.value.details is not None and err.value.details["overflowTokens"] == 5


def test_the_estimator_counts_text_tool_calls_and_images() -> None:
    text = estimate_message_tokens(user("x" * 400))
    assert text == 4 + 100
    image = Message.model_validate(
        {"role": "user", "content": [{"type": "image", "url": "http://127.0.0.1/i.png"}]}
    )
    assert estimate_message_tokens(image) == 4 + 85


# -- through the daemon ----------------------------------------------------------------


def small_window(env: dict[str, str], fake: FakeOpenAI, window: int) -> tuple[dict[str, str], Any]:
    environment = {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}
    return environment, {"context": {"contextWindows": {"openai/gpt-4o-mini": window}}}


async def test_chat_truncates_the_oldest_turns_and_says_so(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    environment, options = small_window(env, fake_openai, 300)
    # Each turn is ~104 tokens; the window minus maxTokens=50 leaves room for two of them.
    messages = [{"role": "system", "content": "sys"}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i}" + "x" * 399}
        for i in range(5)
    ]
    async with start_daemon(environment, initialization_options=options) as d:
        result = await d.request("dspex/chat", {"messages": messages, "maxTokens": 50})
    sent = fake_openai.requests[-1].body["messages"]
    assert [m["content"][:1] for m in sent] == ["s", "4"]
    assert result["truncation"]["droppedMessages"] == 4
    assert result["truncation"]["contextWindow"] == 300
    assert result["truncation"]["outputBudget"] == 50
    assert any("context truncated" in n for n in result["notices"])


async def test_strategy_none_fails_with_invalid_messages_before_sending(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    environment, options = small_window(env, fake_openai, 100)
    async with start_daemon(environment, initialization_options=options) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request(
                "dspex/chat",
                {
                    "messages": [{"role": "user", "content": "x" * 800}],
                    "maxTokens": 10,
                    "contextStrategy": "none",
                },
            )
    assert err.value.data["kind"] == "invalid_messages"
    assert "overflow" in err.value.data["message"]
    assert err.value.data["details"]["limitTokens"] == 90
    assert fake_openai.requests == []


async def test_a_session_keeps_its_full_history_while_requests_are_truncated(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    environment, options = small_window(env, fake_openai, 200)
    # The provider reports what the estimator counts, so the calibration stays at 1.0:
    # 63 and 123 tokens for the first two requests; the third (183) exceeds 200 - 20.
    fake_openai.queue(*(Reply(text="ok", prompt_tokens=n) for n in (63, 123, 120)))
    async with start_daemon(environment, initialization_options=options) as d:
        sid = (await d.request("dspex/session/start", {"system": "sys", "maxTokens": 20}))[
            "sessionId"
        ]
        for i in range(3):
            result = await d.request(
                "dspex/session/chat", {"sessionId": sid, "content": f"{i}" + "y" * 200}
            )
        history = await d.request("dspex/session/history", {"sessionId": sid})
    assert history["total"] == 6
    assert result["truncation"]["droppedMessages"] > 0
    sent = fake_openai.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "sys"}
    assert sent[-1]["content"].startswith("2")
    assert sent[1]["role"] == "user"
    assert len(sent) == 4


async def test_reported_usage_calibrates_the_estimate(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    environment, options = small_window(env, fake_openai, 400)
    # The provider counts twice what the estimator does: the next request is fitted with
    # the provider's count, so the old turn no longer fits.
    messages = [{"role": "user", "content": "x" * 400}]
    fake_openai.queue(Reply(text="ok", prompt_tokens=2 * 107))
    async with start_daemon(environment, initialization_options=options) as d:
        first = await d.request("dspex/chat", {"messages": messages, "maxTokens": 100})
        assert "truncation" not in first
        messages += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "y" * 200}]
        second = await d.request("dspex/chat", {"messages": messages, "maxTokens": 100})
    assert second["truncation"]["droppedMessages"] == 2


def test_trim_history_drops_whole_oldest_turns() -> None:
    from datetime import UTC, datetime

    from dspex_protocol import SessionMessage
    from dspex_server.sessions.store import trim_history

    at = datetime.now(tz=UTC)

    def msg(**fields: Any) -> SessionMessage:
        return SessionMessage.model_validate({**fields, "at": at})

    history = [
        msg(role="user", content="q1"),
        msg(role="assistant", tool_calls=[{"id": "c", "name": "f"}]),
        msg(role="tool", tool_call_id="c", content="r"),
        msg(role="assistant", content="a1"),
        msg(role="user", content="q2"),
        msg(role="assistant", content="a2"),
    ]
    # Four messages allowed: q1 goes, then the call goes with its result (never split).
    assert trim_history(history, 4) == 3
    assert [m.content for m in history] == ["a1", "q2", "a2"]
