"""Core JSON-RPC handlers: lifecycle, configuration, chat, providers, config."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from dspex_protocol import ChatParams, EmbedParams, MockRequestsParams
from dspex_protocol import methods as m

from ..app import DspexServer
from ..config import LayerName
from ..errors import DspexError
from ..services import Services
from .base import method, partial_results

SHUTDOWN_DRAIN_S = 10.0


def register(server: DspexServer, services: Services) -> None:

    def apply_settings(layer: LayerName, settings: Any) -> None:
        """A bad settings block is refused with a message naming the keys; the previous
        settings stay in force and the daemon keeps running."""
        try:
            services.config.set_editor_settings(layer, settings)
        except DspexError as exc:
            server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=exc.message)
            )

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        if params.initialization_options:
            apply_settings("initializationOptions", params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def on_initialized(_: Any) -> None:
        if services.config.problems:
            # Read before the editor connected (a config file with an error): say so now.
            server.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Error,
                    message="dspex refused its configuration (the previous settings stay in "
                    "force): invalid_config: " + "; ".join(services.config.problems),
                )
            )
        # Editors that serve `workspace/configuration` are asked for the `dspex` section.
        settings = await pull_configuration(server)
        if settings is not None:
            apply_settings("workspace", settings)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(_: Any) -> None:
        # Answer what is in flight before pygls cancels it; LSP clients send `shutdown`
        # when they are done, not to abort work they are still waiting for.
        await server.drain(timeout_s=SHUTDOWN_DRAIN_S)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_config_change(params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if settings is None:  # LSP allows a bare "something changed": pull it
            settings = await pull_configuration(server)
        apply_settings("workspace", settings)

    @method(server, m.CHAT)
    async def chat(params: ChatParams) -> Any:
        with partial_results(server, params.partial_result_token) as sink:
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

    @method(server, m.MOCK_REQUESTS)
    async def mock_requests(params: MockRequestsParams) -> Any:
        return services.pipeline.registry.mock_capture.result(params)


async def pull_configuration(server: DspexServer) -> Any:
    caps = server.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return None
    try:
        result = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="dspex")])
        )
    except Exception:  # the client could not answer: keep the settings we have
        return None
    return result[0] if result else None
