"""Cost of every chat result, the cost ledger (`dspex/cost`) and budgets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from daemon import Daemon, start_daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI
from genai_prices import Usage, calc_price
from pygls.exceptions import JsonRpcException

HELLO = [{"role": "user", "content": "hello"}]


def openai_env(env: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    return {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}


def genai_price(model: str, **usage: int) -> Any:
    return calc_price(Usage(**usage), model, provider_id="openai")


async def test_cost_equals_genai_prices_figure(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text="hi", prompt_tokens=1200, completion_tokens=340))
    result = await openai_daemon.request("dspex/chat", {"messages": HELLO, "model": "gpt-4o-mini"})
    # The fake answers as the dated model, like OpenAI does.
    expected = genai_price("gpt-4o-mini-2024-07-18", input_tokens=1200, output_tokens=340)
    assert result["cost"] == {
        "input": float(expected.input_price),
        "output": float(expected.output_price),
        "total": float(expected.total_price),
        "currency": "USD",
    }
    assert result["cost"]["total"] > 0


async def test_streamed_results_carry_cost_too(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    result = await openai_daemon.request(
        "dspex/chat", {"messages": HELLO, "partialResultToken": "p"}
    )
    expected = genai_price("gpt-4o-mini", input_tokens=11, output_tokens=7)
    assert result["cost"]["total"] == float(expected.total_price)


async def test_unknown_model_has_null_cost_with_a_reason(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    result = await openai_daemon.request(
        "dspex/chat", {"messages": HELLO, "model": "house-model-7"}
    )
    assert "cost" in result and result["cost"] is None
    assert "house-model-7" in result["costUnavailableReason"]
    totals = await openai_daemon.request("dspex/cost", {})
    assert totals["total"]["unpricedRequests"] == 1
    assert totals["total"]["total"] == 0.0


async def test_local_mock_costs_nothing(daemon: Daemon) -> None:
    result = await daemon.request("dspex/chat", {"messages": HELLO})
    assert result["cost"]["total"] == 0.0


async def test_totals_per_provider_model_and_session(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    sid = (await openai_daemon.request("dspex/session/start", {}))["sessionId"]
    await openai_daemon.request("dspex/session/chat", {"sessionId": sid, "content": "a"})
    await openai_daemon.request("dspex/chat", {"messages": HELLO, "model": "gpt-4o"})
    one_mini = float(genai_price("gpt-4o-mini", input_tokens=11, output_tokens=7).total_price)
    one_4o = float(genai_price("gpt-4o", input_tokens=11, output_tokens=7).total_price)
    totals = await openai_daemon.request("dspex/cost", {})
    assert totals["total"]["requests"] == 2
    assert totals["total"]["total"] == pytest.approx(one_mini + one_4o)
    assert totals["byProvider"]["openai"]["total"] == pytest.approx(one_mini + one_4o)
    by_model = {m["model"]: m["total"] for m in totals["byModel"]}
    assert by_model == pytest.approx({"gpt-4o-mini": one_mini, "gpt-4o": one_4o})
    assert totals["bySession"][sid]["total"] == pytest.approx(one_mini)
    (info,) = (await openai_daemon.request("dspex/session/list", {}))["sessions"]
    assert info["cost"]["total"] == pytest.approx(one_mini)


async def test_daemon_budget_refuses_before_sending(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    options = {"budgets": {"daemonUsd": 0.001}}
    async with start_daemon(openai_env(env, fake_openai), initialization_options=options) as d:
        # 10k output tokens of gpt-4o would cost $0.10: refused without a request.
        with pytest.raises(JsonRpcException) as err:
            await d.request(
                "dspex/chat", {"messages": HELLO, "model": "gpt-4o", "maxTokens": 10_000}
            )
        assert fake_openai.requests == []
        # A small request fits in the budget.
        ok = await d.request("dspex/chat", {"messages": HELLO, "maxTokens": 10})
        assert ok["cost"]["total"] > 0
    data = err.value.data
    assert data["kind"] == "budget_exceeded"
    assert data["details"]["scope"] == "daemon"
    assert data["details"]["capUsd"] == 0.001
    assert data["details"]["estimatedUsd"] > 0.001


async def test_session_budget_refuses_once_spent(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    sid = (await openai_daemon.request("dspex/session/start", {"budgetUsd": 0.0002}))["sessionId"]
    fake_openai.queue(Reply(text="pricey", prompt_tokens=1000, completion_tokens=100))
    await openai_daemon.request(
        "dspex/session/chat", {"sessionId": sid, "content": "a", "maxTokens": 10}
    )  # $0.00021 spent
    with pytest.raises(JsonRpcException) as err:
        await openai_daemon.request(
            "dspex/session/chat", {"sessionId": sid, "content": "b", "maxTokens": 10}
        )
    assert err.value.data["kind"] == "budget_exceeded"
    assert err.value.data["details"]["scope"] == "session"
    assert len(fake_openai.requests) == 1


def test_genai_prices_is_not_imported_at_start_up() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from dspex_server.rpc import build_server; build_server(); "
        "print('genai_prices' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


async def test_concurrent_requests_cannot_together_overrun_a_budget(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    # Each request may cost up to ~$0.01 (1,000 output tokens of gpt-4o): one fits in the
    # cap, two in flight at once do not. Once the first is answered (for much less), its
    # reservation is released and the next one fits again.
    options = {"budgets": {"daemonUsd": 0.015}}
    params = {"messages": HELLO, "model": "gpt-4o", "maxTokens": 1000}
    fake_openai.queue(Reply(text="slow", delay_s=0.5))
    async with start_daemon(openai_env(env, fake_openai), initialization_options=options) as d:
        first = asyncio.create_task(d.request("dspex/chat", params))
        for _ in range(1000):  # until the first request reached the provider
            if fake_openai.requests:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(JsonRpcException) as err:
            await d.request("dspex/chat", params)
        assert err.value.data["kind"] == "budget_exceeded"
        assert (await first)["cost"]["total"] < 0.001
        assert (await d.request("dspex/chat", params))["cost"]["total"] < 0.001
    assert len(fake_openai.requests) == 2
