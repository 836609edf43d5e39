"""A thin synchronous wrapper for scripts: `with SyncClient() as c: print(c.chat("hi"))`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from dspex_protocol import (
    ChatResult,
    ConfigResult,
    EmbedResult,
    PredictResult,
    ProvidersResult,
    SignatureSpec,
)

from .client import DspexClient

R = TypeVar("R")


class SyncClient:
    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        initialization_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._client = self._run(
                DspexClient.spawn(command, env=env, initialization_options=initialization_options)
            )
        except BaseException:
            self._loop.close()
            raise

    def _run(self, awaitable: Awaitable[R]) -> R:
        return self._loop.run_until_complete(awaitable)

    def request(self, method: str, params: Any = None) -> Any:
        return self._run(self._client.request(method, params))

    def chat(self, prompt: str | None = None, **kwargs: Any) -> ChatResult:
        return self._run(self._client.chat(prompt, **kwargs))

    def embed(self, inputs: Sequence[str], **kwargs: Any) -> EmbedResult:
        return self._run(self._client.embed(inputs, **kwargs))

    def predict(
        self,
        signature: str | SignatureSpec | Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> PredictResult:
        return self._run(self._client.predict(signature, inputs, **kwargs))

    def providers(self) -> ProvidersResult:
        return self._run(self._client.providers())

    def config(self) -> ConfigResult:
        return self._run(self._client.config())

    def __getattr__(self, name: str) -> Any:
        """Every other typed call of DspexClient (performance, index_query, ...), run to
        completion: `client.index_query(name="docs", texts=["q"])`."""
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(attr(*args, **kwargs))

        return call

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close())
        finally:
            self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
