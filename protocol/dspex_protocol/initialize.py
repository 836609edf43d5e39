"""What dspex adds to LSP's `initialize`: `capabilities.experimental.dspex`."""

from __future__ import annotations

from ._base import WireModel

PROTOCOL_VERSION = "1.0"


class DspexCapabilities(WireModel):
    protocol_version: str = PROTOCOL_VERSION
    server_version: str
    methods: list[str]
    providers: list[str]
