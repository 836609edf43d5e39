"""dspex_client: talk to the dspex daemon from Python (async or sync) and the `dspex` CLI.

Depends on `dspex_protocol` (pydantic) and the standard library only.
"""

from .client import ChatStream, DspexClient
from .errors import (
    CancelledError,
    DaemonUnavailableError,
    DspexError,
    InvalidParamsError,
    MethodNotFoundError,
    StreamInterruptedError,
)
from .sync import SyncClient

__all__ = [
    "CancelledError",
    "ChatStream",
    "DaemonUnavailableError",
    "DspexClient",
    "DspexError",
    "InvalidParamsError",
    "MethodNotFoundError",
    "StreamInterruptedError",
    "SyncClient",
]
