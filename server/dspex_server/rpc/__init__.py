"""JSON-RPC handlers: params → protocol model → service → result dict. Nothing else.

Each area registers its methods from a module of its own; `load_services` wires them all.
None of this is imported before the daemon has answered `initialize` (see app.py).
"""

from __future__ import annotations

from ..app import DspexServer
from ..logs import setup_logging
from ..providers.table import PROVIDERS
from ..services import Services
from . import analytics, commands, core, editor, predict, progress, reliability, sessions, store

REGISTRARS = (
    core.register,
    progress.register,
    predict.register,
    analytics.register,
    sessions.register,
    reliability.register,
    store.register,
    editor.register,
    commands.register,
)


def load_services(server: DspexServer, services: Services | None = None) -> Services:
    """The services, and every handler registered on `server`."""
    services = services or Services()
    setup_logging(services.config.settings.log_level, services.secrets)
    server.provider_names = [p.name for p in PROVIDERS]
    for register in REGISTRARS:
        register(server, services)
    futures = server.protocol._request_futures
    services.memory.busy = lambda: any(not f.done() for f in list(futures.values()))
    return services


def build_server(services: Services | None = None) -> tuple[DspexServer, Services]:
    """A server with everything loaded up front (in-process use and tests)."""
    server = DspexServer()
    services = load_services(server, services)
    server.services = services
    return server, services
