"""The llama provider: GGUF models run in-process on llama.cpp (llama-cpp-python).

Each model gets one worker thread of its own (a single-thread executor), on which it is
loaded once and then serves every request in turn: llama.cpp contexts are not thread-safe,
and the event loop never waits on llama.cpp. Streamed text crosses to the loop through an
asyncio queue fed with `call_soon_threadsafe`; cancelling the request (`$/cancelRequest`,
a timeout, a closed stream) sets a flag that the generation loop reads before each token.

Structured output is constrained by grammar: `responseFormat` json_schema becomes a GBNF
grammar (llama.cpp's JSON-Schema converter), json_object the generic JSON grammar, and a
forced tool call (`toolChoice` required or named) a grammar for `{name, arguments}` with the
tool's parameters as the arguments' schema, so the answer always parses and validates.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dspex_protocol import (
    AssistantMessage,
    ErrorKind,
    FinishReason,
    ToolCall,
    Usage,
)

from ..errors import DspexError
from .base import (
    Adapter,
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
    new_tool_call_id,
)
from .delta import CallFragment, Delta
from .llama_engine import Job, LoadedModel, ModelSource, Outcome, dump_schema, effective_n_ctx
from .llama_format import (
    find_tool_calls,
    forced_tools,
    grammar_schema,
    may_be_tool_call,
    parse_forced_call,
    template_messages,
    template_tools,
    tool_call_schema,
)
from .llama_gguf import GGUFError, context_length, read_metadata
from .settings import LlamaSettings, llama_model_name
from .table import ProviderSpec

NOTICE = "ran in-process on llama.cpp: cost 0 (local model)"
_DONE = object()


@dataclass
class _Slot:
    """One model's worker thread and, once loaded, the model."""

    source: ModelSource
    executor: ThreadPoolExecutor
    model: LoadedModel | None = None

    def loaded(self, settings: LlamaSettings) -> LoadedModel:
        if self.model is None:
            self.model = LoadedModel(self.source, settings)
        return self.model


@dataclass
class _Plan:
    """How one request is generated and read back."""

    job: Job
    forced: bool = False  # a forced tool call: the text is the call's JSON
    tools: list[Any] = field(default_factory=list)  # tools offered with `auto`


