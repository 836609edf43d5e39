"""Per-provider settings as they appear in config (`providers.<name>.*`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from dspex_protocol import ErrorKind


class SettingsModel(BaseModel):
    """Config models accept camelCase (editor settings) and snake_case (TOML) keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ProviderSettings(SettingsModel):
    api_key: SecretStr | None = None
    base_url: str | None = None
    default_model: str | None = None
    default_embedding_model: str | None = None
    timeout_ms: int = Field(default=120_000, gt=0)
    connect_timeout_ms: int = Field(default=10_000, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    max_connections: int = Field(default=512, gt=0)


class AnthropicSettings(ProviderSettings):
    """The Messages API requires `max_tokens`; this is what a request without `maxTokens`
    asks for."""

    default_max_tokens: int = Field(default=4096, gt=0)


class MockError(SettingsModel):
    """An error the mock provider injects: on every `every`-th request, or with `times` left."""

    kind: ErrorKind
    message: str = "injected by the mock provider"
    status: int | None = None
    retry_after_ms: int | None = Field(default=None, ge=0)
    every: int | None = Field(default=None, gt=0)
    times: int | None = Field(default=None, gt=0)


class MockSettings(ProviderSettings):
    """The scriptable mock: `echo` repeats the last user message, `fixed` answers `reply`,
    `cycle` answers `replies` round-robin. Latency and errors can be injected."""

    mode: Literal["echo", "fixed", "cycle"] = "echo"
    reply: str = "Hello from the dspex mock provider."
    replies: list[str] = Field(default_factory=list)
    latency_ms: float = Field(default=0.0, ge=0.0)
    chunk_size: int = Field(default=8, gt=0, description="characters per streamed delta")
    errors: list[MockError] = Field(default_factory=list)


DEFAULT_AWS_REGION = "us-east-1"


class BedrockSettings(ProviderSettings):
    """AWS credentials and region for SigV4 signing (`apiKey` is a Bedrock API key, sent as
    a bearer token instead, when given). `controlBaseUrl` is the control-plane endpoint
    (`bedrock.<region>`) that lists foundation models; `baseUrl` the runtime endpoint."""

    region: str = DEFAULT_AWS_REGION
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    control_base_url: str | None = None
    embed_concurrency: int = Field(default=8, gt=0, le=64)
