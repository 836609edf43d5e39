"""Editor features over standard LSP: `textDocument/inlineCompletion`, its acceptance
(`dspex/inlineCompletion/didShow`, the `dspex.inlineCompletion.accept` command) and
`dspex/analytics/inlineCompletion`. Document sync is pygls' own workspace (incremental)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types
from pydantic import ValidationError
from pygls.exceptions import JsonRpcException

from dspex_protocol import InlineCompletionShown
from dspex_protocol import methods as m
from dspex_protocol.names import INLINE_COMPLETION_DID_SHOW

from ..app import DspexServer
from ..editor.fim import FimEngine
from ..editor.inline import ACCEPT_COMMAND, InlineCompleter
from ..services import Services
from .base import internal_error, method

log = logging.getLogger("dspex.editor")


def register(server: DspexServer, services: Services) -> None:
    completer = InlineCompleter(
        services.config,
        FimEngine(services.pipeline, services.registry),
        lambda: server.workspace,
    )

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList | None:
        try:
            return await completer.complete(params)
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except Exception as exc:  # never pygls' answer, which carries the traceback
            raise internal_error(exc) from None

    @server.feature(INLINE_COMPLETION_DID_SHOW)
    def did_show(raw: Any) -> None:
        item_id = _item_id(raw)
        if item_id is not None:
            completer.acceptance.shown(item_id)

    @server.command(ACCEPT_COMMAND)
    async def accept(*args: Any) -> Any:
        # The item's own command: its argument is the item's id (a string), or {id}.
        item_id = _item_id(args[0]) if len(args) == 1 else None
        return {"accepted": item_id is not None and completer.acceptance.accepted(item_id)}

    @method(server, m.ANALYTICS_INLINE_COMPLETION)
    async def inline_stats(_: Any) -> Any:
        return completer.acceptance.result()


def _item_id(raw: Any) -> str | None:
    if isinstance(raw, str):
        raw = {"id": raw}
    try:
        return InlineCompletionShown.model_validate(raw).id
    except ValidationError:
        log.debug("an inline completion report without a valid id")
        return None
