"""`redis` rate limiter: one counter key per window, shared by every app process."""

from __future__ import annotations

import math
from typing import Any

from redis.asyncio import Redis

from convobase.backends.limits import Decision

# INCR and set the expiry on the first hit, atomically; returns the count and the remaining TTL.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "cb:") -> None:
        # redis-py's annotations cover both sync and async clients; we use the async one.
        self.redis: Any = redis
        self.prefix = prefix
        self._hit = redis.register_script(_HIT)

    def _key(self, key: str) -> str:
        return f"{self.prefix}rl:{key}"

    async def hit(self, key: str, limit: int, window_seconds: int) -> Decision:
        count, ttl_ms = await self._hit(keys=[self._key(key)], args=[window_seconds * 1000])
        return _decision(int(count), limit, int(ttl_ms))

    async def peek(self, key: str, limit: int, window_seconds: int) -> Decision:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._key(key))
            pipe.pttl(self._key(key))
            raw, ttl_ms = await pipe.execute()
        return _decision(int(raw or 0) + 1, limit, int(ttl_ms))

    async def reset(self, key: str) -> None:
        await self.redis.delete(self._key(key))

    async def ping(self) -> None:
        await self.redis.ping()


def _decision(count: int, limit: int, ttl_ms: int) -> Decision:
    if count <= limit:
        return Decision(True, count, 0)
    return Decision(False, count, max(1, math.ceil(max(ttl_ms, 0) / 1000)))
