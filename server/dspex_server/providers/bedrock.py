"""Amazon Bedrock: Converse / ConverseStream for chat, InvokeModel for embeddings (Titan,
Cohere), ListFoundationModels on the control-plane host. Requests are signed with SigV4 by
botocore (an optional extra, imported on first use), or carry a Bedrock API key as a
bearer token when one is configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import quote

from dspex_protocol import ErrorKind, Usage

from ..errors import DspexError
from . import bedrock_wire as wire
from .base import (
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
)
from .bedrock_models import family
from .bedrock_request import converse_body
from .bedrock_stream import ConverseStreamParser
from .http import Headers, HttpAdapter, idle_bounded, request_id
from .settings import BedrockSettings
from .table import ProviderSpec

SIGNING_NAME = "bedrock"  # the runtime and control plane both sign as "bedrock"
INSTALL_HINT = "pip install 'dspex[bedrock]'"
COHERE_BATCH = 96  # Cohere Embed takes at most 96 texts per call
TOKEN_COUNT_HEADER = "x-amzn-bedrock-input-token-count"


def _botocore() -> Any:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        import botocore.eventstream
    except ImportError:
        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            f"the bedrock provider needs botocore: {INSTALL_HINT}",
            provider="bedrock",
        ) from None
    return botocore


class BedrockAdapter(HttpAdapter):
    settings: BedrockSettings
    error_codes = wire.ERRORS
    # responseFormat: json_schema as outputConfig, json_object asked in words; metadata
    # as requestMetadata; tools[].strict; cacheControl as cachePoint blocks. Converse has
    # no seed, n, logprobs, penalties, user, parallelToolCalls, cachedContent or
    # previousResponseId: those are refused.
    options: ClassVar[frozenset[str]] = frozenset(
        {"response_format", "metadata", "strict", "cache_control"}
    )
    input_parts: ClassVar[frozenset[str]] = frozenset(
        {"text", "image", "document", "audio", "reasoning", "server_tool"}
    )

    def mapped_options(self, model: str) -> frozenset[str]:
        """Reasoning where the model family has a documented switch (or always reasons);
        server tools on the Nova models that run Nova's built-in tools."""
        fam = family(model)
        extra = {"reasoning"} if fam.can_reason else set()
        if fam.has_system_tools:
            extra.add("server_tools")
        return self.options | extra

    def __init__(
        self, spec: ProviderSpec, settings: BedrockSettings, api_key: str | None, transport: str
    ) -> None:
        # The plain httpx transport sends a path exactly as given; the aiohttp one would
        # decode `%3A` in model ids to `:`, and the SigV4 signature covers the path as sent.
        del transport
        super().__init__(spec, settings, api_key, "httpx")
        self.region = settings.region
        self.base_url = spec.base_url_for(settings) or ""
        self.control_url = (
            settings.control_base_url or f"https://bedrock.{self.region}.amazonaws.com"
        ).rstrip("/")
        self._signer: Any = None
        if not api_key:
            botocore = _botocore()
            secret = settings.aws_secret_access_key
            token = settings.aws_session_token
            credentials = botocore.credentials.Credentials(
                settings.aws_access_key_id or "",
                secret.get_secret_value() if secret else "",
                token.get_secret_value() if token else None,
            )
            self._signer = botocore.auth.SigV4Auth(credentials, SIGNING_NAME, self.region)

    def authorise(
        self, method: str, url: str, content: bytes, headers: dict[str, str]
    ) -> dict[str, str]:
        headers = {**self.spec.default_headers, **self.settings.headers, **headers}
        if self._signer is None:
            return {**headers, "Authorization": f"Bearer {self.api_key}"}
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=content, headers=headers)
        self._signer.add_auth(request)
        return dict(request.headers.items())

    def scrub(self, text: str) -> str:
        text = super().scrub(text)
        for secret in (self.settings.aws_secret_access_key, self.settings.aws_session_token):
            if secret is not None and secret.get_secret_value() in text:
                text = text.replace(secret.get_secret_value(), "<redacted>")
        return text

    def header_error_code(self, headers: Headers) -> str | None:
        return wire.error_name(headers.get("x-amzn-errortype"))

    @staticmethod
    def model_path(model: str, action: str) -> str:
        # Model ids hold `:` and ARNs `/`: both are percent-encoded in the path.
        return f"/model/{quote(model, safe='')}/{action}"

    # -- chat ----------------------------------------------------------------------------

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        payload, response = await self.post_json(
            self.model_path(request.model, "converse"),
            converse_body(request, self.name),
            request.model,
            {"Accept": "application/json"},
            request.timeout_s,
        )
        message, stop = wire.parse_converse(payload, self.name, request.model)
        return ProviderResponse(
            message=message,
            finish_reason=wire.stop_reason(stop, bool(message.tool_calls)),
            usage=wire.parse_usage(payload.get("usage")) or Usage(),
            model=request.model,
            request_id=request_id(response.headers),
        )

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        _botocore()  # the event-stream decoder
        parser = ConverseStreamParser(self, request.model)
        async with self.open_stream(
            "POST",
            self.model_path(request.model, "converse-stream"),
            converse_body(request, self.name),
            request.model,
            {"Accept": "application/vnd.amazon.eventstream"},
            request.timeout_s,
        ) as response:
            await self.require_stream_type(
                response, request.model, "application/vnd.amazon.eventstream"
            )
            first = True
            idle_s = request.stream_idle_timeout_s
            chunks = idle_bounded(
                response.aiter_bytes(), idle_s, lambda: self.stalled(request.model, idle_s)
            )
            async for part in parser.parts(chunks):
                if first:
                    part.request_id = request_id(response.headers)
                    first = False
                yield part

    # -- embeddings ----------------------------------------------------------------------

    async def _invoke(
        self, model: str, body: dict[str, Any], timeout_s: float | None
    ) -> tuple[dict[str, Any], int]:
        payload, response = await self.post_json(
            self.model_path(model, "invoke"),
            body,
            model,
            {"Accept": "application/json"},
            timeout_s,
        )
        if not isinstance(payload, dict):
            raise DspexError(
                ErrorKind.INVALID_RESPONSE,
                "the InvokeModel answer is not a JSON object",
                provider=self.name,
                model=model,
            )
        header = response.headers.get(TOKEN_COUNT_HEADER)
        return payload, int(header) if header and header.isdigit() else 0

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        family = request.model.split(".")
        # Cross-region inference profiles prefix the id with a geography ("us.cohere...").
        vendor = family[1] if len(family) > 2 and len(family[0]) == 2 else family[0]
        limit = asyncio.Semaphore(self.settings.embed_concurrency)
        if vendor == "cohere":
            batches = [
                request.inputs[i : i + COHERE_BATCH]
                for i in range(0, len(request.inputs), COHERE_BATCH)
            ]
            results = await asyncio.gather(
                *(self._cohere(request, batch, limit) for batch in batches)
            )
        else:
            results = await asyncio.gather(
                *(self._titan(request, text, limit) for text in request.inputs)
            )
        return EmbedResponse(
            embeddings=[v for vectors, _ in results for v in vectors],
            model=request.model,
            prompt_tokens=sum(tokens for _, tokens in results),
        )

    def _vectors(self, raw: Any, model: str) -> list[list[float]]:
        if isinstance(raw, dict):  # asked with embedding_types: {"float": [...]}
            raw = raw.get("float")
        if not isinstance(raw, list) or not all(isinstance(v, list) for v in raw):
            raise DspexError(
                ErrorKind.INVALID_RESPONSE,
                "the embedding answer has no vectors",
                provider=self.name,
                model=model,
            )
        return [[float(x) for x in v] for v in raw]

    async def _titan(
        self, request: EmbedRequest, text: str, limit: asyncio.Semaphore
    ) -> tuple[list[list[float]], int]:
        body: dict[str, Any] = {"inputText": text}
        if request.dimensions is not None:  # Titan Text Embeddings V2: 256, 512 or 1024
            body.update(dimensions=request.dimensions, normalize=True)
        async with limit:
            payload, header_tokens = await self._invoke(request.model, body, request.timeout_s)
        vectors = self._vectors([payload.get("embedding")], request.model)
        tokens = payload.get("inputTextTokenCount")
        return vectors, int(tokens) if isinstance(tokens, int) else header_tokens

    async def _cohere(
        self, request: EmbedRequest, texts: list[str], limit: asyncio.Semaphore
    ) -> tuple[list[list[float]], int]:
        input_type = "search_query" if request.input_type == "query" else "search_document"
        async with limit:
            payload, tokens = await self._invoke(
                request.model, {"texts": texts, "input_type": input_type}, request.timeout_s
            )
        return self._vectors(payload.get("embeddings"), request.model), tokens

    # -- models --------------------------------------------------------------------------

    async def list_models(self) -> list[ModelListing]:
        payload = await self.get_json(
            self.control_url + "/foundation-models", {"Accept": "application/json"}
        )
        summaries = payload.get("modelSummaries") if isinstance(payload, dict) else None
        if not isinstance(summaries, list):
            raise DspexError(
                ErrorKind.INVALID_RESPONSE,
                "the foundation models answer has no modelSummaries",
                provider=self.name,
            )
        listings = []
        for item in summaries:
            if not isinstance(item, dict) or "modelId" not in item:
                continue
            outputs = set(item.get("outputModalities") or ())
            caps = {"chat"} if "TEXT" in outputs else set()
            if "EMBEDDING" in outputs:
                caps.add("embeddings")
            if item.get("responseStreamingSupported"):
                caps.add("streaming")
            owner = item.get("providerName")
            listings.append(
                ModelListing(
                    id=str(item["modelId"]),
                    owned_by=str(owner) if owner else None,
                    capabilities=frozenset(caps),
                )
            )
        return listings
