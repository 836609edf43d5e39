"""Every exchange is logged (success and each error path), never with a secret, and the
log is searchable and pageable through `dspex/logs/query` and `dspex logs`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_cli
from daemon import Daemon, start_daemon
from fakes.base import Garbage, HttpError, Reply, TruncatedStream
from fakes.openai_server import FakeOpenAI, openai_error
from pygls.exceptions import JsonRpcException
from store_support import db_path, raw_bytes

SECRET = "sk-store-test-7f3a9c1e5b2d4f6a8c0e"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=SECRET) as f:
        yield f


@pytest.fixture
def openai_env(env: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    return {**env, "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": fake.api_base}


async def query(d: Daemon, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await d.request("dspex/logs/query", params)
    return result


async def test_success_and_every_error_path_are_logged_without_secrets(
    openai_env: dict[str, str], fake: FakeOpenAI
) -> None:
    failures: dict[str, str] = {}
    async with start_daemon(openai_env) as d:
        fake.queue(Reply(text="the answer is 42"))
        ok = await d.request(
            "dspex/chat",
            {"messages": user(f"my key is {SECRET}, what is 6*7?"), "sessionId": "s-1"},
        )
        assert ok["choices"][0]["message"]["content"] == "the answer is 42"
        for name, behaviour, params in (
            ("bad", HttpError(400, {"error": {"message": "bad", "type": "invalid_request"}}), {}),
            ("server", HttpError(500, {"error": {"message": "oops", "type": "server_error"}}), {}),
            (
                "rate",
                openai_error(429, "slow", "rate_limit_error", headers={"retry-after": "0"}),
                {},
            ),
            ("garbage", Garbage(), {}),
            ("unconfigured", None, {"provider": "anthropic"}),
            ("timeout", Reply(text="late", delay_s=2.0), {"timeoutMs": 200}),
        ):
            fake.reset()
            if behaviour is not None:
                fake.queue(*[behaviour] * 5)  # the same answer to any retry
            with pytest.raises(JsonRpcException) as info:
                await d.request(
                    "dspex/chat",
                    {"messages": user(f"err {name}"), **params, "correlationId": f"c-{name}"},
                )
            failures[name] = info.value.data["kind"]  # type: ignore[attr-defined]
        fake.reset()
        fake.queue(TruncatedStream())
        streamed = await d.request(
            "dspex/chat",
            {"messages": user("err stream"), "partialResultToken": "t1", "correlationId": "c-s"},
        )
        assert streamed["choices"][0]["finishReason"] == "interrupted"

        logged = await query(d)
        assert logged["enabled"] is True
        entries = {e["correlationId"]: e for e in logged["entries"]}
        assert len(logged["entries"]) == 8
        for name, kind in failures.items():
            entry = entries[f"c-{name}"]
            assert entry["errorKind"] == kind, name
            assert "response" not in entry
        assert entries["c-s"]["streamed"] is True
        assert entries["c-s"]["errorKind"] == "network_error"
        assert entries["c-s"]["response"]["finishReason"] == "interrupted"
        success = next(e for e in logged["entries"] if e.get("sessionId") == "s-1")
        assert success["provider"] == "openai"
        assert success["model"].startswith("gpt-4o-mini")
        assert success["response"]["message"]["content"] == "the answer is 42"
        assert success["usage"] == {"promptTokens": 11, "completionTokens": 7, "totalTokens": 18}
        assert success["latencyMs"] > 0
        content = success["request"]["messages"][0]["content"]
        assert SECRET not in content and "<redacted>" in content
        errors = await query(d, errorsOnly=True)
        assert len(errors["entries"]) == 7
        live = raw_bytes(openai_env)  # while the daemon runs: the -wal file holds the rows
        assert Path(str(db_path(openai_env)) + "-wal").stat().st_size > 0
        assert b"the answer is 42" in live and SECRET.encode() not in live
        assert failures == {
            "bad": "invalid_messages",
            "server": "api_error",
            "rate": "rate_limited",
            "garbage": "invalid_response",
            "unconfigured": "provider_not_configured",
            "timeout": "timeout",
        }
    data = raw_bytes(openai_env)
    assert b"the answer is 42" in data  # the bytes read are the real database
    assert SECRET.encode() not in data


async def test_full_text_search_filters_and_cursor_paging(openai_env: dict[str, str]) -> None:
    async with start_daemon(openai_env) as d:
        for i, word in enumerate(["apple pie", "banana bread", "cherry tart", "banana split"]):
            await d.request(
                "dspex/chat", {"messages": user(f"recipe for {word}"), "sessionId": f"s{i % 2}"}
            )
        found = await query(d, q="banana")
        texts = [e["request"]["messages"][0]["content"] for e in found["entries"]]
        assert texts == ["recipe for banana split", "recipe for banana bread"]
        assert [
            e["request"]["messages"][0]["content"] for e in (await query(d, q="tart"))["entries"]
        ] == ["recipe for cherry tart"]
        assert (await query(d, q="durian"))["entries"] == []
        session = await query(d, sessionId="s1")
        assert len(session["entries"]) == 2
        assert (await query(d, provider="anthropic"))["entries"] == []
        assert len((await query(d, since="2000-01-01T00:00:00Z"))["entries"]) == 4
        assert (await query(d, until="2000-01-01T00:00:00Z"))["entries"] == []

        seen: list[int] = []
        page = await query(d, limit=3)
        seen += [e["id"] for e in page["entries"]]
        page = await query(d, limit=3, cursor=page["nextCursor"])
        seen += [e["id"] for e in page["entries"]]
        assert "nextCursor" not in page
        assert seen == sorted(seen, reverse=True) and len(set(seen)) == 4
        assert [e["id"] for e in (await query(d, limit=2, offset=2))["entries"]] == seen[2:]

        with pytest.raises(JsonRpcException) as info:
            await query(d, q='"unbalanced')
        assert info.value.code == -32602  # type: ignore[attr-defined]


async def test_no_log_env_turns_logging_off(openai_env: dict[str, str]) -> None:
    async with start_daemon({**openai_env, "DSPEX_NO_LOG": "1"}) as d:
        await d.request("dspex/chat", {"messages": user("not logged")})
        result = await query(d)
        assert result == {"entries": [], "enabled": False}
    assert b"not logged" not in raw_bytes(openai_env)


async def test_store_path_from_config_and_disabled_store(
    openai_env: dict[str, str], tmp_path: Any
) -> None:
    path = tmp_path / "elsewhere" / "log.db"
    async with start_daemon(openai_env, initialization_options={"store": {"path": str(path)}}) as d:
        await d.request("dspex/chat", {"messages": user("where am I")})
        assert len((await query(d))["entries"]) == 1
    assert path.is_file()
    assert not db_path(openai_env).exists()
    async with start_daemon(
        openai_env, initialization_options={"store": {"path": str(path), "enabled": False}}
    ) as d:
        await d.request("dspex/chat", {"messages": user("store off")})
        assert await query(d) == {"entries": [], "enabled": False}


async def test_cli_logs_text_json_session_and_search(openai_env: dict[str, str]) -> None:
    for text, session in (("hello tokyo", "trip"), ("hello paris", "trip"), ("hi lima", None)):
        params = {"messages": user(text), **({"sessionId": session} if session else {})}
        code, _, err = await run_cli(openai_env, "call", "dspex/chat", json.dumps(params))
        assert code == 0, err
    code, out, err = await run_cli(openai_env, "--no-log", "chat", "unlogged question")
    assert code == 0, err

    code, out, _ = await run_cli(openai_env, "logs", "-n", "2")
    assert code == 0
    assert "user: hello paris" in out and "user: hi lima" in out and "tokyo" not in out
    assert out.index("paris") < out.index("lima")  # oldest of the page first
    assert "unlogged" not in out

    code, out, _ = await run_cli(openai_env, "logs", "--json", "--session", "trip")
    entries = json.loads(out)["entries"]
    assert [e["sessionId"] for e in entries] == ["trip", "trip"]

    code, out, _ = await run_cli(openai_env, "logs", "-q", "lima")
    assert "assistant: hi lima" in out and "paris" not in out
