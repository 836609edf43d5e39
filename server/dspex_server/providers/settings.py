"""Per-provider settings as they appear in config (`providers.<name>.*`)."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.alias_generators import to_camel

from dspex_protocol import ErrorKind

from ..config_file import Issue


class SettingsModel(BaseModel):
    """Config models accept camelCase (editor settings) and snake_case (TOML) keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


DEFAULT_RETRY_ON: tuple[ErrorKind, ...] = (
    ErrorKind.TIMEOUT,
    ErrorKind.NETWORK_ERROR,
    ErrorKind.RATE_LIMITED,
    ErrorKind.API_ERROR,
)
DEFAULT_TRIP_ON: tuple[ErrorKind, ...] = (
    ErrorKind.TIMEOUT,
    ErrorKind.NETWORK_ERROR,
    ErrorKind.API_ERROR,
    ErrorKind.INVALID_RESPONSE,
)


class RetrySettings(SettingsModel):
    """The retry policy (`retry` at the top level, `providers.<name>.retry` to override).

    An error is retried when the provider marked it retryable (timeouts, network errors,
    429, 5xx, Anthropic's 529) and its kind is in `retryOn`. Backoff is exponential with
    full jitter: sleep uniform(0, min(capMs, baseMs * 2**retry)), or the provider's
    `Retry-After` when that is longer; a `Retry-After` over `maxRetryAfterMs` ends the
    retries at once (the error carries it for the client)."""

    attempts: int = Field(default=3, ge=1, le=20, description="total attempts, first included")
    base_ms: float = Field(default=500.0, ge=0.0)
    cap_ms: float = Field(default=20_000.0, ge=0.0)
    max_retry_after_ms: float = Field(default=60_000.0, ge=0.0)
    retry_on: list[ErrorKind] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))


class CircuitSettings(SettingsModel):
    """The circuit breaker (`circuit` at the top level, `providers.<name>.circuit`):
    open after `failureThreshold` failures of a `tripOn` kind within `windowMs`; after
    `cooldownMs` let one probe through (half-open); close after `successThreshold`
    successful probes, re-open on a failed one."""

    enabled: bool = True
    failure_threshold: int = Field(default=5, ge=1)
    window_ms: float = Field(default=60_000.0, gt=0.0)
    cooldown_ms: float = Field(default=30_000.0, ge=0.0)
    success_threshold: int = Field(default=2, ge=1)
    trip_on: list[ErrorKind] = Field(default_factory=lambda: list(DEFAULT_TRIP_ON))


class RetryOverride(SettingsModel):
    """`providers.<name>.retry`: only the fields given replace the top-level policy."""

    attempts: int | None = Field(default=None, ge=1, le=20)
    base_ms: float | None = Field(default=None, ge=0.0)
    cap_ms: float | None = Field(default=None, ge=0.0)
    max_retry_after_ms: float | None = Field(default=None, ge=0.0)
    retry_on: list[ErrorKind] | None = None


class CircuitOverride(SettingsModel):
    """`providers.<name>.circuit`: only the fields given replace the top-level breaker."""

    enabled: bool | None = None
    failure_threshold: int | None = Field(default=None, ge=1)
    window_ms: float | None = Field(default=None, gt=0.0)
    cooldown_ms: float | None = Field(default=None, ge=0.0)
    success_threshold: int | None = Field(default=None, ge=1)
    trip_on: list[ErrorKind] | None = None


class RateLimitSettings(SettingsModel):
    """`providers.<name>.rateLimit`: a client-side limit per model, kept before the
    provider has to answer 429 (requests over it wait on the shared rate-limit gate)."""

    rpm: int | None = Field(default=None, gt=0, description="requests per sliding minute")
    tpm: int | None = Field(
        default=None, gt=0, description="tokens per sliding minute (from the answers' usage)"
    )


