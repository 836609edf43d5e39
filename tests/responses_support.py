"""Shared by the Responses API test modules: the fake's environment and a last-body helper."""

from __future__ import annotations

from typing import Any

from fakes.openai_responses_server import FakeOpenAIResponses

P = "openai-responses"
WEATHER_CALL_ID = "call_weather_1"


def responses_env(env: dict[str, str], fake: FakeOpenAIResponses) -> dict[str, str]:
    """The Responses row reads OpenAI's variables."""
    return {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}


def last_body(fake: FakeOpenAIResponses) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body
