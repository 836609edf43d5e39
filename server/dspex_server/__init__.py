"""dspex_server: the dspex daemon (JSON-RPC with LSP framing over stdio, on pygls)."""

__version__ = "0.1.0"
