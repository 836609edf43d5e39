"""The in-process `local` embedder (wordllama): the default of `dspex/embed`, offline."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from daemon import Daemon, clean_env, start_daemon
from provider_cases import rpc_error

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def daemon_local(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Daemon]:
    async with start_daemon(clean_env(tmp_path_factory.mktemp("local"))) as d:
        yield d


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_embed_without_a_provider_uses_local(daemon_local: Daemon) -> None:
    result = await daemon_local.request("dspex/embed", {"inputs": ["hello world"]})
    assert result["provider"] == "local"
    assert result["model"] == "l2_supercat"
    assert result["dimensions"] == 256
    assert result["usage"]["promptTokens"] > 0
    assert result.get("notices") is None


async def test_similar_texts_score_higher_than_unrelated_ones(daemon_local: Daemon) -> None:
    texts = [
        "The cat sat on the mat.",
        "A kitten was sitting on the rug.",
        "Quarterly revenue fell after the interest rate hike.",
    ]
    result = await daemon_local.request("dspex/embed", {"provider": "local", "inputs": texts})
    cat, kitten, finance = result["embeddings"]
    assert cosine(cat, kitten) > cosine(cat, finance) + 0.2
    assert cosine(cat, kitten) > cosine(kitten, finance) + 0.2
    assert all(abs(math.sqrt(sum(v * v for v in e)) - 1.0) < 1e-5 for e in result["embeddings"])


async def test_local_embeddings_are_deterministic(daemon_local: Daemon) -> None:
    params = {"provider": "local", "inputs": ["same text", "same text"]}
    first = await daemon_local.request("dspex/embed", params)
    second = await daemon_local.request("dspex/embed", params)
    assert first["embeddings"][0] == first["embeddings"][1] == second["embeddings"][0]


async def test_dimensions_truncate_and_renormalise(daemon_local: Daemon) -> None:
    result = await daemon_local.request(
        "dspex/embed", {"provider": "local", "inputs": ["short vector"], "dimensions": 64}
    )
    assert result["dimensions"] == 64
    assert abs(math.sqrt(sum(v * v for v in result["embeddings"][0])) - 1.0) < 1e-5


async def test_more_dimensions_than_the_model_has_is_refused(daemon_local: Daemon) -> None:
    data = await rpc_error(
        daemon_local, "dspex/embed", {"provider": "local", "inputs": ["x"], "dimensions": 512}
    )
    assert data["kind"] == "invalid_messages" and "256" in data["message"]


async def test_an_unbundled_model_is_refused_without_downloading(daemon_local: Daemon) -> None:
    data = await rpc_error(
        daemon_local, "dspex/embed", {"provider": "local", "model": "l3_supercat", "inputs": ["x"]}
    )
    assert data["kind"] == "invalid_messages" and "offline" in data["message"]


async def test_local_does_not_chat_and_is_never_the_default_chat_provider(
    daemon_local: Daemon,
) -> None:
    providers = await daemon_local.request("dspex/providers")
    local = next(p for p in providers["providers"] if p["name"] == "local")
    assert local["configured"] is True and local["capabilities"] == ["embeddings", "models"]
    assert providers["defaultProvider"] == "mock"
    data = await rpc_error(
        daemon_local,
        "dspex/chat",
        {"provider": "local", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert data["kind"] == "unsupported_provider"
