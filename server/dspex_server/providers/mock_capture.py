"""The mock provider's memory of what it was asked (`dspex/mock/requests`): the newest
requests, bounded, kept by the registry so that a settings change (which rebuilds the
adapter) does not forget them."""

from __future__ import annotations

import time
from collections import deque

from dspex_protocol import MockRequest, MockRequestsParams, MockRequestsResult
from dspex_protocol.mock import MOCK_CAPTURE_SIZE

from .base import EmbedRequest, ProviderRequest


class MockCapture:
    def __init__(self, size: int = MOCK_CAPTURE_SIZE) -> None:
        self._requests: deque[MockRequest] = deque(maxlen=size)
        self.total = 0

    def chat(self, request: ProviderRequest, *, streamed: bool) -> None:
        self._add(
            MockRequest(
                method="chat",
                model=request.model,
                streamed=streamed,
                messages=list(request.messages),
                tools=request.tools,
                tool_choice=request.tool_choice,
                response_format=request.response_format,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                top_p=request.top_p,
                stop=request.stop,
                seed=request.seed,
                received_at=time.time(),
            )
        )

    def embed(self, request: EmbedRequest) -> None:
        self._add(
            MockRequest(
                method="embed",
                model=request.model,
                inputs=list(request.inputs),
                dimensions=request.dimensions,
                received_at=time.time(),
            )
        )

    def _add(self, request: MockRequest) -> None:
        self._requests.append(request)
        self.total += 1

    def result(self, params: MockRequestsParams) -> MockRequestsResult:
        newest = list(self._requests)[-params.limit :]
        result = MockRequestsResult(requests=newest, total=self.total)
        if params.clear:
            self._requests.clear()
            self.total = 0
        return result
