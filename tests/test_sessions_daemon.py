"""`dspex/session/*` through the real daemon."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from daemon import Daemon, start_daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI
from pygls.exceptions import JsonRpcException


def openai_env(env: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    return {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}


async def start(d: Daemon, **params: Any) -> str:
    result = await d.request("dspex/session/start", params)
    return str(result["sessionId"])


async def say(d: Daemon, sid: str, content: str, **extra: Any) -> Any:
    return await d.request("dspex/session/chat", {"sessionId": sid, "content": content, **extra})


def sent_messages(fake: FakeOpenAI, index: int = -1) -> list[dict[str, Any]]:
    body = fake.requests[index].body
    assert isinstance(body, dict)
    return list(body["messages"])


async def test_multi_turn_session_sends_the_whole_conversation(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    sid = await start(openai_daemon, system="Be brief.", temperature=0.2)
    fake_openai.queue(Reply(text="Hi, Ada."), Reply(text="You are Ada."))
    first = await say(openai_daemon, sid, "I am Ada.")
    second = await say(openai_daemon, sid, "Who am I?")
    assert first["choices"][0]["message"]["content"] == "Hi, Ada."
    assert second["sessionId"] == sid
    assert [(m["role"], m["content"]) for m in sent_messages(fake_openai)] == [
        ("system", "Be brief."),
        ("user", "I am Ada."),
        ("assistant", "Hi, Ada."),
        ("user", "Who am I?"),
    ]
    body = fake_openai.requests[-1].body
    assert body["temperature"] == 0.2  # the session's option applies to every turn

    history = await openai_daemon.request("dspex/session/history", {"sessionId": sid})
    assert history["total"] == 4
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user", "assistant"]
    assert all(m["at"].endswith("Z") for m in history["messages"])
    assert history["messages"][1]["usage"]["promptTokens"] == 11

    listed = await openai_daemon.request("dspex/session/list", {})
    (info,) = listed["sessions"]
    assert info["messageCount"] == 4
    assert info["usage"]["totalTokens"] == 36
    assert info["stats"]["requests"] == 2


async def test_history_limit_returns_the_newest_messages(daemon: Daemon) -> None:
    sid = await start(daemon)
    for text in ("one", "two", "three"):
        await say(daemon, sid, text)
    history = await daemon.request("dspex/session/history", {"sessionId": sid, "limit": 2})
    assert history["total"] == 6
    assert [m["content"] for m in history["messages"]] == ["three", "three"]


async def test_session_chat_streams_like_chat(daemon: Daemon) -> None:
    sid = await start(daemon)
    result = await say(daemon, sid, "stream this answer please", partialResultToken="tok")
    text = "".join(c["delta"].get("content", "") for c in daemon.partials["tok"])
    assert text == "stream this answer please"
    assert result["choices"][0]["message"]["content"] == text
    assert all(c["correlationId"] == result["correlationId"] for c in daemon.partials["tok"])


async def test_tool_calls_and_results_round_trip_through_a_session(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    tools = [{"name": "weather", "parameters": {"type": "object", "properties": {}}}]
    sid = await start(openai_daemon, tools=tools)
    call = {"id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}}
    fake_openai.queue(Reply(tool_calls=[call]), Reply(text="It is cold."))
    asked = await say(openai_daemon, sid, "Weather in Oslo?")
    assert asked["choices"][0]["message"]["toolCalls"] == [call]

    # The conversation cannot go on before the call has its result.
    with pytest.raises(JsonRpcException) as err:
        await say(openai_daemon, sid, "Hello?")
    assert err.value.data["kind"] == "invalid_messages"

    answer = await openai_daemon.request(
        "dspex/session/chat",
        {
            "sessionId": sid,
            "messages": [{"role": "tool", "toolCallId": "call_1", "content": "-3C"}],
        },
    )
    assert answer["choices"][0]["message"]["content"] == "It is cold."
    sent = sent_messages(fake_openai)
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {"role": "tool", "content": "-3C", "tool_call_id": "call_1"}


async def test_concurrent_turns_of_one_session_never_interleave(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    sid = await start(openai_daemon)
    fake_openai.queue(Reply(text="A1", delay_s=0.3), Reply(text="A2"))
    first, second = await asyncio.gather(
        say(openai_daemon, sid, "Q1"), say(openai_daemon, sid, "Q2")
    )
    # The second turn was sent only after the first was answered, with it in its history.
    assert [m["content"] for m in sent_messages(fake_openai, 1)] == ["Q1", "A1", "Q2"]
    assert first["choices"][0]["message"]["content"] == "A1"
    assert second["choices"][0]["message"]["content"] == "A2"
    history = await openai_daemon.request("dspex/session/history", {"sessionId": sid})
    assert [m["content"] for m in history["messages"]] == ["Q1", "A1", "Q2", "A2"]


async def test_a_failed_turn_adds_nothing(openai_daemon: Daemon, fake_openai: FakeOpenAI) -> None:
    from fakes.openai_server import openai_error

    sid = await start(openai_daemon)
    fake_openai.queue(openai_error(400, "bad", "invalid_request_error"))
    with pytest.raises(JsonRpcException):
        await say(openai_daemon, sid, "Q1")
    history = await openai_daemon.request("dspex/session/history", {"sessionId": sid})
    assert history["total"] == 0
    (info,) = (await openai_daemon.request("dspex/session/list", {}))["sessions"]
    assert info["stats"]["failedRequests"] == 1


async def test_unknown_session_is_an_invalid_param(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await say(daemon, "nope", "hi")
    assert err.value.code == -32602
    assert err.value.data["errors"][0]["loc"] == ["sessionId"]


async def test_end_removes_the_session_and_can_export_it(daemon: Daemon) -> None:
    sid = await start(daemon, system="sys")
    await say(daemon, sid, "hi")
    ended = await daemon.request("dspex/session/end", {"sessionId": sid, "export": True})
    assert ended["export"]["sessions"][0]["sessionId"] == sid
    assert (await daemon.request("dspex/session/list", {}))["sessions"] == []
    with pytest.raises(JsonRpcException):
        await daemon.request("dspex/session/history", {"sessionId": sid})


async def test_export_then_import_in_a_new_daemon_continues_the_conversation(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    environment = openai_env(env, fake_openai)
    async with start_daemon(environment) as first:
        sid = await start(first, system="Remember names.", maxTokens=50, title="names")
        await say(first, sid, "My name is Bo.")
        exported = await first.request("dspex/session/export", {"sessionId": sid})
    assert exported["version"] == 1

    # Another machine: a store of its own (the first daemon's store already holds the session).
    elsewhere = {**environment, "DSPEX_STORE_PATH": environment["XDG_DATA_HOME"] + "/other.db"}
    async with start_daemon(elsewhere) as second:
        imported = await second.request("dspex/session/import", {"data": exported})
        assert imported["sessionIds"] == [sid]
        again = await second.request("dspex/session/export", {"sessionId": sid})
        assert again["sessions"] == exported["sessions"]  # loss-free round trip
        await say(second, sid, "What is my name?")
    assert [(m["role"], m["content"]) for m in sent_messages(fake_openai)] == [
        ("system", "Remember names."),
        ("user", "My name is Bo."),
        ("assistant", "My name is Bo."),
        ("user", "What is my name?"),
    ]
    assert fake_openai.requests[-1].body["max_completion_tokens"] == 50


async def test_import_conflicts_are_refused_or_renamed(daemon: Daemon) -> None:
    sid = await start(daemon)
    exported = await daemon.request("dspex/session/export", {})
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/session/import", {"data": exported})
    assert err.value.code == -32602
    assert err.value.data["errors"][0]["loc"] == ["data", "sessions", 0, "sessionId"]
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/session/start", {"sessionId": sid})
    assert err.value.data["errors"][0]["type"] == "session_exists"
    renamed = await daemon.request(
        "dspex/session/import", {"data": exported, "onConflict": "new_id"}
    )
    assert renamed["sessionIds"][0] != sid
    assert len((await daemon.request("dspex/session/list", {}))["sessions"]) == 2


async def test_export_strips_secrets(openai_daemon: Daemon, fake_openai: FakeOpenAI) -> None:
    key = fake_openai.api_key or ""
    sid = await start(openai_daemon)
    await say(openai_daemon, sid, f"my key is {key}")
    exported = await openai_daemon.request("dspex/session/export", {})
    text = json.dumps(exported)
    assert key not in text
    assert "my key is <redacted>" in text


async def test_autosave_survives_a_restart(env: dict[str, str], tmp_path: Path) -> None:
    save = tmp_path / "state" / "sessions.json"
    options = {"sessions": {"autosavePath": str(save)}}
    async with start_daemon(env, initialization_options=options) as first:
        sid = await start(first, system="keep me")
        await say(first, sid, "remember this")
    saved = json.loads(save.read_text())
    assert saved["sessions"][0]["sessionId"] == sid
    assert not [p for p in save.parent.iterdir() if p.name.endswith(".tmp")]

    async with start_daemon(env, initialization_options=options) as second:
        history = await second.request("dspex/session/history", {"sessionId": sid})
        assert [m["content"] for m in history["messages"]] == ["remember this"] * 2
        await say(second, sid, "and this")
    assert len(json.loads(save.read_text())["sessions"][0]["messages"]) == 4


async def test_at_max_sessions_the_least_recently_used_idle_session_is_evicted(
    env: dict[str, str], tmp_path: Path
) -> None:
    save = tmp_path / "sessions.json"
    options = {"sessions": {"maxSessions": 2, "autosavePath": str(save)}}
    async with start_daemon(env, initialization_options=options) as d:
        oldest = await start(d)
        newer = await start(d)
        await say(d, oldest, "still here")  # now `newer` is the least recently used
        started = await d.request("dspex/session/start", {})
        assert started["evictedSessionId"] == newer
        ids = {s["sessionId"] for s in (await d.request("dspex/session/list", {}))["sessions"]}
        assert ids == {oldest, started["sessionId"]}
    evicted = json.loads((tmp_path / "evicted" / f"{newer}.json").read_text())
    assert evicted["sessions"][0]["sessionId"] == newer


async def test_at_max_sessions_start_is_refused_when_configured(env: dict[str, str]) -> None:
    options = {"sessions": {"maxSessions": 1, "whenFull": "refuse"}}
    async with start_daemon(env, initialization_options=options) as d:
        await start(d)
        with pytest.raises(JsonRpcException) as err:
            await start(d)
    assert err.value.data["kind"] == "budget_exceeded"
    assert err.value.data["details"] == {"limit": "maxSessions", "maxSessions": 1}


async def test_at_max_history_the_oldest_turns_are_dropped(env: dict[str, str]) -> None:
    options = {"sessions": {"maxHistory": 4}}
    async with start_daemon(env, initialization_options=options) as d:
        sid = await start(d, system="sys")
        for text in ("one", "two", "three"):
            result = await say(d, sid, text)
        assert any("maxHistory=4" in n for n in result["notices"])
        history = await d.request("dspex/session/history", {"sessionId": sid})
        assert [m["content"] for m in history["messages"]] == ["two", "two", "three", "three"]
        (info,) = (await d.request("dspex/session/list", {}))["sessions"]
        assert info["stats"]["droppedMessages"] == 2
        assert info["system"] == "sys"  # the system prompt is never dropped


async def test_an_interrupted_stream_adds_nothing_to_the_session(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    from fakes.base import TruncatedStream

    sid = await start(openai_daemon)
    fake_openai.queue(TruncatedStream(text="half an answer that breaks", chunks=2))
    result = await say(openai_daemon, sid, "Q1", partialResultToken="t")
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert any("not added" in n for n in result["notices"])
    history = await openai_daemon.request("dspex/session/history", {"sessionId": sid})
    assert history["total"] == 0
