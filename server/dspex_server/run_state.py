"""What one request's attempts share (chat and embeddings alike)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DspexError
from .providers.base import StreamAccumulator
from .reliability.fallback import Tally


@dataclass
class RunState:
    """What one request's attempts share: whether the client has seen a streamed byte
    (then no retry), the deadline, counts for telemetry, and an interrupted stream's error."""

    deadline: float | None = None
    attempts: int = 0
    chunks: int = 0
    sent: bool = False
    resumed: bool = False
    acc: StreamAccumulator | None = None
    error: DspexError | None = None
    tally: Tally | None = None
    # The request carries an idempotency key the provider honours (may be re-sent after
    # the provider answered: reliability/retry.py `may_resend`).
    idempotent: bool = False
