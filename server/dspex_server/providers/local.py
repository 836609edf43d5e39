"""In-process embeddings with wordllama, whose weights ship inside its wheel: no network,
no key, the offline default of `dspex/embed`.

The model is loaded once, on first use, and both loading and embedding run on a pool of
this adapter's own (never on the event loop, never on pygls' thread pool).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

from dspex_protocol import ErrorKind

from ..errors import DspexError
from .base import (
    Adapter,
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
)
from .table import ProviderSpec

DEFAULT_DIMENSIONS = 256  # the dimension of the weights wordllama ships
INSTALL_HINT = "pip install wordllama (or pip install 'dspex[local]')"


class LocalAdapter(Adapter):
    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dspex-local")

    def _load(self, name: str) -> Any:
        """Load a wordllama config from the files in its own package (blocking)."""
        with self._lock:
            if name in self._models:
                return self._models[name]
            try:
                import wordllama
                from wordllama import WordLlama
            except ImportError:
                raise DspexError(
                    ErrorKind.UNSUPPORTED_PROVIDER,
                    f"local embeddings need wordllama: {INSTALL_HINT}",
                    provider=self.name,
                    model=name,
                ) from None
            from pathlib import Path

            # wordllama looks for its bundled tokenizer under `<package>/tokenizer/` but
            # ships it in `<package>/tokenizers/`, the layout of its cache directory: using
            # the package directory as the cache finds both files and never downloads.
            package_dir = Path(wordllama.__file__).parent
            try:
                model = WordLlama.load(
                    config=name,
                    dim=DEFAULT_DIMENSIONS,
                    cache_dir=package_dir,
                    disable_download=True,
                )
            except (AttributeError, FileNotFoundError, ValueError):
                raise DspexError(
                    ErrorKind.INVALID_MESSAGES,
                    f"local model {name!r} is not available offline "
                    f"(bundled: {self.spec.default_embedding_model})",
                    provider=self.name,
                    model=name,
                ) from None
            self._models[name] = model
            return model

    def _embed(
        self, name: str, texts: list[str], dimensions: int | None
    ) -> tuple[list[list[float]], int]:
        model = self._load(name)
        tokens = sum(sum(enc.attention_mask) for enc in model.tokenize(texts))
        matrix = model.embed(texts, norm=False)
        vectors: list[list[float]] = []
        for row in matrix.tolist():
            # The weights are Matryoshka-trained: a prefix is a valid smaller embedding.
            cut = row[:dimensions] if dimensions else row
            norm = math.sqrt(sum(v * v for v in cut)) or 1.0
            vectors.append([v / norm for v in cut])
        return vectors, int(tokens)

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        if request.dimensions is not None and request.dimensions > DEFAULT_DIMENSIONS:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"local embeddings have at most {DEFAULT_DIMENSIONS} dimensions",
                provider=self.name,
                model=request.model,
            )
        loop = asyncio.get_running_loop()
        vectors, tokens = await loop.run_in_executor(
            self._pool, self._embed, request.model, list(request.inputs), request.dimensions
        )
        return EmbedResponse(
            embeddings=vectors,
            model=request.model,
            prompt_tokens=tokens,
        )

    async def list_models(self) -> list[ModelListing]:
        default = self.spec.default_embedding_model or ""
        caps = frozenset({"embeddings"})
        return [ModelListing(id=default, owned_by="wordllama", capabilities=caps)]

    def _no_chat(self, model: str) -> NoReturn:
        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            "the local provider offers embeddings only",
            provider=self.name,
            model=model,
        )

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        self._no_chat(request.model)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        self._no_chat(request.model)
        yield StreamPart()  # pragma: no cover - makes this an async generator

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
