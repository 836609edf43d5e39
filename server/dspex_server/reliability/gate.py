"""A shared rate-limit gate per (provider, model): after a 429, every caller waits on the
same gate instead of firing its own retry.

When a request gets a 429, the gate closes until the provider's `Retry-After` (or, without
one, the retry policy's backoff) has passed. Callers that arrive meanwhile wait. When the
gate opens again, ONE caller goes first as a probe; the others wait for its outcome: a
success clears the gate (everyone sends), another 429 closes it again, and every waiting
caller counts that 429 as one of its own failed attempts. A caller whose attempts are spent,
or whose deadline would pass before the gate opens, fails at once with `rate_limited`
without sending anything (or fails over, where the request has fallbacks).

So N callers on a provider that answers 429 forever send N requests (the first wave, sent
before any 429 came back) plus one probe per retry round: 10 callers with 3 attempts send
12, where each retrying on its own sent 30.

Optional client-side limits keep a model under the provider's quota before it has to say
429: `providers.<name>.rateLimit.rpm` (requests in a sliding minute, counted when sent) and
`.tpm` (tokens in a sliding minute, counted from the usage of each answer: a caller waits
while the last minute's answers already used `tpm` tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from dspex_protocol import ErrorKind

from ..errors import DspexError

WINDOW_S = 60.0


class RateGate:
    def __init__(self, provider: str, model: str, clock: Callable[[], float] = time.monotonic):
        self.provider = provider
        self.model = model
        self._clock = clock
        self.open_at = 0.0  # nobody sends before this (monotonic seconds)
        self.clear = True  # False after a 429 until a request gets through
        self.probing = False  # a probe is on the wire
        self.round = 0  # 429s that closed the gate (stale ones of the same wave excluded)
        self.limited_total = 0
        self.waited = 0  # callers that waited on the gate
        self._sent: deque[float] = deque()  # send times within the last minute (rpm)
        self._tokens: deque[tuple[float, int]] = deque()  # (time, tokens) of answers (tpm)
        self._changed = asyncio.Event()

    # -- reading ----------------------------------------------------------------------

    def closed_for_s(self) -> float:
        return max(0.0, self.open_at - self._clock())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- the call protocol --------------------------------------------------------------

    async def admit(
        self,
        counted: int,
        attempts: int,
        deadline: float | None,
        rpm: int | None = None,
        max_wait_s: float | None = None,
        tpm: int | None = None,
    ) -> tuple[bool, int, int]:
        """Wait until this caller may send. `counted` is the caller's attempts so far,
        `attempts` its policy's total. Returns (probe, round, extra): whether the call is
        the gate's probe, the round it is sent in (pass it back to `limited`) and how many
        other callers' 429s it waited through (each one counts as a failed attempt).
        Raises `rate_limited` when the attempts are spent, the deadline comes first or the
        gate stays closed longer than `max_wait_s` (the policy's `maxRetryAfterMs`)."""
        extra = 0
        seen = self.round
        waited = False
        while True:
            if self.round > seen:
                extra += self.round - seen
                seen = self.round
                if counted + extra >= attempts:
                    raise self._refusal("the retries of this request are spent", extra)
            now = self._clock()
            wait = self.open_at - now
            if wait <= 0 and rpm is not None:
                wait = self._rpm_wait(rpm, now)
            if wait <= 0 and tpm is not None:
                wait = self._tpm_wait(tpm, now)
            if wait <= 0 and not self.probing:
                if not self.clear:
                    self.probing = True
                if rpm is not None:
                    self._sent.append(now)
                return not self.clear, self.round, extra
            if deadline is not None and now + max(wait, 0.0) >= deadline:
                raise self._refusal("the request's deadline comes before the gate opens", extra)
            if max_wait_s is not None and wait > max_wait_s:
                raise self._refusal("the gate stays closed longer than maxRetryAfterMs", extra)
            if not waited:
                waited = True
                self.waited += 1
            changed = self._changed
            timeout = wait if wait > 0 else None
            if deadline is not None:
                left = deadline - now
                timeout = left if timeout is None else min(timeout, left)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)

    def _rpm_wait(self, rpm: int, now: float) -> float:
        while self._sent and self._sent[0] <= now - WINDOW_S:
            self._sent.popleft()
        if len(self._sent) < rpm:
            return 0.0
        return self._sent[0] + WINDOW_S - now

    def _tpm_wait(self, tpm: int, now: float) -> float:
        while self._tokens and self._tokens[0][0] <= now - WINDOW_S:
            self._tokens.popleft()
        used = sum(n for _, n in self._tokens)
        for at, n in self._tokens:  # the wait until enough of the minute's tokens expire
            if used < tpm:
                break
            used -= n
            if used < tpm:
                return at + WINDOW_S - now
        return 0.0

    def spent(self, tokens: int) -> None:
        """An answer used `tokens` (for the tpm limit)."""
        if tokens > 0:
            self._tokens.append((self._clock(), tokens))

    def limited(self, sent_round: int, probe: bool, wait_ms: float) -> None:
        """A request sent in `sent_round` got a 429: close the gate for `wait_ms`. A 429 of
        a request sent before the gate last closed (the same wave) only extends the wait."""
        self.limited_total += 1
        if probe:
            self.probing = False
        if sent_round == self.round:
            self.round += 1
        self.clear = False
        self.open_at = max(self.open_at, self._clock() + wait_ms / 1000)
        self._notify()

    def passed(self, probe: bool) -> None:
        """A request got an answer that was not a 429: the gate is clear."""
        if probe or not self.clear:
            self.probing = False
            self.clear = True
            self._notify()

    def abandon(self, probe: bool) -> None:
        """A probe ended without telling (cancelled, another error): let the next one go."""
        if probe:
            self.probing = False
            self._notify()

    def _refusal(self, why: str, extra: int) -> DspexError:
        left = self.closed_for_s()
        return DspexError(
            ErrorKind.RATE_LIMITED,
            f"{self.provider!r} model {self.model!r} is rate limited: {why} "
            "(requests wait on the shared rate-limit gate)",
            provider=self.provider,
            model=self.model,
            retryable=True,
            retry_after_ms=int(left * 1000) if left > 0 else None,
            details={"gated": True, "sharedLimited": extra},
        )


class GateRegistry:
    """One gate per (provider, model), made on first use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._gates: dict[tuple[str, str], RateGate] = {}

    def get(self, provider: str, model: str) -> RateGate:
        key = (provider, model)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = RateGate(provider, model, self._clock)
        return gate

    def peek(self, provider: str, model: str) -> RateGate | None:
        return self._gates.get((provider, model))
