"""What every HTTP adapter shares: requests on the pooled client (whole bodies and
streams), and the mapping of error bodies, statuses and transport failures to DspexErrors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from dspex_protocol import ErrorKind

from ..errors import SENT_AFTER_ANSWER, DspexError
from ..reliability.idempotency import current_idempotency_key
from .base import Adapter
from .http_client import (
    ReadResponse,
    aiohttp_kind,
    aiohttp_session,
    aiohttp_timeout,
    decode_json,
    encode_json,
    is_aiohttp_error,
    make_client,
    request_id,
    retry_after_ms,
    status_kind,
    transport_kind,
)
from .http_stream import (
    AiohttpStream,
    Decoded,
    Headers,
    HttpResponse,
    Malformed,
    StreamResponse,
    idle_bounded,
    json_lines,
    malformed,
    sse_events,
    sse_json,
)
from .settings import ProviderSettings
from .table import ProviderSpec

if TYPE_CHECKING:
    from httpx_aiohttp import AiohttpTransport
    from httpx_sse import ServerSentEvent


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
        error = self.payload_error(
            payload, model, status=response.status_code, headers=response.headers, fallback=fallback
        )
        if (
            response.status_code in (401, 403)
            and not self.api_key
            and self.spec.wire_format == "openai_compat"
        ):
            # A base URL alone configures a key-less server; this one wants a key.
            error.message += (
                f" (no API key was sent: the server at {self.at_endpoint('').strip(' ()')} "
                f"requires one; set {' or '.join(self.spec.key_envs)})"
            )
        return error

    def at_endpoint(self, message: str) -> str:
        """A transport failure names the host and port it was talking to (never a path or
        query: a key may ride in one)."""
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(self.base_url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return message
        return f"{message} ({parts.hostname}:{port})" if parts.hostname else message

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
            kind, message = transport_kind(exc)
            raise self.transport_error(kind, message, model, answered) from None
        except httpx.HTTPError as exc:
            message = f"HTTP failure: {type(exc).__name__}"
            raise self.transport_error(ErrorKind.NETWORK_ERROR, message, model, answered) from None
        except Exception as exc:
            if not is_aiohttp_error(exc):  # streams read from aiohttp directly
                raise
            kind, message = aiohttp_kind(exc)
            raise self.transport_error(kind, message, model, answered) from None

    def transport_error(
        self, kind: ErrorKind, message: str, model: str, answered: bool
    ) -> DspexError:
        """A connection failure. After the status line it is marked `sentAfterAnswer` and
        not retryable: sending the request again could run (and bill) it twice."""
        message = self.at_endpoint(message)
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

        session = aiohttp_session(transport)
        answered = False  # the status line and headers arrived
        try:
            async with session.post(
                url,
                data=content,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp_timeout(self.settings, timeout_s),
            ) as answer:
                answered = True
                body = await answer.read()
                return ReadResponse(answer.status, answer.headers, answer.reason or ""), body
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind, message = aiohttp_kind(exc)
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

    def sse_events(
        self, response: StreamResponse, model: str, idle_s: float | None = None
    ) -> Decoded[ServerSentEvent]:
        """Server-sent events of a streaming response; a 200 that is not an event stream
        (an HTML page from a proxy, a JSON body) is an invalid response, not a network error.
        `idle_s`: cut the stream when no event arrives for so long (`stalled`)."""
        return sse_events(
            response,
            idle_s,
            lambda: self.stalled(model, idle_s),
            lambda: self.require_stream_type(response, model, "text/event-stream"),
        )

    def sse_json(
        self, response: StreamResponse, model: str, idle_s: float | None = None
    ) -> Decoded[Any]:
        """The JSON payloads of a Server-Sent Events stream, in order. An event whose
        data is not JSON comes as `Malformed` (the parser skips and counts it)."""
        return sse_json(
            response,
            idle_s,
            lambda: self.stalled(model, idle_s),
            lambda: self.require_stream_type(response, model, "text/event-stream"),
        )

    def json_lines(
        self, response: StreamResponse, model: str, idle_s: float | None, *accepted: str
    ) -> Decoded[Any]:
        """Newline-delimited JSON values of a streaming response whose content type is one
        of `accepted`; a line that is not JSON comes as `Malformed`."""
        return json_lines(
            response,
            idle_s,
            lambda: self.stalled(model, idle_s),
            lambda: self.require_stream_type(response, model, *accepted),
        )

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
        self, response: StreamResponse, model: str, *accepted: str
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
    ) -> AsyncIterator[StreamResponse]:
        """An open streaming response with status checked; closed on exit (or cancel).
        With the aiohttp transport it is read from the aiohttp session directly."""
        url, content, headers = self._prepare(method, path, payload, headers)
        response: StreamResponse
        with self.transport_errors(model):
            if self._aiohttp is not None:
                raw = await aiohttp_session(self._aiohttp).request(
                    method,
                    url,
                    data=content or None,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp_timeout(self.settings, timeout_s),
                )
                response = AiohttpStream(raw)
            else:
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

    def stream_cut(self, model: str, expected: str) -> DspexError:
        """The stream ended without its documented final event (after the answer began)."""
        return self.transport_error(
            ErrorKind.NETWORK_ERROR, f"the stream ended before {expected}", model, answered=True
        )

    def invalid(self, what: str, model: str) -> DspexError:
        return DspexError(ErrorKind.INVALID_RESPONSE, what, provider=self.name, model=model)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = [
    "Decoded",
    "Headers",
    "HttpAdapter",
    "HttpResponse",
    "Malformed",
    "ReadResponse",
    "decode_json",
    "encode_json",
    "idle_bounded",
    "make_client",
    "malformed",
    "request_id",
    "retry_after_ms",
    "status_kind",
]
