"""Stream fault rules the pipeline applies to every wire format: the idle timeout in force,
the notice for skipped malformed events, and when a broken stream was garbage all along."""

from __future__ import annotations

from dspex_protocol import ChatParams, ErrorKind

from ..errors import DspexError
from ..providers.base import StreamAccumulator
from ..providers.settings import ProviderSettings


def stream_idle_s(params: ChatParams, settings: ProviderSettings) -> float | None:
    """`streamIdleTimeoutMs` in seconds: the request's, else the provider's, else none."""
    ms = params.stream_idle_timeout_ms
    if ms is None:
        ms = settings.stream_idle_timeout_ms
    return None if ms is None else ms / 1000


def malformed_notice(count: int) -> str:
    return (
        f"skipped {count} malformed stream event{'s' if count != 1 else ''} "
        "(not parseable); every other event was delivered"
    )


def garbage_stream(error: DspexError, acc: StreamAccumulator) -> DspexError | None:
    """A stream cut that brought nothing but malformed events is an invalid response (the
    provider sends garbage), not a network failure."""
    if not acc.malformed or acc.malformed < acc.chunks or not error.sent_after_answer:
        return None
    return DspexError(
        ErrorKind.INVALID_RESPONSE,
        f"the stream brought only malformed events ({acc.malformed}), then ended",
        provider=error.provider,
        model=error.model,
        details={"malformedEvents": acc.malformed},
    )
