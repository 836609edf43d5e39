"""`dspex session|models|recommend|cost` and the client's typed session calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_runner import run_cli

from dspex_client import DspexClient

SERVER = [sys.executable, "-m", "dspex_server"]


async def test_a_session_lives_across_commands_with_autosave(
    env: dict[str, str], tmp_path: Path
) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(
        f'[sessions]\nautosave_path = "{tmp_path / "sessions.json"}"\n', encoding="utf-8"
    )
    code, out, _ = await run_cli(env, "session", "start", "--provider", "mock", "--title", "t1")
    assert code == 0
    session_id = out.strip()
    code, out, _ = await run_cli(env, "session", "chat", session_id, "first turn")
    assert (code, out) == (0, "first turn\n")
    code, out, _ = await run_cli(env, "session", "chat", session_id, "-", stdin="second turn")
    assert (code, out) == (0, "second turn\n")
    code, out, _ = await run_cli(env, "session", "history", session_id)
    assert out.splitlines() == [
        "user: first turn",
        "assistant: first turn",
        "user: second turn",
        "assistant: second turn",
    ]
    code, out, _ = await run_cli(env, "session", "list")
    assert session_id in out and "4 messages" in out and "t1" in out
    code, exported, _ = await run_cli(env, "session", "export", session_id)
    assert json.loads(exported)["sessions"][0]["sessionId"] == session_id
    code, out, _ = await run_cli(env, "session", "end", session_id)
    assert (code, out) == (0, f"ended {session_id}\n")
    code, out, _ = await run_cli(env, "session", "import", "-", stdin=exported)
    assert (code, out.strip()) == (0, session_id)


async def test_unknown_session_exits_non_zero(env: dict[str, str]) -> None:
    code, _, err = await run_cli(env, "session", "chat", "nosuch", "hi")
    assert code in (2, 3)
    assert err.startswith("error: ")


async def test_models_recommend_and_cost(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "models", "--json")
    models = json.loads(out)["models"]
    assert code == 0 and any(m["provider"] == "openai" for m in models)
    code, out, _ = await run_cli(env, "recommend", "--feature", "tools", "--json")
    assert code == 0
    assert json.loads(out)["recommendations"]
    code, out, _ = await run_cli(env, "cost")
    assert code == 0 and out.startswith("0.000000 USD over 0 requests")


async def test_client_session_calls_and_streamed_turn(env: dict[str, str]) -> None:
    async with await DspexClient.spawn(SERVER, env=env) as client:
        started = await client.session_start(provider="mock", system="be kind")
        sid = started.session_id
        assert (await client.session_chat(sid, "hello")).choices[0].message.content == "hello"
        stream = client.session_chat_stream(sid, "streamed turn")
        pieces = [c.delta.content async for c in stream]
        result = await stream.result()
        assert "".join(p or "" for p in pieces) == "streamed turn"
        assert result.session_id == sid  # type: ignore[attr-defined]
        history = await client.session_history(sid, limit=2)
        assert [m.role for m in history.messages] == ["user", "assistant"]
        assert history.total == 4
        exported = await client.session_export(sid)
        assert (await client.session_end(sid)).ended
        restored = await client.session_import(exported)
        assert restored.session_ids == [sid]
        assert (await client.session_list()).sessions[0].message_count == 4
        assert (await client.cost()).total.requests >= 2
