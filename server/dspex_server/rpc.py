"""JSON-RPC handlers: params → protocol model → service → result dict. Nothing else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from lsprotocol import types
from pydantic import ValidationError
from pygls.exceptions import JsonRpcException

from dspex_protocol import (
    ERROR_CODES,
    ChatChunk,
    ChatParams,
    ErrorData,
    ErrorKind,
)
from dspex_protocol import methods as m

from .app import DspexServer
from .errors import DspexError, InvalidParams
from .logs import setup_logging
from .providers.table import PROVIDERS
from .services import Services

log = logging.getLogger("dspex.rpc")

SHUTDOWN_DRAIN_S = 10.0

def parse_params(spec: m.MethodSpec, raw: Any) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidParams(
            f"{spec.name}: params must be an object",
            data={"method": spec.name, "errors": [
                {"loc": [], "msg": "params must be an object", "type": "type_error"}]},
        )
    try:
        return spec.params.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(params)" for e in errors)
        raise InvalidParams(f"{spec.name}: invalid params: {fields}",
                            data={"method": spec.name, "errors": errors}) from None


def internal_error(exc: BaseException) -> JsonRpcException:
    # The exception's text may quote a secret or a provider body: only its type is told.
    log.error("internal error: %s", type(exc).__name__)
    data = ErrorData(kind=ErrorKind.INTERNAL_ERROR,
                     message=f"internal error ({type(exc).__name__})")
    return JsonRpcException(message=data.message, code=ERROR_CODES[ErrorKind.INTERNAL_ERROR],
                            data=data.to_wire())


Handler = Callable[[Any], Awaitable[Any]]


def method(server: DspexServer, spec: m.MethodSpec) -> Callable[[Handler], Handler]:
    """Register `fn(params_model) -> WireModel` as the handler of `spec`."""

    def decorator(fn: Handler) -> Handler:
        async def handler(raw: Any) -> Any:
            params = parse_params(spec, raw)
            try:
                result = await fn(params)
            except DspexError as exc:
                raise exc.to_jsonrpc() from None
            except (asyncio.CancelledError, JsonRpcException):
                raise
            except Exception as exc:
                raise internal_error(exc) from None
            return result.to_wire()

        server.feature(spec.name)(handler)
        server.methods.append(spec.name)
        return fn

    return decorator


def build_server(services: Services | None = None) -> tuple[DspexServer, Services]:
    services = services or Services()
    setup_logging(services.config.settings.log_level, services.secrets)
    server = DspexServer()
    server.provider_names = [p.name for p in PROVIDERS]

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        options = params.initialization_options
        if options:
            try:
                services.config.set_editor_settings("initializationOptions", options)
            except DspexError:
                pass  # recorded in config problems; the daemon keeps its previous settings

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
        try:
            services.config.set_editor_settings("workspace", settings)
        except DspexError:
            pass

    @method(server, m.CHAT)
    async def chat(params: ChatParams) -> Any:
        token = params.partial_result_token
        sink = None
        if token is not None:
            def sink(chunk: ChatChunk) -> None:
                server.protocol.send_notification(
                    "$/progress", {"token": token, "value": chunk.to_wire()})
        return await services.pipeline.chat(params, sink)

    @method(server, m.PROVIDERS)
    async def providers(_: Any) -> Any:
        return services.providers()

    @method(server, m.CONFIG)
    async def config(_: Any) -> Any:
        return services.config_result()

    return server, services


async def pull_configuration(server: DspexServer) -> Any:
    caps = server.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return None
    result = await server.workspace_configuration_async(
        types.ConfigurationParams(items=[types.ConfigurationItem(section="dspex")]))
    return result[0] if result else None
