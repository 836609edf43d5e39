"""`textDocument/inlineCompletion`: debounced, one request in flight per document (a newer
request cancels the older one and with it the provider call), per-language enable."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from lsprotocol import types

from dspex_protocol.names import COMMAND_NAMES

from ..config import ConfigStore
from ..errors import DspexError
from .acceptance import Acceptance
from .fim import FimEngine, context_at

ACCEPT_COMMAND = COMMAND_NAMES[1]  # dspex.inlineCompletion.accept


class InlineCompleter:
    def __init__(self, config: ConfigStore, engine: FimEngine, workspace: Any) -> None:
        self.config = config
        self.engine = engine
        self.workspace = workspace  # () -> pygls Workspace (created by `initialize`)
        self.acceptance = Acceptance()
        self._in_flight: dict[str, asyncio.Task[Any]] = {}

    async def complete(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        settings = self.config.settings.editor.inline_completion
        uri = params.text_document.uri
        document = self.workspace().get_text_document(uri)
        if document.version is None:
            # Not opened by the editor (pygls would read the file from disk): completion is
            # for the text the editor syncs, never for a file it has not shown us.
            return None
        language = document.language_id or "plaintext"
        if not settings.enabled_for(language):
            return None
        started = time.perf_counter()
        me = asyncio.current_task()
        previous = self._in_flight.get(uri)
        if previous is not None and previous is not me and not previous.done():
            previous.cancel()
        if me is not None:
            self._in_flight[uri] = me
        provider: str | None = None
        try:
            if params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic:
                await asyncio.sleep(settings.debounce_ms / 1000)
            # The text as of now (a didChange may have arrived while debouncing).
            source = document.source
            offset = min(document.offset_at_position(params.position), len(source))
            ctx = context_at(
                source,
                offset,
                settings.prefix_chars,
                settings.suffix_chars,
                language=language,
                path=uri.rsplit("/", 1)[-1],
            )
            fill = await self.engine.fill(ctx, settings)
            provider = fill.provider
        except asyncio.CancelledError:
            self.acceptance.cancelled(language)
            raise
        except DspexError as exc:
            self.acceptance.failed(language, exc.provider or provider)
            raise exc.to_jsonrpc() from None
        finally:
            if self._in_flight.get(uri) is me:
                del self._in_flight[uri]
        if not fill.text.strip():
            return types.InlineCompletionList(items=[])
        item_id = uuid.uuid4().hex[:16]
        latency_ms = (time.perf_counter() - started) * 1000
        self.acceptance.offered(item_id, language, fill.provider, latency_ms)
        here = types.Range(start=params.position, end=params.position)
        item = types.InlineCompletionItem(
            insert_text=fill.text,
            range=here,
            command=types.Command(
                title="dspex: accepted", command=ACCEPT_COMMAND, arguments=[item_id]
            ),
        )
        return types.InlineCompletionList(items=[item])
