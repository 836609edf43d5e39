"""The pooled client of a provider and what its answers' statuses, headers and failures
mean: shared by every HTTP adapter (http.py) and by its stream reading (http_stream.py)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from dspex_protocol import ErrorKind

from ..errors import DspexError
from .http_stream import Headers
from .settings import ProviderSettings

if TYPE_CHECKING:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")


@dataclass(frozen=True, slots=True)
class ReadResponse:
    """A response read through aiohttp directly (`HttpAdapter.post_json`)."""

    status_code: int
    headers: Headers
    reason_phrase: str


def make_client(
    settings: ProviderSettings, transport: str
) -> tuple[httpx.AsyncClient, AiohttpTransport | None]:
    """One pooled client per provider (and its aiohttp transport, when that is the kind).
    Timeouts are set per request by the adapter."""
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=30.0,
    )
    timeout = httpx.Timeout(settings.timeout_ms / 1000, connect=settings.connect_timeout_ms / 1000)
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        aiohttp_transport = AiohttpTransport(limits=limits, trust_env=False)
        client = httpx.AsyncClient(transport=aiohttp_transport, timeout=timeout, trust_env=False)
        return client, aiohttp_transport
    return httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False), None


def transport_kind(exc: BaseException) -> tuple[ErrorKind, str]:
    """Classify a transport failure. The aiohttp transport re-labels some errors (a server
    disconnect becomes httpx.ConnectTimeout), so look at the original cause first."""
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        return aiohttp_kind(cause)
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        return ErrorKind.TIMEOUT, "the provider did not answer in time"
    return ErrorKind.NETWORK_ERROR, f"connection failed: {type(exc).__name__}"


def is_aiohttp_error(exc: BaseException) -> bool:
    if not type(exc).__module__.startswith("aiohttp"):
        return False
    import aiohttp

    return isinstance(exc, aiohttp.ClientError)


def aiohttp_kind(exc: BaseException) -> tuple[ErrorKind, str]:
    """Classify an aiohttp failure (raised directly, or the cause of the transport's)."""
    import aiohttp

    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return ErrorKind.TIMEOUT, "the provider did not answer in time"
    return ErrorKind.NETWORK_ERROR, f"connection failed: {type(exc).__name__}"


def retry_after_ms(headers: Headers) -> int | None:
    """`retry-after-ms` (OpenAI, Anthropic), else `Retry-After` in seconds or as a date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        with contextlib.suppress(ValueError):
            return max(0, int(float(raw_ms)))
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0, int(float(raw) * 1000))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        if parsed is None:
            return None
        return max(0, int((parsed.timestamp() - time.time()) * 1000))


def request_id(headers: Headers) -> str | None:
    return next((headers[h] for h in REQUEST_ID_HEADERS if h in headers), None)


def status_kind(status: int) -> tuple[ErrorKind, bool]:
    """The kind and retryability an HTTP status means before the body is read."""
    if status == 429:
        return ErrorKind.RATE_LIMITED, True
    if status in (408, 504):
        return ErrorKind.TIMEOUT, True
    if status >= 500:  # includes Anthropic's 529 overloaded
        return ErrorKind.API_ERROR, True
    if status in (400, 413, 422):
        return ErrorKind.INVALID_MESSAGES, False
    if status in (401, 403):
        return ErrorKind.AUTHENTICATION, False
    return ErrorKind.API_ERROR, False


def decode_json(body: bytes, provider: str, model: str, what: str = "response") -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        snippet = body[:120].decode("utf-8", "replace").strip()
        raise DspexError(
            ErrorKind.INVALID_RESPONSE,
            f"the provider's {what} is not JSON: {snippet!r}",
            provider=provider,
            model=model,
        ) from None


def aiohttp_session(transport: AiohttpTransport) -> aiohttp.ClientSession:
    """The aiohttp session under the client's transport (the same pool; the transport
    closes it)."""
    import aiohttp

    session = transport.client
    if not isinstance(session, aiohttp.ClientSession):
        session = transport.client = transport.get_client()
    return session


def aiohttp_timeout(settings: ProviderSettings, timeout_s: float | None) -> aiohttp.ClientTimeout:
    """The timeouts httpx would pass the transport: per request, or the client's."""
    import aiohttp

    if timeout_s is not None:
        connect = read = timeout_s
    else:
        connect = settings.connect_timeout_ms / 1000
        read = settings.timeout_ms / 1000
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=read)


def encode_json(payload: Any) -> bytes:
    """The request body's exact bytes (compact, as httpx's `json=` writes them): signed
    requests must send the bytes that were signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
