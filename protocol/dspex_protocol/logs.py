"""`dspex/logs/query`: the durable log of every exchange (see docs/store.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ._base import WireModel
from .chat import Usage


class LogsQueryParams(WireModel):
    provider: str | None = None
    model: str | None = None
    session_id: str | None = None
    correlation_id: str | None = None
    operation: str | None = Field(default=None, description="`chat` or `embed`.")
    since: datetime | None = Field(
        default=None, description="ISO 8601 time or Unix seconds; inclusive."
    )
    until: datetime | None = Field(default=None, description="Exclusive.")
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Full-text search (SQLite FTS5 query syntax) over prompts and answers.",
    )
    errors_only: bool = False
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    cursor: str | None = Field(
        default=None,
        max_length=40,
        description="`nextCursor` of the previous page (newest first); overrides offset.",
    )


class LogEntry(WireModel):
    id: int
    at: datetime
    operation: str
    correlation_id: str
    session_id: str | None = None
    provider: str | None = None
    model: str | None = None
    request: dict[str, Any]
    response: dict[str, Any] | None = None
    error_kind: str | None = None
    error_message: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    streamed: bool = False


class LogsQueryResult(WireModel):
    entries: list[LogEntry]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page; absent at the end."
    )
    enabled: bool = Field(
        default=True, description="False when the store or request logging is turned off."
    )
