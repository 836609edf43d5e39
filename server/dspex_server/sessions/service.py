"""`dspex/session/*`: sessions on top of the chat pipeline.

A turn (`session/chat`) holds its session's lock from building the request to appending the
answer, so turns of one session never interleave. A turn that fails (error, cancellation, an
interrupted stream) appends nothing; its cost, if any, is still counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from dspex_protocol import (
    ChatParams,
    ErrorKind,
    Message,
    SessionChatParams,
    SessionChatResult,
    SessionData,
    SessionEndParams,
    SessionEndResult,
    SessionExport,
    SessionExportParams,
    SessionHistoryParams,
    SessionHistoryResult,
    SessionImportParams,
    SessionImportResult,
    SessionInfo,
    SessionListResult,
    SessionMessage,
    SessionOptions,
    SessionStartParams,
    SessionStartResult,
    Usage,
)

from ..config import ConfigStore
from ..cost import CostLedger, add_to_total
from ..errors import DspexError
from ..partials import ChunkSink
from ..pipeline import Pipeline
from ..store.sessions import SessionRow
from .persist import evicted_path, read_text, scrub, write_atomic
from .settings import SessionSettings
from .store import Session, SessionExists, SessionStore, UnknownSession, now, trim_history

log = logging.getLogger(__name__)

_OPTION_FIELDS = tuple(SessionOptions.model_fields)


class SessionService:
    def __init__(
        self,
        config: ConfigStore,
        pipeline: Pipeline,
        ledger: CostLedger,
        secrets: Callable[[], Iterable[str]],
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.ledger = ledger
        self.secrets = secrets
        self.store = SessionStore()
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._save_lock = asyncio.Lock()
        self._generation = 0
        self._saved_generation = 0
        # The durable store (set by Services): sessions are saved there after every change
        # and loaded from it on the first session request; None: the autosave file only.
        self.persistence: SessionPersistence | None = None
        self._persisted: dict[str, tuple[object, ...]] = {}  # id → marker last written
        self._evicted_ids: set[str] = set()

    @property
    def settings(self) -> SessionSettings:
        return self.config.settings.sessions

    def budget(self, session_id: str) -> tuple[float, float | None] | None:
        """(spent, cap) of a live session, for the accounting's budget check."""
        if session_id not in self.store:
            return None
        data = self.store.get(session_id).data
        cap = data.budget_usd
        if cap is None:
            cap = self.config.settings.budgets.session_usd
        return data.cost.total, cap

    # -- autosave ---------------------------------------------------------------------

    def _autosave_path(self) -> Path | None:
        path = self.settings.autosave_path
        return Path(path).expanduser() if path else None

    async def ensure_loaded(self) -> None:
        """Read the autosave file once, on the first session request (off start-up)."""
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            path = self._autosave_path()
            text = await asyncio.to_thread(read_text, path) if path else None
            if text:
                try:
                    saved = SessionExport.model_validate_json(text)
                except ValueError:
                    log.error("the session autosave file is not a valid export; ignored")
                else:
                    newest = sorted(saved.sessions, key=lambda s: s.last_active_at)
                    for data in newest[-self.settings.max_sessions :]:
                        self.store.add(data)
            await self._load_persisted()
            self._loaded = True

    async def _load_persisted(self) -> None:
        if self.persistence is None:
            return
        try:
            texts = await self.persistence.load_sessions(self.settings.max_sessions)
        except Exception as exc:  # a broken store must not break sessions
            log.error("sessions not loaded from the store: %s", type(exc).__name__)
            return
        for text in texts:
            try:
                data = SessionData.model_validate_json(text)
            except ValueError:
                log.error("a stored session is not valid; skipped")
                continue
            # Known as stored even when the autosave file had it first: ending it deletes it.
            self._persisted[data.session_id] = _marker(data)
            if data.session_id not in self.store and len(self.store) < self.settings.max_sessions:
                self.store.add(data)

    async def _persist(self) -> None:
        """Write the sessions changed since the last write (and forget removed ones) to the
        store; returns after the commit, so an answered turn survives a crash."""
        if self.persistence is None:
            return
        changed = [s for s in self.store if self._persisted.get(s.id) != _marker(s.data)]
        removed = [i for i in self._persisted if i not in self.store]
        if not changed and not removed:
            return
        secrets = list(self.secrets())
        rows = [
            SessionRow(
                s.id,
                s.data.last_active_at.timestamp(),
                json.dumps(scrub(s.data.to_wire(), secrets), ensure_ascii=False),
            )
            for s in changed
        ]
        markers = {s.id: _marker(s.data) for s in changed}
        evicted = [i for i in removed if i in self._evicted_ids]
        ended = [i for i in removed if i not in self._evicted_ids]
        try:
            await self.persistence.save_sessions(rows, ended, evicted)
        except Exception as exc:
            log.error("sessions not saved to the store: %s", type(exc).__name__)
            return
        self._persisted.update(markers)
        for i in removed:
            self._persisted.pop(i, None)
            self._evicted_ids.discard(i)

    async def save(self) -> None:
        """Save to the store (changed sessions) and the autosave file (every session)."""
        await self._persist()
        await self._save_file()

    async def _save_file(self) -> None:
        """Write every session to the autosave file, coalescing concurrent saves."""
        path = self._autosave_path()
        if path is None:
            return
        self._generation += 1
        wanted = self._generation
        async with self._save_lock:
            if self._saved_generation >= wanted:
                return  # a later snapshot was already written
            generation = self._generation
            text = self._export_json(self.store.export(self.store))
            await asyncio.to_thread(write_atomic, path, text)
            self._saved_generation = generation

    def _export_json(self, export: SessionExport) -> str:
        return json.dumps(self._scrubbed(export), ensure_ascii=False)

    def _scrubbed(self, export: SessionExport) -> dict[str, object]:
        clean: dict[str, object] = scrub(export.to_wire(), self.secrets())
        return clean

    async def _evicted(self, victim: Session | None) -> str | None:
        if victim is None:
            return None
        self.ledger.forget_session(victim.id)
        self._evicted_ids.add(victim.id)
        path = self._autosave_path()
        if path is not None:
            text = self._export_json(self.store.export([victim]))
            await asyncio.to_thread(write_atomic, evicted_path(path, victim.id), text)
        log.info("session evicted at maxSessions")
        return victim.id

    # -- methods ----------------------------------------------------------------------

    async def start(self, params: SessionStartParams) -> SessionStartResult:
        await self.ensure_loaded()
        # A route or fallbacks: the session keeps the chain's first target as its own and
        # the rest as its `fallbacks` option (every turn fails over along it).
        probe, fallbacks = self.pipeline.failover.fallbacks_for(
            ChatParams(
                messages=[Message(role="user", content="")],
                provider=params.provider,
                model=params.model,
                fallbacks=params.fallbacks,
            )
        )
        provider, model, notices = self.pipeline.resolve(probe)
        session_id = params.session_id or self.store.new_id()
        if session_id in self.store:
            raise SessionExists(session_id, ["sessionId"])
        victim = self.store.make_room(self.settings.max_sessions, self.settings.when_full)
        evicted = await self._evicted(victim)
        if evicted:
            notices.append(f"session {evicted} (least recently used, idle) was evicted")
        created = now()
        options = SessionOptions.model_validate({f: getattr(params, f) for f in _OPTION_FIELDS})
        options.fallbacks = fallbacks or None
        self.store.add(
            SessionData(
                session_id=session_id,
                provider=provider,
                model=model,
                title=params.title,
                system=params.system,
                options=options,
                budget_usd=params.budget_usd,
                created_at=created,
                last_active_at=created,
            )
        )
        await self.save()
        return SessionStartResult(
            session_id=session_id,
            provider=provider,
            model=model,
            created_at=created,
            notices=notices or None,
            evicted_session_id=evicted,
        )

    async def chat(
        self, params: SessionChatParams, on_chunk: ChunkSink | None = None
    ) -> SessionChatResult:
        await self.ensure_loaded()
        session = self.store.get(params.session_id)
        session.waiting += 1
        try:
            async with session.lock:
                return await self._turn(session, params, on_chunk)
        finally:
            session.waiting -= 1

    def _request(
        self, session: Session, new: list[Message], params: SessionChatParams
    ) -> ChatParams:
        data = session.data
        options = data.options.model_dump()
        for name in _OPTION_FIELDS:
            value = getattr(params, name, None)
            if value is not None:
                options[name] = value
        system = [Message(role="system", content=data.system)] if data.system else []
        history = [m.as_message() for m in data.messages]
        return ChatParams.model_validate(
            {
                **options,
                "messages": [*system, *history, *new],
                "provider": data.provider,
                "model": data.model,
                "session_id": data.session_id,
                "correlation_id": params.correlation_id,
            }
        )

    async def _turn(
        self, session: Session, params: SessionChatParams, on_chunk: ChunkSink | None
    ) -> SessionChatResult:
        data = session.data
        new = list(params.messages or [])
        if params.content is not None:
            new.append(Message(role="user", content=params.content))
        _check_tool_results(data.messages, new)
        asked_at = now()
        request = self._request(session, new, params)
        try:
            result = await self.pipeline.chat(request, on_chunk)
        except DspexError:
            data.stats.failed_requests += 1
            self.store.touch(session)
            raise
        _add_usage(data.usage, result.usage)
        add_to_total(data.cost, result.usage, result.cost)
        data.stats.requests += 1
        notices = list(result.notices or [])
        if result.error is not None:
            data.stats.failed_requests += 1
            notices.append("the answer was interrupted; the turn was not added to the session")
        else:
            if result.truncation is not None:
                data.stats.truncated_requests += 1
            answer = result.choices[0]
            data.messages += [
                SessionMessage.model_validate({**m.model_dump(), "at": asked_at}) for m in new
            ]
            said = answer.message
            empty = said.content is None and not said.tool_calls and not said.parts
            data.messages.append(
                SessionMessage(
                    role="assistant",
                    content="" if empty else said.content,
                    tool_calls=said.tool_calls,
                    parts=list(said.parts) if said.parts else None,
                    reasoning=said.reasoning,
                    at=now(),
                    model=result.model,
                    finish_reason=answer.finish_reason,
                    usage=result.usage,
                    cost=result.cost,
                )
            )
            dropped = trim_history(data.messages, self.settings.max_history)
            if dropped:
                data.stats.dropped_messages += dropped
                notices.append(
                    f"history is at maxHistory={self.settings.max_history}: the {dropped} "
                    "oldest message(s) were dropped from the session"
                )
        self.store.touch(session)
        await self.save()
        return SessionChatResult.model_validate(
            {
                **result.model_dump(exclude={"notices"}),
                "notices": notices or None,
                "session_id": data.session_id,
            }
        )

    async def history(self, params: SessionHistoryParams) -> SessionHistoryResult:
        await self.ensure_loaded()
        messages = self.store.get(params.session_id).data.messages
        shown = messages[-params.limit :] if params.limit else messages
        return SessionHistoryResult(
            session_id=params.session_id, messages=list(shown), total=len(messages)
        )

    async def list_sessions(self) -> SessionListResult:
        await self.ensure_loaded()
        infos = [
            SessionInfo(
                session_id=s.id,
                provider=s.data.provider,
                model=s.data.model,
                title=s.data.title,
                system=s.data.system,
                created_at=s.data.created_at,
                last_active_at=s.data.last_active_at,
                message_count=len(s.data.messages),
                usage=s.data.usage,
                cost=s.data.cost,
                stats=s.data.stats,
                budget_usd=s.data.budget_usd,
                busy=s.busy,
            )
            for s in self.store
        ]
        return SessionListResult(
            sessions=infos,
            max_sessions=self.settings.max_sessions,
            max_history=self.settings.max_history,
        )

    async def end(self, params: SessionEndParams) -> SessionEndResult:
        await self.ensure_loaded()
        session = self.store.get(params.session_id)
        async with session.lock:  # let a turn in progress finish first
            exported = self.export_of([session]) if params.export else None
            self.store.remove(params.session_id)
        self.ledger.forget_session(params.session_id)
        await self.save()
        return SessionEndResult(session_id=params.session_id, export=exported)

    def export_of(self, sessions: list[Session]) -> SessionExport:
        return SessionExport.model_validate(self._scrubbed(self.store.export(sessions)))

    async def export(self, params: SessionExportParams) -> SessionExport:
        await self.ensure_loaded()
        if params.session_id is not None:
            return self.export_of([self.store.get(params.session_id)])
        return self.export_of(list(self.store))

    async def import_(self, params: SessionImportParams) -> SessionImportResult:
        await self.ensure_loaded()
        ids: list[str] = []
        notices: list[str] = []
        incoming = params.data.sessions
        seen: set[str] = set()
        for i, data in enumerate(incoming):
            taken = data.session_id in self.store and params.on_conflict == "error"
            if data.session_id in seen or taken:
                raise SessionExists(data.session_id, ["data", "sessions", i, "sessionId"])
            seen.add(data.session_id)
            self.pipeline.registry.spec(data.provider)  # unknown provider → unsupported
        for original in incoming:
            data = original.model_copy(deep=True)
            if data.session_id in self.store:
                if params.on_conflict == "replace":
                    self.store.remove(data.session_id)
                else:
                    data.session_id = self.store.new_id()
            victim = self.store.make_room(self.settings.max_sessions, self.settings.when_full)
            evicted = await self._evicted(victim)
            if evicted:
                notices.append(f"session {evicted} (least recently used, idle) was evicted")
            dropped = trim_history(data.messages, self.settings.max_history)
            if dropped:
                data.stats.dropped_messages += dropped
                notices.append(f"{data.session_id}: {dropped} oldest message(s) over maxHistory")
            self.store.add(data)
            ids.append(data.session_id)
        await self.save()
        return SessionImportResult(session_ids=ids, notices=notices or None)

    async def aclose(self) -> None:
        if self._loaded:
            await self.save()


