"""The durable store: an embedded SQLite database for logs, sessions, keys' companions and
embedding collections (see docs/store.md)."""

from .service import Store

__all__ = ["Store"]
