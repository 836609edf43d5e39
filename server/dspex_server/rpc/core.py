"""Core JSON-RPC handlers: lifecycle, configuration, chat, providers, config."""

from __future__ import annotations

import contextlib
from typing import Any

from lsprotocol import types

from dspex_protocol import ChatChunk, ChatParams, EmbedParams
from dspex_protocol import methods as m

from ..app import DspexServer
from ..errors import DspexError
from ..services import Services
from .base import method

SHUTDOWN_DRAIN_S = 10.0


def register(server: DspexServer, services: Services) -> None:

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        options = params.initialization_options
        if options:
            # A bad block is recorded in config problems; the previous settings stay.
            with contextlib.suppress(DspexError):
                services.config.set_editor_settings("initializationOptions", options)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(_: Any) -> None:
        # Answer what is in flight before pygls cancels it; LSP clients send `shutdown`
        # when they are done, not to abort work they are still waiting for.
        await server.drain(timeout_s=SHUTDOWN_DRAIN_S)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_config_change(params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if settings is None:
            settings = await pull_configuration(server)
        with contextlib.suppress(DspexError):
            services.config.set_editor_settings("workspace", settings)

    @method(server, m.CHAT)
    async def chat(params: ChatParams) -> Any:
        token = params.partial_result_token
        sink = None
        if token is not None:

            def sink(chunk: ChatChunk) -> None:
                server.protocol.send_notification(
                    "$/progress", {"token": token, "value": chunk.to_wire()}
                )

        return await services.pipeline.chat(params, sink)

    @method(server, m.EMBED)
    async def embed(params: EmbedParams) -> Any:
        return await services.pipeline.embed(params)

    @method(server, m.PROVIDERS)
    async def providers(_: Any) -> Any:
        return services.providers()

    @method(server, m.CONFIG)
    async def config(_: Any) -> Any:
        return services.config_result()


async def pull_configuration(server: DspexServer) -> Any:
    caps = server.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return None
    result = await server.workspace_configuration_async(
        types.ConfigurationParams(items=[types.ConfigurationItem(section="dspex")])
    )
    return result[0] if result else None
