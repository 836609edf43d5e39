"""Config blocks of sessions, context windows, budgets and the catalog.

`sessions.*`, `context.*`, `budgets.*` and `catalog.*` in the TOML file or editor settings.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..providers.settings import SettingsModel


class SessionSettings(SettingsModel):
    max_sessions: int = Field(default=100, gt=0, description="Live sessions at most.")
    max_history: int = Field(
        default=500,
        gt=1,
        description="Messages kept per session; beyond it the oldest non-system turns go.",
    )
    when_full: Literal["evict_idle", "refuse"] = Field(
        default="evict_idle",
        description="At maxSessions, session/start evicts the least recently used idle "
        "session (saved to the evicted/ folder beside the autosave file when autosave is on) "
        "or is refused with budget_exceeded.",
    )
    autosave_path: str | None = Field(
        default=None,
        description="A JSON file every session is written to (atomically) after each change "
        "and read back at start, so a restart loses nothing.",
    )


class ContextSettings(SettingsModel):
    strategy: Literal["truncate", "none"] = "truncate"
    default_output_budget: int = Field(
        default=4096,
        gt=0,
        description="Tokens kept free for the answer when a request has no maxTokens "
        "(capped by the model's max output and a quarter of its window).",
    )
    context_windows: dict[str, int] = Field(
        default_factory=dict,
        description="Override or add context windows: `provider/model` or `model` → tokens.",
    )


class BudgetSettings(SettingsModel):
    daemon_usd: float | None = Field(default=None, ge=0.0, description="Cap on all spending.")
    session_usd: float | None = Field(default=None, ge=0.0, description="Cap per session.")


class CatalogSettings(SettingsModel):
    live_ttl_s: float = Field(default=300.0, ge=0.0, description="Cache of live model lists.")
