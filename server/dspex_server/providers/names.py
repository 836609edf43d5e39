"""The providers' names, in the provider table's order, for the `initialize` answer: told
without importing the table (its settings models need pydantic). A test holds this list and
`table.PROVIDERS` together."""

from __future__ import annotations

PROVIDER_NAMES: tuple[str, ...] = (
    "openai",
    "openai-responses",
    "anthropic",
    "gemini",
    "groq",
    "mistral",
    "xai",
    "perplexity",
    "openrouter",
    "bedrock",
    "lmstudio",
    "ollama",
    "llama",
    "local",
    "mock",
)
