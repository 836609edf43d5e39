"""The mock provider's embeddings: deterministic feature hashing, no network."""

from __future__ import annotations

from daemon import Daemon


async def test_mock_embeddings_are_deterministic_and_share_words(daemon: Daemon) -> None:
    params = {"provider": "mock", "inputs": ["red apple pie", "red apple", "tax law"]}
    first = await daemon.request("dspex/embed", params)
    second = await daemon.request("dspex/embed", params)
    assert first["embeddings"] == second["embeddings"]
    assert first["provider"] == "mock" and first["dimensions"] == 64
    pie, apple, tax = first["embeddings"]

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(pie, apple) > dot(pie, tax)