FAILOVER_CAUSES = (
    "rate_limited",
    "server_error",
    "overloaded",
    "timeout",
    "network_error",
    "circuit_open",
    "invalid_response",
    "authentication",
    "context_length",
)
DEFAULT_FAILOVER_ON: tuple[str, ...] = (
    "rate_limited",
    "server_error",
    "overloaded",
    "timeout",
    "network_error",
    "circuit_open",
    "context_length",
)


class RouteSettings(SettingsModel):
    """`routes.<name>`: a fail-over chain, used as `provider = "route:<name>"` (or model).
    Each entry is `provider/model` (or a bare provider: its default model)."""

    chain: list[str] = Field(min_length=1, max_length=8)
    failover_on: list[str] | None = Field(
        default=None,
        description="Which failures move on to the next entry (default: rate_limited, "
        "server_error, overloaded, timeout, network_error, circuit_open, context_length).",
    )


class ProviderSettings(SettingsModel):
    api_key: SecretStr | None = None
    base_url: str | None = None
    default_model: str | None = None
    default_embedding_model: str | None = None
    timeout_ms: int = Field(default=120_000, gt=0)
    connect_timeout_ms: int = Field(default=10_000, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    max_connections: int = Field(default=512, gt=0)
    retry: RetryOverride | None = None
    circuit: CircuitOverride | None = None
    rate_limit: RateLimitSettings | None = None
    assistant_prefill: bool | None = Field(
        default=None,
        description="Whether a broken stream may be resumed with the partial answer as an "
        "assistant prefix; unset: the provider table's `assistant_prefill` capability.",
    )
    stream_idle_timeout_ms: int | None = Field(
        default=None,
        gt=0,
        description="Cut a stream that sends nothing (not a byte of an event) for this long "
        "after its first event; it is then handled as interrupted (resumed where the "
        "provider allows it). Unset: only `timeoutMs` (per read) bounds a stall.",
    )
    idempotency_header: str | None = Field(
        default=None,
        min_length=1,
        description="A request header in which this provider (a gateway, say) honours an "
        "idempotency key. Set, dspex sends one key per request (the same on every attempt) "
        "and may re-send after the provider answered; unset (the default: none of the five "
        "wire formats documents one for chat), a request the provider answered is never "
        "sent again.",
    )


class AnthropicSettings(ProviderSettings):
    """The Messages API requires `max_tokens`; this is what a request without `maxTokens`
    asks for."""

    default_max_tokens: int = Field(default=4096, gt=0)


class ResponsesSettings(ProviderSettings):
    """The Responses API (`openai-responses`, or `openai` with `api` choosing it). dspex
    keeps no server-side state: responses are not stored (`store: false`) unless this says
    so, or a request continues one with `previousResponseId` (that answer is stored, so
    the chain can go on). Set `store = true` to make every answer's `responseId` usable as
    a `previousResponseId`."""

    store: bool = False


class OpenAISettings(ResponsesSettings):
    """`api`: which OpenAI API a chat goes to. `auto` sends the models the catalog marks
    responses-only (o1-pro, o3-pro, the deep-research models, gpt-5-pro, the codex models,
    computer-use-preview) to the Responses API and every other to Chat Completions."""

    api: Literal["chat", "responses", "auto"] = "auto"


class MockError(SettingsModel):
    """An error the mock provider injects: on every `every`-th request, or with `times` left."""

    kind: ErrorKind
    message: str = "injected by the mock provider"
    status: int | None = None
    retry_after_ms: int | None = Field(default=None, ge=0)
    every: int | None = Field(default=None, gt=0)
    times: int | None = Field(default=None, gt=0)
    retryable: bool | None = Field(
        default=None, description="unset: retryable when the status is 429 or >= 500"
    )
    after_chunks: int | None = Field(
        default=None,
        ge=0,
        description="streaming only: break the stream with this error after so many deltas",
    )


class MockSettings(ProviderSettings):
    """The scriptable mock: `echo` repeats the last user message (or, asked for JSON or a
    dspex/predict layout, answers a schema-valid instance), `fixed` answers `reply`,
    `cycle` answers `replies` round-robin. Latency and errors can be injected."""

    mode: Literal["echo", "fixed", "cycle"] = "echo"
    reply: str = "Hello from the dspex mock provider."
    replies: list[str] = Field(default_factory=list)
    latency_ms: float = Field(default=0.0, ge=0.0)
    chunk_size: int = Field(default=8, gt=0, description="characters per streamed delta")
    chunk_delay_ms: float = Field(default=0.0, ge=0.0, description="pause after each delta")
    errors: list[MockError] = Field(default_factory=list)


class LlamaModelSettings(SettingsModel):
    """One GGUF model of the `llama` provider (`providers.llama.models.<name>`): a file on
    disk, or a Hugging Face repo and file fetched on first use (needs network and
    `huggingface-hub`)."""

    path: str | None = Field(default=None, min_length=1, description="a .gguf file")
    hf_repo: str | None = Field(default=None, min_length=1, description="e.g. Qwen/...-GGUF")
    hf_file: str | None = Field(
        default=None, min_length=1, description="the file in hf_repo (a glob such as *q4_k_m.gguf)"
    )
    n_ctx: int | None = Field(
        default=None, gt=0, description="context window; unset: the provider's n_ctx"
    )

    @model_validator(mode="after")
    def _one_source(self) -> LlamaModelSettings:
        if (self.path is None) == (self.hf_repo is None):
            raise ValueError("give either path or hf_repo (with hf_file)")
        if self.hf_repo is not None and self.hf_file is None:
            raise ValueError("hf_repo needs hf_file")
        return self


class LlamaSettings(ProviderSettings):
    """In-process GGUF models on llama.cpp (llama-cpp-python, the `dspex[llama]` extra).

    `modelPath` names the default model's file (its name is the file's stem); `models`
    names more. The provider counts as configured when llama_cpp imports and one of them
    is set. Generation runs on one worker thread per loaded model."""

    model_path: str | None = Field(default=None, min_length=1)
    models: dict[str, LlamaModelSettings] = Field(default_factory=dict)
    n_ctx: int | None = Field(
        default=None,
        gt=0,
        description="context window in tokens; unset: the GGUF's training context length "
        "(`<arch>.context_length`), at most 16384 (the KV cache grows with it)",
    )
    n_threads: int | None = Field(default=None, gt=0, description="unset: llama.cpp's choice")
    n_gpu_layers: int = Field(default=0, ge=-1, description="-1: all layers on the GPU")
    default_temperature: float = Field(default=0.8, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _default_models(self) -> LlamaSettings:
        """Unset default models are the model_path's (named by its stem), else the first
        named model: both chat and embeddings come from it."""
        implied = llama_model_name(self.model_path) if self.model_path else None
        implied = implied or next(iter(self.models), None)
        if self.default_model is None:
            self.default_model = implied
        if self.default_embedding_model is None:
            self.default_embedding_model = self.default_model
        return self


def llama_model_name(path: str) -> str:
    """The name a model given by path is known by: its file name without `.gguf`."""
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name


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


def route_issues(routes: Mapping[str, RouteSettings], providers: Container[str]) -> list[Issue]:
    """What a valid-looking routes section still gets wrong: a chain entry naming no known
    provider, a fail-over cause that does not exist."""
    issues = []
    for name, route in routes.items():
        for i, entry in enumerate(route.chain):
            provider = entry.split("/", 1)[0]
            if provider not in providers:
                issues.append(Issue(("routes", name, "chain", i), f"unknown provider {provider!r}"))
        for cause in route.failover_on or ():
            if cause not in FAILOVER_CAUSES:
                issues.append(
                    Issue(
                        ("routes", name, "failover_on"),
                        f"unknown cause {cause!r} (known: {', '.join(FAILOVER_CAUSES)})",
                    )
                )
    return issues
