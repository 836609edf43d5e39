"""Typed errors raised by the client: every daemon error carries its code and dspex kind."""

from __future__ import annotations

from typing import Any

from dspex_protocol import (
    ERROR_CODES,
    INVALID_PARAMS_CODE,
    KIND_BY_CODE,
    METHOD_NOT_FOUND_CODE,
    REQUEST_CANCELLED_CODE,
    ErrorData,
    ErrorKind,
)


class DspexError(Exception):
    """An error answer from the daemon (or a failure to reach it)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    @property
    def kind(self) -> str:
        """The dspex error kind (`rate_limited`, `timeout`, ...), or a JSON-RPC category."""
        if isinstance(self.data, dict) and isinstance(self.data.get("kind"), str):
            return str(self.data["kind"])
        known = KIND_BY_CODE.get(self.code)
        if known is not None:
            return known.value
        return {
            INVALID_PARAMS_CODE: "invalid_params",
            METHOD_NOT_FOUND_CODE: "method_not_found",
            -32700: "parse_error",
            -32600: "invalid_request",
        }.get(self.code, "internal_error")

    @property
    def error_data(self) -> ErrorData | None:
        """The parsed ErrorData of a dspex error (None for plain JSON-RPC errors)."""
        if isinstance(self.data, dict) and "kind" in self.data:
            try:
                return ErrorData.model_validate(self.data)
            except ValueError:
                return None
        return None

    @property
    def retryable(self) -> bool:
        return bool(isinstance(self.data, dict) and self.data.get("retryable"))

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class InvalidParamsError(DspexError):
    """-32602: the params did not validate; `data["errors"]` lists the fields."""


class MethodNotFoundError(DspexError):
    """-32601: the daemon does not offer this method."""


class CancelledError(DspexError):
    """-32800: the request was cancelled."""


class DaemonUnavailableError(DspexError):
    """The daemon could not be started, or its connection closed."""

    def __init__(self, message: str) -> None:
        super().__init__(-32099, message, {"kind": "network_error", "message": message})


class StreamInterruptedError(DspexError):
    """Iterating a stream that broke off: every delta received was yielded, then this.
    `result` is the partial ChatResult (`finishReason: "interrupted"`, `error` the
    ErrorData of what broke it); `ChatStream.result()` returns it without raising."""

    def __init__(self, result: Any) -> None:
        error = result.error if isinstance(result.error, dict) else {}
        kind = str(error.get("kind") or "network_error")
        code = ERROR_CODES.get(ErrorKind(kind), -32002) if kind in _KINDS else -32002
        message = str(error.get("message") or "the stream was interrupted")
        super().__init__(code, f"the stream was interrupted: {message}", error or None)
        self.result = result


_KINDS = frozenset(k.value for k in ErrorKind)


def error_from_response(error: dict[str, Any]) -> DspexError:
    code = int(error.get("code", -32603))
    message = str(error.get("message", "error"))
    data = error.get("data")
    if isinstance(data, dict) and isinstance(data.get("message"), str) and "kind" in data:
        message = data["message"]
    cls: type[DspexError] = {
        INVALID_PARAMS_CODE: InvalidParamsError,
        METHOD_NOT_FOUND_CODE: MethodNotFoundError,
        REQUEST_CANCELLED_CODE: CancelledError,
    }.get(code, DspexError)
    return cls(code, message, data)


__all__ = [
    "CancelledError",
    "DaemonUnavailableError",
    "DspexError",
    "ErrorKind",
    "InvalidParamsError",
    "MethodNotFoundError",
    "StreamInterruptedError",
    "error_from_response",
]
