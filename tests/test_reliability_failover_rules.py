"""The fail-over rules (reliability/fallback.py `failover_cause`): which failure is which
cause, and which never fails over, whatever the wire format reports."""

from __future__ import annotations

from typing import Any

import pytest

from dspex_protocol import ErrorKind
from dspex_server.errors import DspexError
from dspex_server.reliability.fallback import failover_cause, parse_entry


def err(kind: ErrorKind, status: int | None = None, code: str | None = None, **kw: Any) -> Any:
    details = {"code": code} if code else None
    return DspexError(kind, kw.pop("message", "x"), status=status, details=details, **kw)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (err(ErrorKind.RATE_LIMITED, 429), "rate_limited"),
        (err(ErrorKind.API_ERROR, 500, retryable=True), "server_error"),
        (err(ErrorKind.API_ERROR, 503, retryable=True), "server_error"),
        (err(ErrorKind.API_ERROR, 529, retryable=True), "overloaded"),
        (err(ErrorKind.API_ERROR, None, "overloaded_error", retryable=True), "overloaded"),
        (err(ErrorKind.TIMEOUT), "timeout"),
        (err(ErrorKind.NETWORK_ERROR), "network_error"),
        (err(ErrorKind.CIRCUIT_OPEN), "circuit_open"),
        (err(ErrorKind.INVALID_RESPONSE), "invalid_response"),
        (err(ErrorKind.API_ERROR, 401, "invalid_api_key"), "authentication"),
        (err(ErrorKind.API_ERROR, 403), "authentication"),
        (err(ErrorKind.INVALID_MESSAGES, 400, "context_length_exceeded"), "context_length"),
        (
            err(ErrorKind.INVALID_MESSAGES, 400, message="prompt is too long: 210000 tokens"),
            "context_length",
        ),
        (err(ErrorKind.INVALID_MESSAGES, 400, "invalid_request_error"), None),
        (err(ErrorKind.INVALID_MESSAGES, 400, "content_filter"), None),
        (err(ErrorKind.API_ERROR, 404), None),
        (err(ErrorKind.BUDGET_EXCEEDED), None),
        (err(ErrorKind.CANCELLED), None),
    ],
    ids=lambda v: v if isinstance(v, str) or v is None else f"{v.kind.value}-{v.status}",
)
def test_failure_to_cause(error: DspexError, cause: str | None) -> None:
    assert failover_cause(error) == cause


def test_route_entries_are_provider_slash_model() -> None:
    assert parse_entry("openai/gpt-4o-mini").model_dump() == {
        "provider": "openai",
        "model": "gpt-4o-mini",
    }
    # A model id may hold slashes itself (OpenRouter): only the first one splits.
    assert parse_entry("openrouter/meta-llama/llama-3").model == "meta-llama/llama-3"
    assert parse_entry("groq").model is None
