"""Exchange rows: built and scrubbed on the writer thread, queried on a worker thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dspex_protocol import LogEntry, LogsQueryParams, LogsQueryResult, Usage

from ..telemetry import Exchange

SCRUBBED = "<redacted>"
_INLINE_BYTES = 256  # base64 image data longer than this is logged by size only


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, SCRUBBED)
    return text


def _dumps(value: Any, secrets: Sequence[str]) -> str:
    return scrub(json.dumps(value, ensure_ascii=False, separators=(",", ":")), secrets)


def _shrink_images(request: dict[str, Any]) -> dict[str, Any]:
    for message in request.get("messages") or []:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            data = part.get("data") if isinstance(part, dict) else None
            if isinstance(data, str) and len(data) > _INLINE_BYTES:
                part["data"] = f"<{len(data)} base64 characters, not logged>"
    return request


_TRANSPORT_FIELDS = {"partial_result_token", "work_done_token"}


def _request(exchange: Exchange, secrets: Sequence[str]) -> tuple[str, str]:
    """The logged request as JSON (the params less transport tokens, long images shortened)
    and its searchable text."""
    params = exchange.params
    if exchange.operation == "chat":
        texts = [m.text() for m in params.messages]
        has_parts = any(isinstance(m.content, list) for m in params.messages)
    else:
        texts = list(params.inputs)
        has_parts = False
    prompt = "\n".join(t for t in texts if t)
    if has_parts:  # images may need shortening: go through the dict
        wire: dict[str, Any] = params.to_wire()
        for key in ("partialResultToken", "workDoneToken"):
            wire.pop(key, None)
        return _dumps(_shrink_images(wire), secrets), prompt
    # The common case in one step (pydantic's serializer writes the JSON text directly).
    text = params.model_dump_json(by_alias=True, exclude_none=True, exclude=_TRANSPORT_FIELDS)
    return scrub(text, secrets), prompt


def _response(exchange: Exchange) -> tuple[dict[str, Any] | None, str]:
    result = exchange.result
    if result is None:
        return None, ""
    if exchange.operation == "embed":
        return {"dimensions": result.dimensions, "count": len(result.embeddings)}, ""
    choice = result.choices[0]
    response: dict[str, Any] = {
        "message": choice.message.to_wire(),
        "finishReason": choice.finish_reason,
    }
    if result.notices:
        response["notices"] = result.notices
    if result.error:
        response["error"] = result.error
    return response, choice.message.content or ""


Row = tuple[Any, ...]


def exchange_row(exchange: Exchange, secrets: Sequence[str]) -> Row:
    """The values of an exchange's log row, scrubbed: the `exchanges` columns in order,
    then the prompt and answer texts for the FTS index. JSON-safe (the journal holds it)."""
    request, prompt = _request(exchange, secrets)
    response, answer = _response(exchange)
    usage = getattr(exchange.result, "usage", None)
    cost = getattr(exchange.result, "cost", None)
    cost_usd = cost if isinstance(cost, int | float) else getattr(cost, "total", None)
    error_kind = exchange.error_kind
    if error_kind is None and response is not None and response.get("error"):
        error_kind_text: str | None = str(response["error"].get("kind"))
    else:
        error_kind_text = error_kind.value if error_kind is not None else None
    return (
        exchange.started_at,
        exchange.operation,
        exchange.correlation_id,
        getattr(exchange.params, "session_id", None),
        exchange.provider or getattr(exchange.params, "provider", None),
        exchange.model or getattr(exchange.params, "model", None),
        request,
        None if response is None else _dumps(response, secrets),
        error_kind_text,
        None if exchange.error_message is None else scrub(exchange.error_message, secrets),
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        getattr(usage, "total_tokens", None),
        cost_usd,
        round(exchange.latency_ms, 3),
        int(getattr(exchange.params, "partial_result_token", None) is not None),
        scrub(prompt, secrets),
        scrub(answer, secrets),
    )


_INSERT = (
    "INSERT INTO exchanges (id, at, operation, correlation_id, session_id, provider, model,"
    " request, response, error_kind, error_message, prompt_tokens, completion_tokens,"
    " total_tokens, cost_usd, latency_ms, streamed)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FTS = "INSERT INTO exchanges_fts (rowid, prompt, answer) VALUES (?, ?, ?)"


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert rows in two `executemany` calls. Runs in the writer's transaction (it holds
    the write lock), so the ids after the current largest are free: given explicitly, the
    FTS rows get them without a lookup per row."""
    if not rows:
        return
    (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM exchanges").fetchone()
    ids = range(int(last) + 1, int(last) + 1 + len(rows))
    conn.executemany(_INSERT, [(i, *row[:16]) for i, row in zip(ids, rows, strict=True)])
    conn.executemany(_INSERT_FTS, [(i, row[16], row[17]) for i, row in zip(ids, rows, strict=True)])


_COLUMNS = (
    "e.id, e.at, e.operation, e.correlation_id, e.session_id, e.provider, e.model, e.request,"
    " e.response, e.error_kind, e.error_message, e.prompt_tokens, e.completion_tokens,"
    " e.total_tokens, e.cost_usd, e.latency_ms, e.streamed"
)


def _where(params: LogsQueryParams) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("e.provider", params.provider),
        ("e.model", params.model),
        ("e.session_id", params.session_id),
        ("e.correlation_id", params.correlation_id),
        ("e.operation", params.operation),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if params.since is not None:
        clauses.append("e.at >= ?")
        args.append(params.since.timestamp())
    if params.until is not None:
        clauses.append("e.at < ?")
        args.append(params.until.timestamp())
    if params.errors_only:
        clauses.append("e.error_kind IS NOT NULL")
    if params.q is not None:
        clauses.append("e.id IN (SELECT rowid FROM exchanges_fts WHERE exchanges_fts MATCH ?)")
        args.append(params.q)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def query_logs(conn: sqlite3.Connection, params: LogsQueryParams, enabled: bool) -> LogsQueryResult:
    where, args = _where(params)
    if params.cursor is not None:
        try:
            before = int(params.cursor)
        except ValueError:
            raise ValueError("cursor: not a cursor from a previous page") from None
        where += (" AND " if where else " WHERE ") + "e.id < ?"
        args.append(before)
        offset = 0
    else:
        offset = params.offset
    sql = f"SELECT {_COLUMNS} FROM exchanges e{where} ORDER BY e.id DESC LIMIT ? OFFSET ?"
    try:
        rows = conn.execute(sql, [*args, params.limit + 1, offset]).fetchall()
    except sqlite3.OperationalError as exc:
        if params.q is not None and "locked" not in str(exc):
            raise ValueError(f"q: not a valid full-text query ({exc})") from None
        raise
    more = len(rows) > params.limit
    entries = [_entry(row) for row in rows[: params.limit]]
    return LogsQueryResult(
        entries=entries,
        next_cursor=str(entries[-1].id) if more and entries else None,
        enabled=enabled,
    )


def _entry(row: tuple[Any, ...]) -> LogEntry:
    id_, at, operation, correlation_id, session_id, provider, model = row[:7]
    request, response, error_kind, error_message = row[7:11]
    prompt, completion, total, cost, latency, streamed = row[11:]
    usage = (
        Usage(prompt_tokens=prompt or 0, completion_tokens=completion or 0, total_tokens=total or 0)
        if total is not None
        else None
    )
    return LogEntry(
        id=id_,
        at=datetime.fromtimestamp(at, UTC),
        operation=operation,
        correlation_id=correlation_id,
        session_id=session_id,
        provider=provider,
        model=model,
        request=json.loads(request),
        response=None if response is None else json.loads(response),
        error_kind=error_kind,
        error_message=error_message,
        usage=usage,
        cost_usd=cost,
        latency_ms=latency,
        streamed=bool(streamed),
    )
