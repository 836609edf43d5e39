"""Fail-over beyond dspex/chat: dspex/predict and sessions fail over along fallbacks and
routes; routes are checked when the config is read; a client-side RPM limit holds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cli_runner import run_cli
from daemon import clean_env
from failover_support import ModelScriptedFake, chat, env_for, scenario_options
from fakes.base import Reply, TruncatedStream
from fakes.openai_server import openai_error
from raw_daemon import RawDaemon, raw_daemon

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake() -> AsyncIterator[ModelScriptedFake]:
    fake = ModelScriptedFake()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def options(fake: ModelScriptedFake) -> dict[str, Any]:
    opts = scenario_options(fake)
    opts["routes"]["sess"] = {"chain": ["openai/sess-a", "mock/mock-1"]}
    opts["providers"]["groq"]["rateLimit"] = {"rpm": 2}
    opts["providers"]["lmstudio"]["rateLimit"] = {"tpm": 20}  # each fake answer uses 18
    return opts


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(
    tmp_path_factory: pytest.TempPathFactory, fake: ModelScriptedFake
) -> AsyncIterator[RawDaemon]:
    env = env_for(clean_env(tmp_path_factory.mktemp("failover-services")), fake)
    async with raw_daemon(env, options(fake)) as daemon:
        yield daemon


def down() -> Any:
    return openai_error(503, "The server had an error", "server_error")


async def test_predict_fails_over_to_a_fallback(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.always["p-down"] = down()
    fake.plan("p-good", Reply(text=json.dumps({"answer": "4"})))
    result = await d.result(
        "dspex/predict",
        {
            "signature": "question -> answer",
            "inputs": {"question": "What is 2 + 2?"},
            "provider": "openai",
            "model": "p-down",
            "fallbacks": [{"provider": "openai", "model": "p-good"}],
        },
    )
    assert (result["provider"], result["model"]) == ("openai", "p-good-2024-07-18")
    assert result["outputs"] == {"answer": "4"}
    assert [a["outcome"] for a in result["failover"]] == ["failed", "answered"]
    assert result["failover"][0]["requests"] == 3 == len(fake.posts("p-down"))


async def test_a_session_on_a_route_fails_over_every_turn(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["sess-a"] = down()
    started = await d.result("dspex/session/start", {"provider": "route:sess"})
    assert (started["provider"], started["model"]) == ("openai", "sess-a")
    for turn in ("first", "second"):
        result = await d.result(
            "dspex/session/chat", {"sessionId": started["sessionId"], "content": turn}
        )
        assert result["provider"] == "mock"
        assert result["attempts"][-1]["outcome"] == "answered"
    # Fixed again: the session's own target answers.
    del fake.always["sess-a"]
    fake.requests.clear()


async def test_an_unknown_route_is_refused_naming_the_known_ones(d: RawDaemon) -> None:
    answer = await d.request("dspex/chat", chat("route:nope"))
    data = answer["error"]["data"]
    assert data["kind"] == "invalid_messages"
    assert "sess" in data["message"]
    assert "ctx-up" in data["message"]


async def test_client_side_rpm_limit_holds_before_the_provider_says_429(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    for _ in range(2):
        assert "result" in await d.request("dspex/chat", chat("rpm-a", provider="groq"))
    answer = await d.request("dspex/chat", chat("rpm-a", provider="groq", timeoutMs=500))
    data = answer["error"]["data"]
    assert data["kind"] == "rate_limited"
    assert data["details"]["gated"] is True
    assert len(fake.posts("rpm-a")) == 2
    # Per model: another groq model is not held back.
    assert "result" in await d.request("dspex/chat", chat("rpm-b", provider="groq"))


async def test_client_side_tpm_limit_counts_the_answers_tokens(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    for _ in range(2):  # 18 tokens, then 36: over the limit of 20
        assert "result" in await d.request("dspex/chat", chat("tpm-a", provider="lmstudio"))
    answer = await d.request("dspex/chat", chat("tpm-a", provider="lmstudio", timeoutMs=500))
    assert answer["error"]["data"]["kind"] == "rate_limited"
    assert len(fake.posts("tpm-a")) == 2


async def test_a_route_naming_an_unknown_provider_is_a_config_problem(
    tmp_path_factory: pytest.TempPathFactory, fake: ModelScriptedFake
) -> None:
    env = env_for(clean_env(tmp_path_factory.mktemp("bad-route")), fake)
    opts = {"routes": {"bad": {"chain": ["nosuch/x"], "failoverOn": ["typo"]}}}
    async with raw_daemon(env, opts) as daemon:
        config = await daemon.result("dspex/config", {})
    problems = " ".join(config["config"].get("problems", []))
    assert "routes.bad.chain[0]: unknown provider 'nosuch'" in problems
    assert "unknown cause 'typo'" in problems


async def test_cli_stream_says_when_a_fail_over_restarts_the_answer(
    tmp_path_factory: pytest.TempPathFactory, fake: ModelScriptedFake
) -> None:
    home = tmp_path_factory.mktemp("cli-failover")
    env = env_for(clean_env(home), fake)
    Path(env["DSPEX_CONFIG"]).write_text(
        "[retry]\nattempts = 1\n"
        f'[providers.groq]\napi_key = "{fake.api_key}"\nbase_url = "{fake.api_base}"\n'
        "assistant_prefill = false\n"
        '[routes.cut]\nchain = ["openai/cli-a", "groq/cli-b"]\n',
        encoding="utf-8",
    )
    fake.plan("cli-a", TruncatedStream(text="a broken first answer", chunks=2))
    code, out, err = await run_cli(env, "chat", "--stream", "-m", "route:cut", "the answer")
    assert code == 0, err
    first, second = out.split("\n", 1)
    assert first and "a broken first answer".startswith(first)
    assert second == "the answer\n"
    assert "failed over to groq/cli-b (network_error); restarting" in err
