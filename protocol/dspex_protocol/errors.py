"""The dspex error model: kinds, their JSON-RPC codes and the `data` of every error."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ._base import WireModel


class ErrorKind(StrEnum):
    """What went wrong, in words a client can switch on."""

    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    INVALID_RESPONSE = "invalid_response"
    API_ERROR = "api_error"
    CIRCUIT_OPEN = "circuit_open"
    RATE_LIMITED = "rate_limited"
    INVALID_MESSAGES = "invalid_messages"
    PROVIDER_NOT_CONFIGURED = "provider_not_configured"
    UNSUPPORTED_PROVIDER = "unsupported_provider"
    UNEXPECTED_RESULT = "unexpected_result"
    INVALID_JSON_RESPONSE = "invalid_json_response"
    MISSING_FIELDS = "missing_fields"
    VALIDATION_FAILED = "validation_failed"
    BUDGET_EXCEEDED = "budget_exceeded"
    CANCELLED = "cancelled"
    INVALID_CONFIG = "invalid_config"
    INTERNAL_ERROR = "internal_error"
    # 401/403, a bad or missing key, a key without access: not retried, no breaker trip.
    AUTHENTICATION = "authentication"


# JSON-RPC reserves -32099..-32000 for server-defined errors. Cancellation uses LSP's own
# RequestCancelled code so that every LSP client recognises it.
REQUEST_CANCELLED_CODE = -32800
INVALID_PARAMS_CODE = -32602
METHOD_NOT_FOUND_CODE = -32601
INTERNAL_ERROR_CODE = -32603

ERROR_CODES: dict[ErrorKind, int] = {
    ErrorKind.TIMEOUT: -32001,
    ErrorKind.NETWORK_ERROR: -32002,
    ErrorKind.INVALID_RESPONSE: -32003,
    ErrorKind.API_ERROR: -32004,
    ErrorKind.CIRCUIT_OPEN: -32005,
    ErrorKind.RATE_LIMITED: -32006,
    ErrorKind.INVALID_MESSAGES: -32007,
    ErrorKind.PROVIDER_NOT_CONFIGURED: -32008,
    ErrorKind.UNSUPPORTED_PROVIDER: -32009,
    ErrorKind.UNEXPECTED_RESULT: -32010,
    ErrorKind.INVALID_JSON_RESPONSE: -32011,
    ErrorKind.MISSING_FIELDS: -32012,
    ErrorKind.VALIDATION_FAILED: -32013,
    ErrorKind.BUDGET_EXCEEDED: -32014,
    ErrorKind.INVALID_CONFIG: -32015,
    ErrorKind.AUTHENTICATION: -32016,
    ErrorKind.CANCELLED: REQUEST_CANCELLED_CODE,
    ErrorKind.INTERNAL_ERROR: INTERNAL_ERROR_CODE,
}

KIND_BY_CODE: dict[int, ErrorKind] = {code: kind for kind, code in ERROR_CODES.items()}


class ErrorData(WireModel):
    """The `data` member of every dspex JSON-RPC error."""

    kind: ErrorKind
    message: str
    provider: str | None = None
    model: str | None = None
    retryable: bool = False
    retry_after_ms: int | None = Field(default=None, ge=0)
    status: int | None = None
    request_id: str | None = Field(
        default=None, description="The provider's request id, when it sent one."
    )
    correlation_id: str | None = None
    details: dict[str, object] | None = Field(
        default=None, description="Kind-specific detail, e.g. the missing field names."
    )


class InvalidParamsError(WireModel):
    """One entry of the `data.errors` list of a -32602 answer (pydantic's error shape)."""

    loc: list[str | int]
    msg: str
    type: str


class InvalidParamsData(WireModel):
    """The `data` of a -32602 answer: which fields of the params were wrong and why."""

    method: str
    errors: list[InvalidParamsError]
