"""The `redis` quota store: counters and reservations in Redis, checked in one Lua script.

Counters per user: requests today, tokens and micro-dollars this month; reservations in a hash
(id -> amounts and expiry). The script drops expired reservations, sums the rest and adds the
new one only if every limit holds, all atomically. A missing counter (a new day or month, or a
Redis restart) is seeded from the database's rollups before the script runs; an event that
commits in the very instant of seeding may be missing from the counter (never from the
rollups), which errs towards letting one request more through, once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from redis.asyncio import Redis

from convobase.backends.quotas import (
    MICRO,
    Amount,
    Counted,
    Limits,
    Refusal,
    Reservation,
    Standing,
    day_window,
    month_window,
)
from convobase.db.base import new_id

# KEYS: requests-today, tokens-month, micro-usd-month, reservations hash
# ARGV: now_ms, limit_req, limit_tok, limit_cost (-1: none), req, tok, cost, id, expires_ms
_RESERVE = """
local now = tonumber(ARGV[1])
local held = {0, 0, 0}
local entries = redis.call('HGETALL', KEYS[4])
for i = 1, #entries, 2 do
  local req, tok, cost, exp = string.match(entries[i + 1], '(%d+)|(%d+)|(%d+)|(%d+)')
  if tonumber(exp) <= now then
    redis.call('HDEL', KEYS[4], entries[i])
  else
    held[1] = held[1] + tonumber(req)
    held[2] = held[2] + tonumber(tok)
    held[3] = held[3] + tonumber(cost)
  end
