"""What every HTTP adapter shares: the pooled client, and transport/status error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import httpx

from dspex_protocol import ErrorKind

from ..errors import SENT_AFTER_ANSWER, DspexError
from ..reliability.idempotency import current_idempotency_key
from .base import Adapter
from .settings import ProviderSettings
from .table import ProviderSpec

if TYPE_CHECKING:
    from httpx_aiohttp import AiohttpTransport

T = TypeVar("T")

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")


Headers = Mapping[str, str]  # httpx.Headers or aiohttp's CIMultiDictProxy: case-insensitive


class HttpResponse(Protocol):
    """What the adapters read of a response whose body was read already."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def reason_phrase(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Malformed:
    """A stream event that does not parse (not JSON, not an object): skipped and counted,
    so that every valid token before and after it is still delivered."""

    snippet: str


def malformed(raw: bytes | str) -> Malformed:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return Malformed(text[:80].strip())


async def idle_bounded(
    events: AsyncIterator[T], idle_s: float | None, on_stall: Callable[[], DspexError]
) -> AsyncIterator[T]:
    """`events`, cut with `on_stall()` when nothing arrives for `idle_s` after the first
    one (`streamIdleTimeoutMs`; the wait for the first event is the request's timeout)."""
    iterator = aiter(events)
    first = True
    while True:
        limit = asyncio.timeout(None if first else idle_s)
        try:
            async with limit:
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            if limit.expired():  # ours, not a timeout raised inside the stream
                raise on_stall() from None
            raise
        first = False
        yield item


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


def _transport_kind(exc: BaseException) -> tuple[ErrorKind, str]:
    """Classify a transport failure. The aiohttp transport re-labels some errors (a server
    disconnect becomes httpx.ConnectTimeout), so look at the original cause first."""
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        return _aiohttp_kind(cause)
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        return ErrorKind.TIMEOUT, "the provider did not answer in time"
    return ErrorKind.NETWORK_ERROR, f"connection failed: {type(exc).__name__}"


def _aiohttp_kind(exc: BaseException) -> tuple[ErrorKind, str]:
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


