"""The live sessions: bounded in number and in history, one lock per session.

Bounds (config `sessions.*`):
- `maxSessions`: at the bound, `session/start` (and import) evicts the least recently used
  session that has no turn in progress (`whenFull = "evict_idle"`, the default; the evicted
  session is written to `evicted/<id>.json` beside the autosave file when autosave is on),
  or is refused with `budget_exceeded` (`details.limit = "maxSessions"`) when
  `whenFull = "refuse"` or every session is busy.
- `maxHistory`: after a turn, the oldest messages are dropped until the history fits; an
  assistant message with tool calls goes together with its tool results. The session's
  `stats.droppedMessages` counts them and the turn's result carries a notice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dspex_protocol import ErrorKind, SessionData, SessionExport, SessionMessage

from ..context import turn_units
from ..errors import DspexError


class UnknownSession(LookupError):
    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id


class SessionExists(ValueError):
    def __init__(self, session_id: str, loc: list[str | int]) -> None:
        super().__init__(session_id)
        self.session_id = session_id
        self.loc = loc


def now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass
class Session:
    data: SessionData
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0  # turns queued on or holding the lock

    @property
    def id(self) -> str:
        return self.data.session_id

    @property
    def busy(self) -> bool:
        return self.waiting > 0 or self.lock.locked()


def limit_error(message: str, max_sessions: int) -> DspexError:
    return DspexError(
        ErrorKind.BUDGET_EXCEEDED,
        message,
        details={"limit": "maxSessions", "maxSessions": max_sessions},
    )


class SessionStore:
    def __init__(self) -> None:
        # Least recently used first.
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Any:
        return iter(list(self._sessions.values()))

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(session_id)
        return session

    def touch(self, session: Session) -> None:
        session.data.last_active_at = now()
        if session.id in self._sessions:
            self._sessions.move_to_end(session.id)

    def new_id(self) -> str:
        while True:
            candidate = "s-" + uuid.uuid4().hex[:16]
            if candidate not in self._sessions:
                return candidate

    def make_room(self, max_sessions: int, when_full: str) -> Session | None:
        """Evict one session if the store is full; returns the evicted one (or None)."""
        if len(self._sessions) < max_sessions:
            return None
        if when_full == "refuse":
            raise limit_error(
                f"the daemon already holds maxSessions={max_sessions} sessions "
                "(end one with dspex/session/end, or set sessions.whenFull='evict_idle')",
                max_sessions,
            )
        victim = next((s for s in self._sessions.values() if not s.busy), None)
        if victim is None:
            raise limit_error(
                f"all maxSessions={max_sessions} sessions have a turn in progress",
                max_sessions,
            )
        del self._sessions[victim.id]
        return victim

    def add(self, data: SessionData) -> Session:
        session = Session(data)
        self._sessions[data.session_id] = session
        self._sessions.move_to_end(data.session_id)
        return session

    def remove(self, session_id: str) -> Session:
        session = self.get(session_id)
        del self._sessions[session_id]
        return session

    def export(self, sessions: Iterable[Session]) -> SessionExport:
        return SessionExport(
            exported_at=now(), sessions=[s.data.model_copy(deep=True) for s in sessions]
        )


def trim_history(messages: list[SessionMessage], max_history: int) -> int:
    """Drop the oldest turns until at most `max_history` messages remain; a tool call and
    its results go together, system messages stay. Returns how many were dropped."""
    if len(messages) <= max_history:
        return 0
    units = turn_units([m.as_message() for m in messages])
    drop: set[int] = set()
    remaining = len(messages)
    for unit in units[:-1]:  # the newest turn always stays
        if remaining <= max_history:
            break
        drop.update(unit)
        remaining -= len(unit)
    messages[:] = [m for i, m in enumerate(messages) if i not in drop]
    return len(drop)
