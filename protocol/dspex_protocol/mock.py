"""`dspex/mock/requests`: what the built-in mock provider was asked, for tests written
against the mock (the last requests it received, oldest first)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import WireModel
from .chat import Message, ResponseFormat, ToolChoice, ToolDefinition

MOCK_CAPTURE_SIZE = 256


class MockRequestsParams(WireModel):
    limit: int = Field(
        default=20, ge=1, le=MOCK_CAPTURE_SIZE, description="the newest `limit` requests"
    )
    clear: bool = Field(default=False, description="forget every captured request afterwards")


class MockRequest(WireModel):
    """One request as the mock received it (after context fitting and defaults)."""

    method: Literal["chat", "embed"]
    model: str
    streamed: bool = False
    messages: list[Message] | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    inputs: list[str] | None = Field(default=None, description="dspex/embed: the texts")
    dimensions: int | None = None
    received_at: float = Field(description="Unix time, seconds")


class MockRequestsResult(WireModel):
    requests: list[MockRequest] = Field(description="oldest first")
    total: int = Field(
        description=f"requests captured since start or the last clear (the newest "
        f"{MOCK_CAPTURE_SIZE} are kept)"
    )