class SessionPersistence(Protocol):
    """Where sessions are kept between daemons (the durable store)."""

    async def load_sessions(self, limit: int) -> list[str]: ...

    async def save_sessions(
        self, rows: list[SessionRow], ended: list[str], evicted: list[str]
    ) -> None: ...


def _marker(data: SessionData) -> tuple[object, ...]:
    """Changes whenever a session does (a turn, a failed request, a new session)."""
    return (
        data.last_active_at,
        len(data.messages),
        data.stats.requests,
        data.stats.failed_requests,
    )


def _add_usage(total: Usage, usage: Usage) -> None:
    total.prompt_tokens += usage.prompt_tokens
    total.completion_tokens += usage.completion_tokens
    total.total_tokens += usage.total_tokens
    if usage.cached_tokens:
        total.cached_tokens = (total.cached_tokens or 0) + usage.cached_tokens
    if usage.reasoning_tokens:
        total.reasoning_tokens = (total.reasoning_tokens or 0) + usage.reasoning_tokens


def _check_tool_results(history: list[SessionMessage], new: list[Message]) -> None:
    """A tool result must answer a call of the previous answer, and an answer that asked
    for tools must get all its results before the conversation goes on."""
    last = history[-1] if history else None
    pending = (
        {c.id for c in (last.tool_calls or [])} if last and last.role == "assistant" else set()
    )
    answered: set[str] = set()
    leading = 0
    for i, message in enumerate(new):
        if message.role != "tool":
            break
        if message.tool_call_id not in pending:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"messages[{i}]: toolCallId {message.tool_call_id!r} answers no tool call "
                "of the session's last answer",
            )
        answered.add(message.tool_call_id)
        leading += 1
    if any(m.role == "tool" for m in new[leading:]):
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            "tool results must come first, right after the answer that asked for them",
        )
    missing = sorted(pending - answered)
    if missing:
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            "the session's last answer asked for tool calls with no result yet: "
            + ", ".join(missing),
            details={"missingToolCallIds": missing},
        )


__all__ = ["SessionService", "UnknownSession"]
