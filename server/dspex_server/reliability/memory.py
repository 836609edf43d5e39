"""Give memory back to the operating system when the daemon goes idle after a burst.

A burst of thousands of concurrent requests grows the heap to its peak. Once the burst is
over, most of that memory is free inside the process but not returned:

- CPython keeps free lists (tuples, floats, dicts, ...) whose blocks pin its 1 MiB object
  arenas; only a full collection (`gc.collect()`) clears them, and it also frees reference
  cycles left by the burst. Measured after floods of 10,000 requests: ~45 of ~115 arenas
  freed.
- glibc keeps freed memory in its heaps; `malloc_trim(0)` returns the free pages (also those
  in the middle of a heap) to the kernel. Measured: 3-5 MB after such a flood.

`MemoryReclaimer` listens to the request events (start/stop). When no request has been in
flight for `idle_ms` after at least `min_requests` requests, it runs one full collection and
`malloc_trim(0)`, at most once every `min_interval_s`. Never on the hot path: per event it
only counts; the work runs from a timer on the event loop while nothing is in flight (tens of
ms). `malloc_trim` exists in glibc only: elsewhere (musl, macOS, Windows) only the
collection runs. `DSPEX_MEMORY_RECLAIM=0` turns it off; a number sets `idle_ms`.

It hides no growth: live objects stay where they are; what is returned was free. Each
reclaim logs (INFO) the RSS before and after and the live heap (allocated blocks, glibc's
bytes in use), the figures the load test reads to catch a leak of a few bytes per request.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..telemetry import RequestEvent

log = logging.getLogger("dspex.memory")

# Young-generation threshold of the cyclic collector (CPython's default: 700 allocations).
GC_YOUNG_THRESHOLD = 10_000
GC_ENV = "DSPEX_GC_THRESHOLD"


def tune_gc(environ: Mapping[str, str]) -> None:
    """Collector settings for a request server, applied once the services are loaded:
    everything alive then (modules, the catalog, protocol models and their validators) is
    moved out of the collector's reach (`gc.freeze`), and young objects are collected
    every `GC_YOUNG_THRESHOLD` allocations instead of 700. A proxied chat allocates
    thousands of short-lived objects: with the defaults, collections ran several times per
    request and each older-generation pass walked every long-lived object (bench proxy
    c=256: ~25% of the daemon's CPU per request). Garbage cycles are still collected, just
    less often; reference counting frees everything else at once. `DSPEX_GC_THRESHOLD`
    sets the threshold (0: CPython's defaults, nothing frozen)."""
    raw = environ.get(GC_ENV, "").strip()
    try:
        threshold = int(raw) if raw else GC_YOUNG_THRESHOLD
    except ValueError:
        threshold = GC_YOUNG_THRESHOLD
    if threshold <= 0:
        return
    # The young generations only: a full collection of the freshly loaded heap takes
    # ~45 ms, on the first request's path (bench coldstart, spawn to first answer).
    gc.collect(1)
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)


IDLE_MS = 3000.0
MIN_INTERVAL_S = 10.0
MIN_REQUESTS = 500
ENV = "DSPEX_MEMORY_RECLAIM"


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


class Glibc:
    """glibc's `malloc_trim` and `mallinfo2` (2.33+) through ctypes."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._trim = lib.malloc_trim
        self._trim.argtypes = [ctypes.c_size_t]
        self._trim.restype = ctypes.c_int
        self._info = getattr(lib, "mallinfo2", None)
        if self._info is not None:
            self._info.argtypes = []
            self._info.restype = _MallInfo2

    def trim(self) -> bool:
        """Return free heap memory to the kernel; True when some was."""
        return bool(self._trim(0))

    def in_use(self) -> int | None:
        """Bytes allocated with malloc and not freed (every arena, mmapped chunks too)."""
        if self._info is None:
            return None
        info = self._info()
        return int(info.uordblks + info.hblkhd)


def load_glibc() -> Glibc | None:
    """glibc, or None where the C library is another (or not loadable)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(None)  # the symbols already loaded in this process
        getattr(lib, "gnu_get_libc_version")  # noqa: B009 - glibc only (musl lacks it)
        return Glibc(lib)
    except (OSError, AttributeError):
        return None


def rss_kb() -> int | None:
    """Resident set size of this process, from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as f:
            resident = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident * os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Reclaim:
    """What one reclaim did and what was live afterwards."""

    requests: int
    rss_before_kb: int | None
    rss_after_kb: int | None
    collected: int
    trimmed: bool
    blocks: int
    malloc_in_use: int | None
    duration_ms: float

    def describe(self) -> str:
        in_use = "?" if self.malloc_in_use is None else str(self.malloc_in_use // 1024)
        return (
            f"memory reclaimed after {self.requests} requests: "
            f"rss {self.rss_before_kb} -> {self.rss_after_kb} kB, "
            f"{self.collected} objects collected, trimmed={self.trimmed}, "
            f"blocks={self.blocks}, malloc_in_use={in_use} kB, {self.duration_ms:.1f} ms"
        )


class MemoryReclaimer:
    """Counts requests in flight from the telemetry events; reclaims when idle after a burst."""

    def __init__(
        self,
        idle_ms: float = IDLE_MS,
        min_interval_s: float = MIN_INTERVAL_S,
        min_requests: int = MIN_REQUESTS,
        glibc: Glibc | None = None,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.idle_s = idle_ms / 1000
        self.min_interval_s = min_interval_s
        self.min_requests = min_requests
        self.glibc = glibc
        self.clock = clock
        self.enabled = enabled
        # Whether the daemon still has work in flight that the events do not count (an
        # answer waiting for its store commit): set by the server; checked when idle.
        self.busy: Callable[[], bool] = lambda: False
        self.in_flight = 0
        self.requests = 0  # started since the last reclaim
        self.reclaims = 0
        self.last: Reclaim | None = None
        self._last_stop = 0.0
        self._last_reclaim: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> MemoryReclaimer:
        """`DSPEX_MEMORY_RECLAIM`: unset or on (the default), 0/off, or the idle time in
        milliseconds after which to reclaim."""
        value = environ.get(ENV, "").strip().lower()
        if value in ("0", "false", "no", "off"):
            return cls(enabled=False)
        try:
            idle_ms = float(value) if value not in ("", "1", "true", "yes", "on") else IDLE_MS
        except ValueError:
            idle_ms = IDLE_MS
        return cls(idle_ms=max(idle_ms, 1.0), glibc=load_glibc())

    def on_event(self, event: RequestEvent) -> None:
        """Telemetry subscriber: the only work done per request."""
        if event.phase == "start":
            self.in_flight += 1
            self.requests += 1
            return
        self.in_flight = max(self.in_flight - 1, 0)
        self._last_stop = self.clock()
        if (
            self.in_flight == 0
            and self.enabled
            and self.requests >= self.min_requests
            and self._timer is None
        ):
            self._arm(self._due())

    def _due(self) -> float:
        due = self._last_stop + self.idle_s
        if self._last_reclaim is not None:
            due = max(due, self._last_reclaim + self.min_interval_s)
        return due

    def _arm(self, due: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a unit test's direct call): nothing to schedule
            return
        self._timer = loop.call_later(max(due - self.clock(), 0.0), self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self.in_flight:  # busy again: the next stop at zero re-arms
            return
        due = self._due()
        if self.clock() < due:  # a request came and went meanwhile: idle from its stop
            self._arm(due)
            return
        if self.busy():  # answers still on their way: look again after another idle spell
            self._arm(self.clock() + self.idle_s)
            return
        self.reclaim()

    def reclaim(self) -> Reclaim:
        """One full collection (frees cycles and CPython's free lists), then malloc_trim."""
        started = time.perf_counter()
        before = rss_kb()
        collected = gc.collect()
        trimmed = self.glibc.trim() if self.glibc is not None else False
        result = Reclaim(
            requests=self.requests,
            rss_before_kb=before,
            rss_after_kb=rss_kb(),
            collected=collected,
            trimmed=trimmed,
            blocks=sys.getallocatedblocks(),
            malloc_in_use=self.glibc.in_use() if self.glibc is not None else None,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        self.requests = 0
        self.reclaims += 1
        self._last_reclaim = self.clock()
        self.last = result
        log.info("%s", result.describe())
        return result

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
