"""Rate limiter protocol: fixed-window counters (`memory` in-process, `redis` shared)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window resets (0 when allowed)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> Decision:
        """Count one event against ``key``; allowed while the count stays within ``limit``."""

    async def peek(self, key: str, limit: int, window_seconds: int) -> Decision:
        """Whether one more event would be allowed, without counting it."""

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count."""

    async def ping(self) -> None:
        """Raise when the limiter's store is unreachable."""


__all__ = ["Decision", "RateLimiter"]