class LlamaAdapter(Adapter):
    def __init__(self, spec: ProviderSpec, settings: LlamaSettings) -> None:
        super().__init__(spec)
        self.settings = settings
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    # -- models -------------------------------------------------------------------------

    def sources(self) -> dict[str, ModelSource]:
        found: dict[str, ModelSource] = {}
        if self.settings.model_path:
            name = llama_model_name(self.settings.model_path)
            found[name] = ModelSource(name, self.settings.model_path)
        for name, model in self.settings.models.items():
            found[name] = ModelSource(name, model.path, model.hf_repo, model.hf_file, model.n_ctx)
        return found

    def _source(self, model: str) -> ModelSource:
        sources = self.sources()
        if model in sources:
            return sources[model]
        if model.lower().endswith(".gguf") and Path(model).expanduser().is_file():
            return ModelSource(model, model)  # a file named by path in the request
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            f"unknown llama model {model!r} (configured: {', '.join(sources) or 'none'}; "
            "or give the path of a .gguf file)",
            provider=self.name,
            model=model,
        )

    def _slot(self, model: str) -> _Slot:
        source = self._source(model)
        with self._lock:
            slot = self._slots.get(source.name)
            if slot is None:
                executor = ThreadPoolExecutor(1, thread_name_prefix="dspex-llama")
                slot = self._slots[source.name] = _Slot(source, executor)
            return slot

    def loaded_model(self, model: str) -> LoadedModel | None:
        """The model if it is loaded (tests and the catalog read it; never loads)."""
        slot = self._slots.get(model)
        return slot.model if slot is not None else None

    def known_context_window(self, model: str) -> int | None:
        loaded = self.loaded_model(model)
        return loaded.n_ctx if loaded is not None else None

    async def _run(self, model: str, work: Callable[[LoadedModel], Any]) -> Any:
        """`work(model)` on the model's own thread, loading the model first if needed."""
        slot = self._slot(model)
        loop = asyncio.get_running_loop()

        future: Future[Any] = slot.executor.submit(lambda: work(slot.loaded(self.settings)))
        try:
            return await asyncio.wrap_future(future, loop=loop)
        except DspexError as exc:
            exc.provider, exc.model = self.name, exc.model or model
            raise

    async def idle(self, model: str) -> None:
        """Wait until no generation is running or queued on `model` (tests)."""
        slot = self._slots.get(model)
        if slot is not None:  # one thread, in order: this runs after all that came before
            await asyncio.wrap_future(slot.executor.submit(lambda: None))

    # -- chat ---------------------------------------------------------------------------

    def _plan(self, request: ProviderRequest) -> _Plan:
        messages = template_messages(request.messages, self.name, request.model)
        choice = request.tool_choice
        offered = list(request.tools or ()) if choice != "none" else []
        job = Job(
            messages=messages,
            tools=template_tools(offered) if offered else None,
            max_tokens=request.max_tokens,
            temperature=(
                self.settings.default_temperature
                if request.temperature is None
                else request.temperature
            ),
            top_p=request.top_p if request.top_p is not None else 0.95,
            seed=request.seed,
            stop=list(request.stop or ()),
        )
        try:
            forced = forced_tools(offered, choice)
        except DspexError as exc:
            exc.provider, exc.model = self.name, request.model
            raise
        if forced:
            job.grammar = self._grammar(tool_call_schema(forced), request.model)
            return _Plan(job, forced=True)
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema" and fmt.json_schema:
            job.grammar = self._grammar(fmt.json_schema, request.model)
        elif fmt is not None and fmt.type in ("json_object", "json_schema"):
            from .llama_engine import json_grammar

            job.grammar = json_grammar()
        return _Plan(job, tools=offered)

    def _grammar(self, schema: Any, model: str) -> str:
        from .llama_engine import schema_grammar

        try:
            return schema_grammar(dump_schema(grammar_schema(schema)))
        except Exception as exc:  # a keyword llama.cpp's converter does not support
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"llama.cpp cannot turn this JSON Schema into a grammar: {exc}",
                provider=self.name,
                model=model,
            ) from None

    def _response(
        self, request: ProviderRequest, plan: _Plan, outcome: Outcome
    ) -> ProviderResponse:
        calls = self._calls(plan, outcome.text, request.model)
        finish: FinishReason = "tool_calls" if calls else _finish(outcome.finish)
        return ProviderResponse(
            message=AssistantMessage(
                content=None if calls else outcome.text, tool_calls=calls or None
            ),
            finish_reason=finish,
            usage=_usage(outcome),
            model=request.model,
            notices=[NOTICE],
        )

    def _calls(self, plan: _Plan, text: str, model: str) -> list[ToolCall]:
        if plan.forced:
            try:
                name, arguments = parse_forced_call(text)
            except (ValueError, KeyError, TypeError):
                raise DspexError(
                    ErrorKind.INVALID_RESPONSE,
                    "the forced tool call did not complete (raise maxTokens)",
                    provider=self.name,
                    model=model,
                ) from None
            return [ToolCall(id=new_tool_call_id(), name=name, arguments=arguments)]
        if not plan.tools:
            return []
        return [
            ToolCall(id=new_tool_call_id(), name=name, arguments=arguments)
            for name, arguments in find_tool_calls(text, plan.tools)
        ]

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        plan = self._plan(request)
        cancelled = threading.Event()
        try:
            outcome: Outcome = await self._run(
                request.model, lambda m: m.generate(plan.job, _ignore, cancelled)
            )
        finally:
            cancelled.set()  # the request was cancelled or timed out: stop sampling
        return self._response(request, plan, outcome)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        plan = self._plan(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(text: str) -> None:
            if not cancelled.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, text)

        task = asyncio.ensure_future(
            self._run(request.model, lambda m: m.generate(plan.job, emit, cancelled))
        )
        # Queued after every text the thread emitted; also when loading failed.
        task.add_done_callback(lambda _: queue.put_nowait(_DONE))
        held: list[str] = []  # text that may still turn out to be a tool call
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                assert isinstance(item, str)
                if plan.forced or (plan.tools and may_be_tool_call("".join(held) + item)):
                    held.append(item)
                    continue
                if held:
                    item, held = "".join(held) + item, []
                yield StreamPart(delta=Delta(content=item))
            outcome: Outcome = await task
        finally:
            cancelled.set()
            if not task.done():
                task.cancel()  # its thread stops within a token; the error is not wanted
        response = self._response(request, plan, outcome)
        calls = response.message.tool_calls or []
        if not calls and held:
            yield StreamPart(delta=Delta(content="".join(held)))
        if calls:
            fragments = [
                CallFragment(index=i, id=c.id, name=c.name, arguments=_json(c.arguments))
                for i, c in enumerate(calls)
            ]
            yield StreamPart(delta=Delta(tool_calls=fragments))
        yield StreamPart(
            finish_reason=response.finish_reason,
            usage=response.usage,
            model=request.model,
            notices=[NOTICE],
        )

    # -- embeddings and listing ---------------------------------------------------------

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        def work(model: LoadedModel) -> tuple[list[list[float]], int]:
            if request.dimensions is not None and request.dimensions != model.dimensions:
                raise DspexError(
                    ErrorKind.INVALID_MESSAGES,
                    f"{model.name!r} embeds in {model.dimensions} dimensions",
                    model=request.model,
                )
            return model.embed(list(request.inputs))

        vectors, tokens = await self._run(request.model, work)
        return EmbedResponse(embeddings=vectors, model=request.model, prompt_tokens=tokens)

    async def list_models(self) -> list[ModelListing]:
        """The configured models, with the context window each GGUF file declares (read
        from its header; a model fetched from Hugging Face is told once it is loaded)."""
        caps = frozenset({"chat", "streaming", "tools", "json_mode", "json_schema", "embeddings"})
        listings = []
        for name, source in self.sources().items():
            window = self.known_context_window(name)
            if window is None and source.path is not None:
                window = await asyncio.to_thread(_declared_window, source, self.settings.n_ctx)
            listings.append(
                ModelListing(
                    id=name, owned_by="llama.cpp", context_window=window, capabilities=caps
                )
            )
        return listings

    async def aclose(self) -> None:
        for slot in self._slots.values():
            slot.executor.shutdown(wait=False, cancel_futures=True)
        self._slots.clear()


def _declared_window(source: ModelSource, configured: int | None) -> int | None:
    try:
        trained = context_length(read_metadata(Path(source.path or "").expanduser()))
    except (OSError, GGUFError):
        return None
    return effective_n_ctx(source.n_ctx or configured, trained)


def _ignore(_: str) -> None:
    return None


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _finish(finish: str) -> FinishReason:
    return "length" if finish == "length" else "stop"


def _usage(outcome: Outcome) -> Usage:
    return Usage(
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        total_tokens=outcome.prompt_tokens + outcome.completion_tokens,
    )
