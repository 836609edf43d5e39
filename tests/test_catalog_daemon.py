"""The model catalog: `dspex/models/list`, `dspex/models/recommend`, provider capabilities."""

from __future__ import annotations

from typing import Any

from daemon import Daemon
from fakes.openai_server import FakeOpenAI
from genai_prices import Usage, calc_price

from dspex_server.catalog import catalog_entries, lookup, provider_supports

PROVIDER_FAMILIES = (
    "openai",
    "anthropic",
    "gemini",
    "groq",
    "mistral",
    "perplexity",
    "openrouter",
    "xai",
    "lmstudio",
    "ollama",
    "bedrock",
    "local",
    "mock",
)


def per_1k(model: dict[str, Any]) -> float:
    pricing = model["pricing"]
    return float((pricing["inputPerMtok"] + pricing["outputPerMtok"]) / 2 / 1000)


def test_the_shipped_catalog_covers_every_provider_family() -> None:
    providers = {e.provider for e in catalog_entries()}
    assert providers == set(PROVIDER_FAMILIES)
    for entry in catalog_entries():
        assert entry.capabilities, entry
        assert entry.context_window, entry


def test_lookup_matches_dated_model_names() -> None:
    entry = lookup("openai", "gpt-4o-mini-2024-07-18")
    assert entry is not None and entry.id == "gpt-4o-mini"
    assert lookup("openai", "gpt-4o-2024-08-06") is not None
    assert lookup("openai", "house-model") is None


def test_provider_supports() -> None:
    assert provider_supports("openai", "tools")
    assert provider_supports("openai", "embeddings")
    assert provider_supports("anthropic", "vision")
    assert not provider_supports("perplexity", "tools")
    assert not provider_supports("nobody", "chat")


async def test_models_list_has_context_output_pricing_and_capabilities(daemon: Daemon) -> None:
    result = await daemon.request("dspex/models/list", {"provider": "openai"})
    models = {m["id"]: m for m in result["models"]}
    mini = models["gpt-4o-mini"]
    assert mini["contextWindow"] == 128000
    assert mini["maxOutputTokens"] == 16384
    assert {"streaming", "tools", "vision", "json_schema"} <= set(mini["capabilities"])
    assert mini["default"] is True
    price = calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000), "gpt-4o-mini")
    assert mini["pricing"]["inputPerMtok"] == float(price.input_price)
    assert mini["pricing"]["outputPerMtok"] == float(price.output_price)
    assert mini["pricing"]["source"] == "genai-prices"
    assert models["text-embedding-3-small"]["capabilities"] == ["embeddings"]
    assert {m["provider"] for m in result["models"]} == {"openai"}


async def test_models_list_merges_the_live_list(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.model_ids = ("gpt-4o-mini", "ft:gpt-4o-mini:acme")
    result = await openai_daemon.request("dspex/models/list", {"provider": "openai", "live": True})
    models = {m["id"]: m for m in result["models"]}
    assert models["gpt-4o-mini"]["source"] == "catalog+live"
    assert models["gpt-4o"]["source"] == "catalog"
    assert models["ft:gpt-4o-mini:acme"]["source"] == "live"
    # The live list is cached: a second listing does not ask the provider again.
    fake_openai.model_ids = ("gpt-4o-mini", "gpt-new")
    again = await openai_daemon.request("dspex/models/list", {"live": True})
    ids = {m["id"] for m in again["models"]}
    assert "ft:gpt-4o-mini:acme" in ids
    assert "gpt-new" not in ids


async def test_live_listing_failure_is_a_notice(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.api_key = "another-key"  # the daemon's key is now refused
    result = await openai_daemon.request("dspex/models/list", {"live": True})
    assert any(n.startswith("openai: live model list unavailable") for n in result["notices"])
    assert any(m["id"] == "gpt-4o-mini" for m in result["models"])


async def test_recommend_picks_the_cheapest_model_with_tools(daemon: Daemon) -> None:
    listed = await daemon.request("dspex/models/list", {})
    with_tools = [
        m
        for m in listed["models"]
        if "tools" in m["capabilities"] and m["pricing"] and not m["local"]
    ]
    cheapest = min(with_tools, key=per_1k)
    result = await daemon.request("dspex/models/recommend", {"features": ["tools"]})
    first = result["recommendations"][0]
    assert (first["model"]["provider"], first["model"]["id"]) == (
        cheapest["provider"],
        cheapest["id"],
    )
    assert first["costPer1kTokens"] == per_1k(cheapest)
    assert first["reason"].startswith("cheapest match")
    assert "tools" in first["reason"]
    costs = [r["costPer1kTokens"] for r in result["recommendations"]]
    assert costs == sorted(costs)
    assert [r["rank"] for r in result["recommendations"]] == list(range(1, len(costs) + 1))


async def test_recommend_filters_by_context_cost_and_features(daemon: Daemon) -> None:
    result = await daemon.request(
        "dspex/models/recommend",
        {
            "features": ["vision", "json_schema"],
            "minContextWindow": 500_000,
            "maxCostPer1kTokens": 0.001,
            "limit": 20,
        },
    )
    assert result["recommendations"]
    for rec in result["recommendations"]:
        model = rec["model"]
        assert {"vision", "json_schema"} <= set(model["capabilities"])
        assert model["contextWindow"] >= 500_000
        assert rec["costPer1kTokens"] <= 0.001


async def test_recommend_prefers_local_models_when_asked(daemon: Daemon) -> None:
    result = await daemon.request(
        "dspex/models/recommend", {"features": ["tools"], "preferLocal": True}
    )
    first = result["recommendations"][0]
    assert first["model"]["local"] is True
    assert first["model"]["provider"] != "mock"
    assert "runs locally" in first["reason"]


async def test_providers_show_catalog_capabilities(daemon: Daemon) -> None:
    result = await daemon.request("dspex/providers", {})
    openai = next(p for p in result["providers"] if p["name"] == "openai")
    assert {"tools", "vision", "json_schema", "embeddings", "streaming"} <= set(
        openai["capabilities"]
    )


async def test_live_lists_are_fetched_again_after_the_ttl(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    from daemon import start_daemon

    environment = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    options = {"catalog": {"liveTtlS": 0}}
    async with start_daemon(environment, initialization_options=options) as d:
        fake_openai.model_ids = ("gpt-old",)
        await d.request("dspex/models/list", {"provider": "openai", "live": True})
        fake_openai.model_ids = ("gpt-new",)
        result = await d.request("dspex/models/list", {"provider": "openai", "live": True})
    ids = {m["id"] for m in result["models"]}
    assert "gpt-new" in ids
    assert "gpt-old" not in ids


def test_every_default_model_of_the_provider_table_is_in_the_catalog() -> None:
    from dspex_server.providers.table import PROVIDERS

    for spec in PROVIDERS:
        for model in (spec.default_model, spec.default_embedding_model):
            if model is not None:
                assert lookup(spec.name, model) is not None, (spec.name, model)
