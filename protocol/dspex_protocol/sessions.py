"""`dspex/session/*`: conversation sessions held by the daemon."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from ._base import WireModel
from .chat import (
    ChatResult,
    FailoverCause,
    FallbackTarget,
    FinishReason,
    Message,
    ResponseFormat,
    ToolChoice,
    ToolDefinition,
    Usage,
)
from .content import ContentPart
from .cost import Cost, CostTotal

SESSION_EXPORT_VERSION = 1
ContextStrategy = Literal["truncate", "none"]


class SessionOptions(WireModel):
    """Request options a session applies to every turn (a turn may override them)."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    timeout_ms: int | None = Field(default=None, gt=0)
    context_strategy: ContextStrategy | None = None
    fallbacks: list[FallbackTarget] | None = Field(
        default=None, max_length=8, description="Fail-over targets of every turn."
    )
    failover_on: list[FailoverCause] | None = None


class SessionMessage(Message):
    """A message of a session's history, with when it was added; answers carry what they
    cost and the model that gave them."""

    at: datetime
    model: str | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    cost: Cost | None = None

    def as_message(self) -> Message:
        return Message(
            role=self.role,
            content=self.content,
            name=self.name,
            tool_calls=self.tool_calls,
            tool_call_id=self.tool_call_id,
            parts=self.parts,
            cache_control=self.cache_control,
        )


class SessionStats(WireModel):
    requests: int = 0
    failed_requests: int = 0
    dropped_messages: int = Field(
        default=0, description="Oldest messages removed from history at maxHistory."
    )
    truncated_requests: int = Field(
        default=0, description="Requests whose prompt was truncated to fit the context window."
    )


class SessionStartParams(SessionOptions):
    provider: str | None = None
    model: str | None = None
    system: str | None = Field(default=None, description="The system prompt of every turn.")
    session_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="Choose the id; by default the daemon makes one.",
    )
    title: str | None = Field(default=None, max_length=500)
    budget_usd: float | None = Field(
        default=None, ge=0.0, description="This session's cost cap (default: budgets.sessionUsd)."
    )


class SessionStartResult(WireModel):
    session_id: str
    provider: str
    model: str
    created_at: datetime
    notices: list[str] | None = None
    evicted_session_id: str | None = Field(
        default=None, description="The idle session removed to make room (maxSessions)."
    )


class SessionChatParams(WireModel):
    session_id: str
    content: str | list[ContentPart] | None = Field(
        default=None, description="The user's turn (text or content parts)."
    )
    messages: list[Message] | None = Field(
        default=None,
        description="Messages to append before the request, e.g. `tool` results answering the "
        "previous answer's toolCalls. Given with `content`, they come first.",
    )
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    timeout_ms: int | None = Field(default=None, gt=0)
    context_strategy: ContextStrategy | None = None
    correlation_id: str | None = Field(default=None, max_length=200)
    partial_result_token: int | str | None = None
    work_done_token: int | str | None = None

    @model_validator(mode="after")
    def _something_to_say(self) -> SessionChatParams:
        if self.content is None and not self.messages:
            raise ValueError("session/chat needs content or messages")
        for message in self.messages or ():
            if message.role == "system":
                raise ValueError("a session's system prompt is set at session/start")
        return self


class SessionChatResult(ChatResult):
    session_id: str


class SessionHistoryParams(WireModel):
    session_id: str
    limit: int | None = Field(default=None, gt=0, description="Only the newest `limit` messages.")


class SessionHistoryResult(WireModel):
    session_id: str
    messages: list[SessionMessage]
    total: int = Field(description="Messages in the history (before `limit`).")


class SessionInfo(WireModel):
    session_id: str
    provider: str
    model: str
    title: str | None = None
    system: str | None = None
    created_at: datetime
    last_active_at: datetime
    message_count: int
    usage: Usage
    cost: CostTotal
    stats: SessionStats
    budget_usd: float | None = None
    busy: bool = Field(default=False, description="A session/chat is in progress.")


class SessionListParams(WireModel):
    pass


class SessionListResult(WireModel):
    sessions: list[SessionInfo]
    max_sessions: int
    max_history: int


class SessionData(WireModel):
    """One session as exported: everything but secrets."""

    session_id: str
    provider: str
    model: str
    title: str | None = None
    system: str | None = None
    options: SessionOptions = Field(default_factory=SessionOptions)
    messages: list[SessionMessage] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    cost: CostTotal = Field(default_factory=CostTotal)
    stats: SessionStats = Field(default_factory=SessionStats)
    budget_usd: float | None = None
    created_at: datetime
    last_active_at: datetime


class SessionExport(WireModel):
    version: Literal[1] = 1
    exported_at: datetime
    sessions: list[SessionData]


class SessionEndParams(WireModel):
    session_id: str
    export: bool = Field(default=False, description="Return the session's export as it ends.")


class SessionEndResult(WireModel):
    session_id: str
    ended: bool = True
    export: SessionExport | None = None


class SessionExportParams(WireModel):
    session_id: str | None = Field(default=None, description="One session; all when omitted.")


class SessionImportParams(WireModel):
    data: SessionExport
    on_conflict: Literal["error", "replace", "new_id"] = Field(
        default="error", description="When an imported id is already in use."
    )


class SessionImportResult(WireModel):
    session_ids: list[str] = Field(description="The ids the imported sessions now have.")
    notices: list[str] | None = None