end
local used = {}
for i = 1, 3 do used[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
for i = 1, 3 do
  local limit = tonumber(ARGV[1 + i])
  if limit >= 0 and used[i] + held[i] + tonumber(ARGV[4 + i]) > limit then
    return {0, i, used[i], held[i]}
  end
end
redis.call('HSET', KEYS[4], ARGV[8], ARGV[5] .. '|' .. ARGV[6] .. '|' .. ARGV[7] .. '|' .. ARGV[9])
redis.call('PEXPIREAT', KEYS[4], ARGV[9])
return {1, 0, 0, 0}
"""

# KEYS: the three counters, reservations hash; ARGV: req, tok, cost, reservation id or ''
_SETTLE = """
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i]) end
end
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[4], ARGV[4]) end
return 1
"""

Seed = Callable[[uuid.UUID, datetime], Awaitable[Counted]]
_NAMES = {1: "requests_per_day", 2: "tokens_per_month", 3: "cost_per_month_usd"}


def micro(value: Decimal) -> int:
    """Dollars to whole micro-dollars, rounded up: a quota never under-counts spend."""
    return int((value * MICRO).to_integral_value(ROUND_CEILING))


class RedisQuotaStore:
    def __init__(self, redis: Redis, prefix: str, seed: Seed) -> None:
        self.redis = redis
        self.prefix = prefix
        self.seed = seed  # settled usage from the database, for a missing counter
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    def _keys(self, user_id: uuid.UUID, now: datetime) -> list[str]:
        today, _ = day_window(now)
        month, _ = month_window(now)
        base = f"{self.prefix}quota:{user_id}"
        return [
            f"{base}:req:{today.isoformat()}",
            f"{base}:tok:{month.isoformat()[:7]}",
            f"{base}:cost:{month.isoformat()[:7]}",
            f"{base}:held",
        ]

    async def _ensure_counters(self, user_id: uuid.UUID, now: datetime, keys: list[str]) -> None:
        present = await self.redis.exists(keys[0]), await self.redis.exists(keys[1], keys[2])
        if present == (1, 2):
            return
        used = await self.seed(user_id, now)
        _, day_end = day_window(now)
        _, month_end = month_window(now)
        # Kept a day past their window, then gone.
        day_ms = int((day_end + timedelta(days=1)).timestamp() * 1000)
        month_ms = int((month_end + timedelta(days=1)).timestamp() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys[0], used.requests_today, nx=True, pxat=day_ms)
            pipe.set(keys[1], used.tokens_month, nx=True, pxat=month_ms)
            pipe.set(keys[2], micro(used.cost_month_usd), nx=True, pxat=month_ms)
            await pipe.execute()

    async def reserve(
        self, user_id: uuid.UUID, limits: Limits, amount: Amount, now: datetime, ttl: timedelta
    ) -> Reservation | Refusal:
        keys = self._keys(user_id, now)
        await self._ensure_counters(user_id, now, keys)
        reservation_id = new_id()
        expires_at = now + ttl
        cost_limit = limits.cost_per_month_usd
        result: Any = await self._reserve(
            keys=keys,
            args=[
                int(now.timestamp() * 1000),
                -1 if limits.requests_per_day is None else limits.requests_per_day,
                -1 if limits.tokens_per_month is None else limits.tokens_per_month,
                -1 if cost_limit is None else micro(cost_limit),
                amount.requests,
                amount.tokens,
                micro(amount.cost_usd),
                str(reservation_id),
                int(expires_at.timestamp() * 1000),
            ],
        )
        granted, which, used, held = (int(x) for x in result)
        if granted:
            return Reservation(id=reservation_id, expires_at=expires_at)
        name = _NAMES[which]
        resets_at = day_window(now)[1] if which == 1 else month_window(now)[1]
        allowed: int | Decimal
        requested: int | Decimal
        if which == 1:
            allowed, requested = limits.requests_per_day or 0, amount.requests
            return Refusal(name, allowed, used, held, requested, resets_at)
        if which == 2:
            allowed, requested = limits.tokens_per_month or 0, amount.tokens
            return Refusal(name, allowed, used, held, requested, resets_at)
        allowed = limits.cost_per_month_usd or Decimal(0)
        return Refusal(
            name, allowed, Decimal(used) / MICRO, Decimal(held) / MICRO, amount.cost_usd, resets_at
        )

    async def settle(
        self, user_id: uuid.UUID, reservation_id: uuid.UUID | None, amount: Amount, at: datetime
    ) -> None:
        await self._settle(
            keys=self._keys(user_id, at),
            args=[
                amount.requests,
                amount.tokens,
                micro(amount.cost_usd),
                str(reservation_id) if reservation_id else "",
            ],
        )

    async def holds(self, user_id: uuid.UUID, reservation_id: uuid.UUID, now: datetime) -> bool:
        value = await self.redis.hget(f"{self.prefix}quota:{user_id}:held", str(reservation_id))
        if value is None:
            return False
        text = value.decode() if isinstance(value, bytes) else value
        return int(text.rsplit("|", 1)[1]) > now.timestamp() * 1000

    async def release(self, user_id: uuid.UUID, reservation_id: uuid.UUID) -> bool:
        key = f"{self.prefix}quota:{user_id}:held"
        return bool(await self.redis.hdel(key, str(reservation_id)))

    async def forget(self, user_id: uuid.UUID) -> None:
        keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}quota:{user_id}:*")]
        if keys:
            await self.redis.delete(*keys)

    async def merge(self, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
        # Held allowance moves (a request in flight stays counted); both users' counters are
        # dropped, so the account's are seeded again from the rollups that now hold both.
        held_from = f"{self.prefix}quota:{from_id}:held"
        held_to = f"{self.prefix}quota:{to_id}:held"
        entries: dict[Any, Any] = await self.redis.hgetall(held_from)
        if entries:
            await self.redis.hset(held_to, mapping=entries)
            # The hash lives as long as its longest reservation (as `reserve` sets it).
            longest = max(int(str(value).rsplit("|", 1)[1]) for value in entries.values())
            remaining = int(await self.redis.pttl(held_to))
            if remaining < 0 or time.time() * 1000 + remaining < longest:
                await self.redis.pexpireat(held_to, longest)
        await self.forget(from_id)
        counters = [
            key
            async for key in self.redis.scan_iter(match=f"{self.prefix}quota:{to_id}:*")
            if key != held_to
        ]
        if counters:
            await self.redis.delete(*counters)

    async def standing(self, user_id: uuid.UUID, now: datetime) -> Standing:
        keys = self._keys(user_id, now)
        await self._ensure_counters(user_id, now, keys)
        values = await self.redis.mget(keys[:3])
        entries = await self.redis.hgetall(keys[3])
        now_ms = now.timestamp() * 1000
        held = [0, 0, 0]
        for value in entries.values():
            text = value.decode() if isinstance(value, bytes) else value
            req, tok, cost, expires = (int(part) for part in text.split("|"))
            if expires > now_ms:
                held = [held[0] + req, held[1] + tok, held[2] + cost]
        used = [int(v or 0) for v in values]
        return Standing(
            used=Counted(used[0], used[1], Decimal(used[2]) / MICRO),
            reserved=Counted(held[0], held[1], Decimal(held[2]) / MICRO),
        )
