"""`memory` rate limiter: per-process counters (the default on one machine)."""

from __future__ import annotations

import math
import time

from convobase.backends.limits import Decision

_MAX_KEYS = 100_000  # bound the memory an attacker can make us hold


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def _current(self, key: str, window_seconds: int, now: float) -> tuple[float, int]:
        started, count = self._windows.get(key, (now, 0))
        if now - started >= window_seconds:
            return now, 0
        return started, count

    async def hit(self, key: str, limit: int, window_seconds: int) -> Decision:
        now = time.monotonic()
        if len(self._windows) >= _MAX_KEYS:
            self._evict(now, window_seconds)
        started, count = self._current(key, window_seconds, now)
        count += 1
        self._windows[key] = (started, count)
        return self._decision(count, limit, started, window_seconds, now)

    async def peek(self, key: str, limit: int, window_seconds: int) -> Decision:
        now = time.monotonic()
        started, count = self._current(key, window_seconds, now)
        return self._decision(count + 1, limit, started, window_seconds, now)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def ping(self) -> None:
        return None

    def _evict(self, now: float, window_seconds: int) -> None:
        for key, (started, _) in list(self._windows.items()):
            if now - started >= window_seconds:
                del self._windows[key]
        if len(self._windows) >= _MAX_KEYS:  # still full: drop the oldest half
            for key in sorted(self._windows, key=lambda k: self._windows[k][0])[: _MAX_KEYS // 2]:
                del self._windows[key]

    @staticmethod
    def _decision(
        count: int, limit: int, started: float, window_seconds: int, now: float
    ) -> Decision:
        if count <= limit:
            return Decision(True, count, 0)
        return Decision(False, count, max(1, math.ceil(started + window_seconds - now)))