class HttpAdapter(Adapter):
    """An adapter that talks HTTP through one pooled client."""

    # Error codes/types of a wire format's error body that say more than the HTTP status
    # (e.g. Anthropic's `overloaded_error`, Gemini's `RESOURCE_EXHAUSTED`): kind, retryable.
    error_codes: ClassVar[Mapping[str, tuple[ErrorKind, bool]]] = {}

    def __init__(
        self, spec: ProviderSpec, settings: ProviderSettings, api_key: str | None, transport: str
    ) -> None:
        super().__init__(spec)
        self.settings = settings
        self.api_key = api_key
        self.base_url = (settings.base_url or spec.default_base_url or "").rstrip("/")
        # With the aiohttp transport, whole-body requests (post_json) skip httpx's request
        # and response models and use the transport's aiohttp session (the same pool):
        # httpx's layer was about half of the daemon's CPU per proxied request (bench/).
        self.client, self._aiohttp = make_client(settings, transport)

    async def aclose(self) -> None:
        await self.client.aclose()

    def base_headers(self) -> dict[str, str]:
        """The row's fixed headers, overridden by `providers.<name>.headers` from config."""
        return {**self.spec.default_headers, **self.settings.headers}

    def error_detail(self, payload: Any) -> tuple[str | None, str | None]:
        """(message, code-or-type) from this wire format's error body."""
        if isinstance(payload, dict):
            err = payload.get("error", payload)
            if isinstance(err, dict):
                code = err.get("code") or err.get("type") or err.get("status")
                return _str_or_none(err.get("message")), _str_or_none(code)
            if isinstance(err, str):
                return err, None
        return None, None

    def refine_kind(self, kind: ErrorKind, status: int, code: str | None) -> ErrorKind:
        """Let a wire format turn a body's error code into a more precise kind."""
        return kind

    def error_hints(self, payload: Any) -> tuple[int | None, str | None]:
        """(retry-after in ms, request id) that a wire format puts in its error body."""
        return None, None

    def header_error_code(self, headers: Headers) -> str | None:
        """An error code sent as a header rather than in the body (Bedrock's
        `x-amzn-ErrorType`); it wins over the body's."""
        return None

    def classify(self, status: int | None, code: str | None) -> tuple[ErrorKind, bool]:
        """Kind and retryability: the body's code where the wire format knows it, else
        the HTTP status (an error inside a 200 stream has none: an API error)."""
        if code is not None and code in self.error_codes:
            return self.error_codes[code]
        if status is None:
            return ErrorKind.API_ERROR, False
        kind, retryable = status_kind(status)
        return self.refine_kind(kind, status, code), retryable

    def payload_error(
        self,
        payload: Any,
        model: str,
        *,
        status: int | None = None,
        headers: Headers | None = None,
        fallback: str = "the provider reported an error",
    ) -> DspexError:
        """A DspexError from a wire format's error body (an HTTP error or a stream event)."""
        message, code = self.error_detail(payload)
        if headers is not None:
            code = self.header_error_code(headers) or code
        kind, retryable = self.classify(status, code)
        body_retry_ms, body_request_id = self.error_hints(payload)
        text = message or fallback
        if code:
            text = f"{text} ({code})"
        header_retry_ms = retry_after_ms(headers) if headers is not None else None
        return DspexError(
            kind,
            self.scrub(text),
            provider=self.name,
            model=model,
            retryable=retryable,
            retry_after_ms=header_retry_ms if header_retry_ms is not None else body_retry_ms,
            status=status,
            request_id=(request_id(headers) if headers is not None else None) or body_request_id,
            details={"code": code} if code else None,
        )

    def status_error(self, response: HttpResponse, body: bytes, model: str) -> DspexError:
        payload: Any = None
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
            payload = json.loads(body)
        fallback = f"HTTP {response.status_code} {response.reason_phrase or ''}".strip()
        return self.payload_error(
            payload, model, status=response.status_code, headers=response.headers, fallback=fallback
        )

    def scrub(self, text: str) -> str:
        """Never echo a key back, even when a provider's error message quotes it."""
        if self.api_key and self.api_key in text:
            text = text.replace(self.api_key, "<redacted>")
        return text

    @contextlib.contextmanager
    def transport_errors(self, model: str, *, answered: bool = False) -> Iterator[None]:
        """Transport failures as DspexErrors. `answered`: the provider sent its status line
        already, so the request was received (and may be billed): see `transport_error`."""
        try:
            yield
        except (httpx.TransportError, TimeoutError) as exc:
            kind, message = _transport_kind(exc)
            raise self.transport_error(kind, message, model, answered) from None
        except httpx.HTTPError as exc:
            message = f"HTTP failure: {type(exc).__name__}"
            raise self.transport_error(ErrorKind.NETWORK_ERROR, message, model, answered) from None

    def transport_error(
        self, kind: ErrorKind, message: str, model: str, answered: bool
    ) -> DspexError:
        """A connection failure. After the status line it is marked `sentAfterAnswer` and
        not retryable: sending the request again could run (and bill) it twice."""
        if not answered:
            return DspexError(kind, message, provider=self.name, model=model)
        return DspexError(
            kind,
            f"{message} (after the provider answered)",
            provider=self.name,
            model=model,
            retryable=False,
            details={SENT_AFTER_ANSWER: True},
        )

    def unexpected_status(self, response: HttpResponse, body: bytes, model: str) -> DspexError:
        """A status no wire format documents for its endpoints (a redirect that was not
        followed, 204, 206 ...): the adapter cannot tell what it means."""
        snippet = body[:120].decode("utf-8", "replace").strip()
        location = response.headers.get("location")
        where = f" to {location}" if location else ""
        return DspexError(
            ErrorKind.UNEXPECTED_RESULT,
            self.scrub(
                f"the provider answered HTTP {response.status_code}"
                f" {response.reason_phrase or ''}{where}: {snippet!r}".replace("  ", " ")
            ),
            provider=self.name,
            model=model,
            status=response.status_code,
            request_id=request_id(response.headers),
        )

    def check_status(self, response: HttpResponse, body: bytes, model: str) -> None:
        if response.status_code >= 400:
            raise self.status_error(response, body, model)
        if response.status_code != 200:
            raise self.unexpected_status(response, body, model)

    def url(self, path: str) -> str:
        """A path under the base URL, or an absolute URL as is (another endpoint host)."""
        return path if "://" in path else self.base_url + path

    def authorise(
        self, method: str, url: str, content: bytes, headers: dict[str, str]
    ) -> dict[str, str]:
        """The headers to send; formats that sign the exact request (SigV4) override this."""
        return headers

    def _prepare(
        self, method: str, path: str, payload: Any, headers: dict[str, str]
    ) -> tuple[str, bytes, dict[str, str]]:
        url = self.url(path)
        key = current_idempotency_key()
        if key is not None and self.settings.idempotency_header:
            headers = {self.settings.idempotency_header: key, **headers}
        content = b""
        if payload is not None:
            content = encode_json(payload)
            headers = {"Content-Type": "application/json", **headers}
        return url, content, self.authorise(method, url, content, headers)

    async def post_json(
        self,
        path: str,
        payload: dict[str, Any],
        model: str,
        headers: dict[str, str],
        timeout_s: float | None,
    ) -> tuple[Any, HttpResponse]:
        url, content, headers = self._prepare("POST", path, payload, headers)
        response: HttpResponse
        if self._aiohttp is not None:
            response, body = await self._post_aiohttp(
                self._aiohttp, url, content, headers, model, timeout_s
            )
        else:
            with self.transport_errors(model):
                request = self.client.build_request(
                    "POST",
                    url,
                    content=content,
                    headers=headers,
                    timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
                )
                sent = await self.client.send(request, stream=True)
            try:
                with self.transport_errors(model, answered=True):
                    body = await sent.aread()
            finally:
                await sent.aclose()
            response = sent
        self.check_status(response, body, model)
        return decode_json(body, self.name, model), response

    async def _post_aiohttp(
        self,
        transport: AiohttpTransport,
        url: str,
        content: bytes,
        headers: dict[str, str],
        model: str,
        timeout_s: float | None,
    ) -> tuple[ReadResponse, bytes]:
        import aiohttp

        session = transport.client
        if not isinstance(session, aiohttp.ClientSession):
            session = transport.client = transport.get_client()  # the transport closes it
        # The timeouts httpx would pass the transport: per request, or the client's.
        if timeout_s is not None:
            connect = read = timeout_s
        else:
            connect = self.settings.connect_timeout_ms / 1000
            read = self.settings.timeout_ms / 1000
        timeout = aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=read)
        answered = False  # the status line and headers arrived
        try:
            async with session.post(
                url, data=content, headers=headers, allow_redirects=False, timeout=timeout
            ) as answer:
                answered = True
                body = await answer.read()
                return ReadResponse(answer.status, answer.headers, answer.reason or ""), body
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind, message = _aiohttp_kind(exc)
            raise self.transport_error(kind, message, model, answered) from None

    async def get_json(self, path: str, headers: dict[str, str], model: str = "") -> Any:
        url, _, headers = self._prepare("GET", path, None, headers)
        with self.transport_errors(model):
            response = await self.client.get(url, headers=headers)
            body = response.content
        self.check_status(response, body, model)
        return decode_json(body, self.name, model)

    async def get_pages(
        self,
        path: str,
        list_key: str,
        headers: dict[str, str],
        first_query: str,
        next_query: Callable[[dict[str, Any]], str | None],
        max_pages: int = 20,
    ) -> list[dict[str, Any]]:
        """The items of a paginated list endpoint (models lists), following its cursor:
        `next_query(page)` gives the next page's query string, or None at the end."""
        items: list[dict[str, Any]] = []
        query: str | None = first_query
        for _ in range(max_pages):
            if query is None:
                break
            payload = await self.get_json(path + query, headers)
            page = payload.get(list_key) if isinstance(payload, dict) else None
            if not isinstance(page, list):
                raise self.invalid(f"the list at {path} has no {list_key!r} array", "")
            items += [item for item in page if isinstance(item, dict)]
            query = next_query(payload)
        return items

    async def sse_events(
        self, response: httpx.Response, model: str, idle_s: float | None = None
    ) -> AsyncIterator[Any]:
        """Server-sent events of a streaming response; a 200 that is not an event stream
        (an HTML page from a proxy, a JSON body) is an invalid response, not a network error.
        `idle_s`: cut the stream when no event arrives for so long (`stalled`)."""
        from httpx_sse import EventSource

        await self.require_stream_type(response, model, "text/event-stream")
        events = EventSource(response).aiter_sse()
        async for event in idle_bounded(events, idle_s, lambda: self.stalled(model, idle_s)):
            yield event

    def stalled(self, model: str, idle_s: float | None) -> DspexError:
        """The stream went silent for longer than `streamIdleTimeoutMs`: cut, and handled
        as interrupted (resumed where the provider allows it)."""
        ms = round((idle_s or 0) * 1000)
        error = self.transport_error(
            ErrorKind.TIMEOUT,
            f"the stream stalled: nothing for {ms} ms (streamIdleTimeoutMs)",
            model,
            answered=True,
        )
        assert error.details is not None
        error.details["streamIdleTimeoutMs"] = ms
        return error

    async def require_stream_type(
        self, response: httpx.Response, model: str, *accepted: str
    ) -> None:
        """A streaming 200 whose content type is none of `accepted` (an HTML page from a
        proxy, say) is an invalid response, not a network error."""
        content_type = response.headers.get("content-type", "")
        if any(a in content_type for a in accepted):
            return
        with self.transport_errors(model, answered=True):
            body = await response.aread()
        snippet = body[:120].decode("utf-8", "replace").strip()
        raise DspexError(
            ErrorKind.INVALID_RESPONSE,
            f"expected {accepted[0]}, got {content_type or 'no content type'}: {snippet!r}",
            provider=self.name,
            model=model,
        )

    @contextlib.asynccontextmanager
    async def open_stream(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        model: str,
        headers: dict[str, str],
        timeout_s: float | None,
    ) -> AsyncIterator[httpx.Response]:
        """An open streaming response with status checked; closed on exit (or cancel)."""
        url, content, headers = self._prepare(method, path, payload, headers)
        with self.transport_errors(model):
            request = self.client.build_request(
                method,
                url,
                content=content or None,
                headers=headers,
                timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
            )
            response = await self.client.send(request, stream=True)
        try:
            if response.status_code != 200:
                with self.transport_errors(model, answered=True):
                    body = await response.aread()
                self.check_status(response, body, model)
            with self.transport_errors(model, answered=True):
                yield response
        finally:
            await response.aclose()

    async def sse_json(
        self, response: httpx.Response, model: str, idle_s: float | None = None
    ) -> AsyncIterator[Any]:
        """The JSON payloads of a Server-Sent Events stream, in order. An event whose
        data is not JSON comes as `Malformed` (the parser skips and counts it); transport
        failures map as usual."""
        with self.transport_errors(model, answered=True):
            async for sse in self.sse_events(response, model, idle_s):
                if not sse.data.strip():
                    continue
                try:
                    yield json.loads(sse.data)
                except json.JSONDecodeError:
                    yield malformed(sse.data)

    def stream_cut(self, model: str, expected: str) -> DspexError:
        """The stream ended without its documented final event (after the answer began)."""
        return self.transport_error(
            ErrorKind.NETWORK_ERROR, f"the stream ended before {expected}", model, answered=True
        )

    def invalid(self, what: str, model: str) -> DspexError:
        return DspexError(ErrorKind.INVALID_RESPONSE, what, provider=self.name, model=model)


def encode_json(payload: Any) -> bytes:
    """The request body's exact bytes (compact, as httpx's `json=` writes them): signed
    requests must send the bytes that were signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


async def aiter_json_lines(
    response: httpx.Response, idle_s: float | None, on_stall: Callable[[], DspexError]
) -> AsyncIterator[Any]:
    """Newline-delimited JSON (one object per line), blank lines skipped; a line that is
    not JSON comes as `Malformed`. Cut with `on_stall()` after `idle_s` of silence."""
    async for line in idle_bounded(response.aiter_lines(), idle_s, on_stall):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                yield malformed(line)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
