"""One contract for every rate limiter: `memory` and `redis`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from convobase.backends.limits import RateLimiter
from convobase.backends.limits.memory import MemoryRateLimiter
from convobase.backends.limits.redis import RedisRateLimiter


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    try:
        yield RedisRateLimiter(redis, request.getfixturevalue("redis_prefix"))
    finally:
        await redis.aclose()


async def test_allows_up_to_the_limit_then_refuses(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("k", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert decisions[-1].retry_after >= 1 and decisions[-1].retry_after <= 60
    assert decisions[0].retry_after == 0


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    for _ in range(2):
        await limiter.hit("a", 2, 60)
    assert not (await limiter.hit("a", 2, 60)).allowed
    assert (await limiter.hit("b", 2, 60)).allowed


async def test_peek_does_not_count(limiter: RateLimiter) -> None:
    for _ in range(5):
        assert (await limiter.peek("p", 1, 60)).allowed
    await limiter.hit("p", 1, 60)
    assert not (await limiter.peek("p", 1, 60)).allowed


async def test_reset(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("r", 2, 60)
    await limiter.reset("r")
    assert (await limiter.hit("r", 2, 60)).allowed


async def test_window_expires(limiter: RateLimiter) -> None:
    await limiter.hit("w", 1, 1)
    assert not (await limiter.hit("w", 1, 1)).allowed
    await asyncio.sleep(1.1)
    assert (await limiter.hit("w", 1, 1)).allowed


async def test_concurrent_hits_are_counted_exactly(limiter: RateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.hit("c", 10, 60) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.count for d in decisions) == list(range(1, 51))
