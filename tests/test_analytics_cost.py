"""The pipeline prices each request and hands the cost to the analytics sample store."""

from __future__ import annotations

import pytest
from daemon import Daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI


async def test_performance_reports_the_mean_cost_of_priced_requests(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    costs = []
    for _ in range(3):
        fake_openai.queue(Reply(text="ok", prompt_tokens=1000, completion_tokens=500))
        result = await openai_daemon.request(
            "dspex/chat", {"messages": [{"role": "user", "content": "x"}]}
        )
        costs.append(result["cost"]["total"])
    assert all(c > 0 for c in costs)
    perf = await openai_daemon.request("dspex/analytics/performance", {"provider": "openai"})
    assert perf["meanCost"] == pytest.approx(sum(costs) / 3)
