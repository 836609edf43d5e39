"""`dspex/stats`, and the opt-in `dspex/telemetry` notifications (config `telemetry: true`)."""

from __future__ import annotations

import logging
from typing import Any

from dspex_protocol import StatsParams, TelemetryEvent
from dspex_protocol import methods as m

from ..app import DspexServer
from ..services import Services
from ..telemetry import RequestEvent
from .base import method

log = logging.getLogger("dspex.telemetry")

TELEMETRY_METHOD = "dspex/telemetry"


def telemetry_params(event: RequestEvent) -> dict[str, Any]:
    """The notification's params: ids, names, numbers and kinds only (no text, no secret)."""
    from datetime import UTC, datetime

    return TelemetryEvent(
        phase=event.phase,
        operation=event.operation,
        correlation_id=event.correlation_id,
        provider=event.provider,
        model=event.model,
        at=datetime.fromtimestamp(event.at, UTC),
        duration_ms=None if event.duration_ms is None else round(event.duration_ms, 3),
        success=event.success,
        error_kind=event.error_kind,
        usage=event.usage,
        chunks=event.chunks,
        attempts=event.attempts if event.phase == "stop" else None,
        resumed=event.resumed if event.phase == "stop" else None,
        malformed_events=event.malformed_events or None,
        streamed=event.streamed,
        session_id=event.session_id,
    ).to_wire()


def register(server: DspexServer, services: Services) -> None:
    def forward(event: RequestEvent) -> None:
        if not services.config.settings.telemetry:
            return
        server.protocol.send_notification(TELEMETRY_METHOD, telemetry_params(event))

    services.events.subscribe(forward)

    @method(server, m.STATS)
    async def stats(params: StatsParams) -> Any:
        return services.stats.snapshot(params)
