"""The async client: spawns the daemon (or attaches to its streams) and offers typed calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from dspex_protocol import (
    ChatChunk,
    ChatDelta,
    ChatParams,
    ChatResult,
    ConfigResult,
    EmbedParams,
    EmbedResult,
    Message,
    PredictParams,
    PredictResult,
    ProvidersResult,
    SignatureSpec,
)

from .api import MethodsMixin
from .connection import Connection
from .errors import DaemonUnavailableError, StreamInterruptedError

T = TypeVar("T", bound=BaseModel)

SHUTDOWN_TIMEOUT_S = 10.0
EXIT_TIMEOUT_S = 5.0


def default_command() -> list[str]:
    """The daemon command: $DSPEX_SERVER_COMMAND (split on spaces), else this Python's
    `-m dspex_server`."""
    custom = os.environ.get("DSPEX_SERVER_COMMAND")
    return custom.split() if custom else [sys.executable, "-m", "dspex_server"]


def build_messages(
    prompt: str | None, messages: Sequence[Message | Mapping[str, Any]] | None, system: str | None
) -> list[Any]:
    out: list[Any] = []
    if system is not None:
        out.append({"role": "system", "content": system})
    for m in messages or ():
        out.append(m.to_wire() if isinstance(m, Message) else dict(m))
    if prompt is not None:
        out.append({"role": "user", "content": prompt})
    return out


class ChatStream:
    """Deltas of a streamed chat as an async iterator; `await result()` for the final
    ChatResult. Leaving the iteration early (or cancelling) cancels the request.

    A stream that broke off (`finishReason: "interrupted"`) ends with a chunk that says so
    and then raises StreamInterruptedError (its `result` is the partial answer), so that
    a caller that only iterates never takes a truncated answer for a whole one."""

    def __init__(
        self,
        client: DspexClient,
        params: dict[str, Any],
        method: str = "dspex/chat",
        result_type: type[ChatResult] = ChatResult,
    ) -> None:
        self._client = client
        self._params = params
        self._method = method
        self._result_type = result_type
        self._task: asyncio.Task[Any] | None = None
        self._result: ChatResult | None = None

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        conn = self._client.connection
        token = f"dspex-chat-{conn.new_id()}"
        queue = conn.progress_queue(token)
        self._task = asyncio.get_running_loop().create_task(
            conn.request(self._method, {**self._params, "partialResultToken": token})
        )
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, self._task}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                item = getter.result()
                if isinstance(item, Exception):
                    raise item
                yield ChatChunk.model_validate(item)
            # The answer arrived; deltas sent before it are already queued, in order.
            while not queue.empty():
                item = queue.get_nowait()
                if not isinstance(item, Exception):
                    yield ChatChunk.model_validate(item)
            self._result = self._result_type.model_validate(await self._task)
            if _interrupted(self._result):
                yield ChatChunk(
                    correlation_id=self._result.correlation_id,
                    delta=ChatDelta(),
                    finish_reason="interrupted",
                )
                raise StreamInterruptedError(self._result)
        finally:
            conn.drop_progress(token)
            if self._task is not None and not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task

    async def result(self) -> ChatResult:
        """The final result (also a partial, interrupted one); iterates the rest of the
        stream if needed."""
        if self._result is None:
            with contextlib.suppress(StreamInterruptedError):
                async for _ in self:
                    pass
        assert self._result is not None
        return self._result


def _interrupted(result: ChatResult) -> bool:
    return bool(result.choices) and result.choices[0].finish_reason == "interrupted"


class DspexClient(MethodsMixin):
    """`async with DspexClient.spawn() as client: await client.chat("hello")`."""

    def __init__(
        self, connection: Connection, process: asyncio.subprocess.Process | None = None
    ) -> None:
        self.connection = connection
        self.process = process
        self.server_info: dict[str, Any] = {}
        self.capabilities: dict[str, Any] = {}
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    async def spawn(
        cls,
        command: Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        initialization_options: Mapping[str, Any] | None = None,
        stderr: int | None = None,
    ) -> DspexClient:
        """Start the daemon as a child process and initialise it."""
        cmd = list(command or default_command())
        try:
            process = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=dict(env) if env is not None else None,
                limit=1 << 24,
            )
        except OSError as exc:
            raise DaemonUnavailableError(f"cannot start the daemon ({cmd[0]}): {exc}") from exc
        assert process.stdout is not None and process.stdin is not None
        client = cls(Connection(process.stdout, process.stdin), process)
        client.connection.start()
        try:
            await client.initialize(initialization_options)
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def attach(
        cls,
        reader: asyncio.StreamReader,
        writer: Any,
        *,
        initialization_options: Mapping[str, Any] | None = None,
        initialize: bool = True,
    ) -> DspexClient:
        """Use an already running daemon's streams (e.g. a socket or pipes you own)."""
        client = cls(Connection(reader, writer))
        client.connection.start()
        if initialize:
            await client.initialize(initialization_options)
        return client

    async def initialize(self, initialization_options: Mapping[str, Any] | None = None) -> None:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "clientInfo": {"name": "dspex-client"},
            "capabilities": {},
        }
        if initialization_options is not None:
            params["initializationOptions"] = dict(initialization_options)
        result = await self.connection.request("initialize", params)
        self.server_info = result.get("serverInfo") or {}
        self.capabilities = (
            (result.get("capabilities") or {}).get("experimental", {}).get("dspex", {})
        )
        self.connection.notify("initialized", {})

    async def close(self) -> None:
        """shutdown + exit, then wait for the process (killed if it does not leave)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.connection.request("shutdown"), SHUTDOWN_TIMEOUT_S)
            self.connection.notify("exit")
            await self.connection.drain()
        if self.process is not None:
            if self.process.stdin is not None:
                with contextlib.suppress(Exception):
                    self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), EXIT_TIMEOUT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self.connection.close()

    async def __aenter__(self) -> DspexClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- calls -----------------------------------------------------------------------

    async def request(self, method: str, params: Any = None) -> Any:
        """Any method, raw: params and result are JSON values."""
        return await self.connection.request(method, params)

    async def call(
        self, method: str, params: BaseModel | Mapping[str, Any] | None, result_type: type[T]
    ) -> T:
        raw = (
            params.model_dump(mode="json", by_alias=True, exclude_none=True)
            if isinstance(params, BaseModel)
            else params
        )
        return result_type.model_validate(await self.request(method, raw))

    def _chat_params(self, prompt: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        messages = build_messages(prompt, kwargs.pop("messages", None), kwargs.pop("system", None))
        params = ChatParams.model_validate({"messages": messages, **kwargs})
        return params.to_wire()

    async def chat(self, prompt: str | None = None, **kwargs: Any) -> ChatResult:
        """One chat completion. kwargs are ChatParams fields (snake_case), plus `system`
        and `messages`; `on_delta` streams deltas to a callback."""
        on_delta: Callable[[ChatChunk], None] | None = kwargs.pop("on_delta", None)
        params = self._chat_params(prompt, kwargs)
        if on_delta is None:
            return ChatResult.model_validate(await self.request("dspex/chat", params))
        stream = ChatStream(self, params)
        with contextlib.suppress(StreamInterruptedError):  # the result says interrupted
            async for chunk in stream:
                on_delta(chunk)
        return await stream.result()

    def chat_stream(self, prompt: str | None = None, **kwargs: Any) -> ChatStream:
        """`async for chunk in client.chat_stream("hi"): ...` then `await stream.result()`."""
        return ChatStream(self, self._chat_params(prompt, kwargs))

    def session_chat_stream(
        self, session_id: str, content: str | None = None, **kwargs: Any
    ) -> ChatStream:
        """Like chat_stream, for a turn of a session; the result is a SessionChatResult."""
        from dspex_protocol.sessions import SessionChatParams, SessionChatResult

        params = SessionChatParams.model_validate(
            {"session_id": session_id, "content": content, **kwargs}
        ).to_wire()
        return ChatStream(self, params, "dspex/session/chat", SessionChatResult)

    async def embed(self, inputs: Sequence[str], **kwargs: Any) -> EmbedResult:
        return await self.call(
            "dspex/embed", EmbedParams(inputs=list(inputs), **kwargs), EmbedResult
        )

    async def predict(
        self,
        signature: str | SignatureSpec | Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> PredictResult:
        """Structured prediction: `await client.predict("text -> sentiment", {"text": t})`.
        kwargs are PredictParams fields (snake_case): mode, demos, max_retries, ..."""
        params = PredictParams.model_validate(
            {"signature": signature, "inputs": dict(inputs or {}), **kwargs}
        )
        return await self.call("dspex/predict", params, PredictResult)

    async def providers(self) -> ProvidersResult:
        return await self.call("dspex/providers", {}, ProvidersResult)

    async def config(self) -> ConfigResult:
        return await self.call("dspex/config", {}, ConfigResult)
