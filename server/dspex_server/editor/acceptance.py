"""Acceptance stats of inline completions: offered, shown, accepted, per language and
provider. Items are remembered (bounded) between the answer and the editor's report."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from dspex_protocol import InlineCompletionCounts, InlineCompletionStatsResult

MAX_PENDING = 1000


@dataclass
class _Counts:
    offered: int = 0
    shown: int = 0
    accepted: int = 0
    cancelled: int = 0
    failed: int = 0

    def wire(self) -> InlineCompletionCounts:
        base = self.shown or self.offered
        rate = min(1.0, self.accepted / base) if base else None
        return InlineCompletionCounts(
            offered=self.offered,
            shown=self.shown,
            accepted=self.accepted,
            cancelled=self.cancelled,
            failed=self.failed,
            accept_rate=rate,
        )


@dataclass
class _Item:
    language: str
    provider: str
    shown: bool = False
    accepted: bool = False


@dataclass
class Acceptance:
    total: _Counts = field(default_factory=_Counts)
    languages: dict[str, _Counts] = field(default_factory=dict)
    providers: dict[str, _Counts] = field(default_factory=dict)
    latency_total_ms: float = 0.0
    latency_count: int = 0
    _items: OrderedDict[str, _Item] = field(default_factory=OrderedDict)

    def _all(self, language: str, provider: str | None) -> list[_Counts]:
        found = [self.total, self.languages.setdefault(language, _Counts())]
        if provider is not None:
            found.append(self.providers.setdefault(provider, _Counts()))
        return found

    def offered(self, item_id: str, language: str, provider: str, latency_ms: float) -> None:
        for counts in self._all(language, provider):
            counts.offered += 1
        self.latency_total_ms += latency_ms
        self.latency_count += 1
        self._items[item_id] = _Item(language, provider)
        while len(self._items) > MAX_PENDING:
            self._items.popitem(last=False)

    def cancelled(self, language: str) -> None:
        for counts in self._all(language, None):
            counts.cancelled += 1

    def failed(self, language: str, provider: str | None) -> None:
        for counts in self._all(language, provider):
            counts.failed += 1

    def shown(self, item_id: str) -> bool:
        item = self._items.get(item_id)
        if item is None or item.shown:
            return False
        item.shown = True
        for counts in self._all(item.language, item.provider):
            counts.shown += 1
        return True

    def accepted(self, item_id: str) -> bool:
        item = self._items.get(item_id)
        if item is None or item.accepted:
            return False
        item.accepted = True
        for counts in self._all(item.language, item.provider):
            counts.accepted += 1
        return True

    def result(self) -> InlineCompletionStatsResult:
        mean = self.latency_total_ms / self.latency_count if self.latency_count else None
        return InlineCompletionStatsResult(
            total=self.total.wire(),
            by_language={k: v.wire() for k, v in sorted(self.languages.items())},
            by_provider={k: v.wire() for k, v in sorted(self.providers.items())},
            mean_latency_ms=mean,
        )
