"""The daemon's one exception type, and its mapping to JSON-RPC errors."""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcException

from dspex_protocol import ERROR_CODES, ErrorData, ErrorKind

RETRYABLE_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.NETWORK_ERROR, ErrorKind.RATE_LIMITED})
# `details` key of a transport failure after the provider sent its status line: the request
# was received (and may be billed), so it must not be sent again as it is.
SENT_AFTER_ANSWER = "sentAfterAnswer"


class DspexError(Exception):
    """A failure in the dspex error model. Its message must never contain a secret."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        retryable: bool | None = None,
        retry_after_ms: int | None = None,
        status: int | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.model = model
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.retry_after_ms = retry_after_ms
        self.status = status
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.details = details

    @property
    def sent_after_answer(self) -> bool:
        """The connection failed after the provider answered (status line received)."""
        return bool(self.details and self.details.get(SENT_AFTER_ANSWER))

    def data(self) -> ErrorData:
        return ErrorData(
            kind=self.kind,
            message=self.message,
            provider=self.provider,
            model=self.model,
            retryable=self.retryable,
            retry_after_ms=self.retry_after_ms,
            status=self.status,
            request_id=self.request_id,
            correlation_id=self.correlation_id,
            details=self.details,
        )

    def to_jsonrpc(self) -> JsonRpcException:
        return JsonRpcException(
            message=f"{self.kind.value}: {self.message}",
            code=ERROR_CODES[self.kind],
            data=self.data().to_wire(),
        )

    def __repr__(self) -> str:
        return f"DspexError({self.kind.value!r}, {self.message!r})"


class InvalidParams(JsonRpcException):
    CODE = -32602
    MESSAGE = "Invalid params"


def scrub_error(error: DspexError, secrets: list[str]) -> DspexError:
    """Remove every secret from an error's message and details (in place)."""
    if not secrets:
        return error

    def clean(value: object) -> object:
        if isinstance(value, str):
            for secret in secrets:
                value = value.replace(secret, "<redacted>")
            return value
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    error.message = str(clean(error.message))
    error.args = (error.message,)
    if error.details:
        error.details = {k: clean(v) for k, v in error.details.items()}
    return error
