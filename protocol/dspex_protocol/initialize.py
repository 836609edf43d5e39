"""What dspex adds to LSP's `initialize`: `capabilities.experimental.dspex`."""

from __future__ import annotations

from ._base import WireModel
from .names import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "DspexCapabilities"]


class DspexCapabilities(WireModel):
    protocol_version: str = PROTOCOL_VERSION
    server_version: str
    methods: list[str]
    providers: list[str]
