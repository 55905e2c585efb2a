"""One contract for every session store: `sql` on SQLite and PostgreSQL, and `redis`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from convobase.backends.sessions import SessionRecord, SessionStore
from convobase.backends.sessions.redis import RedisSessionStore
from convobase.backends.sessions.sql import SqlSessionStore
from convobase.db.base import new_id
from convobase.db.engine import Database
from convobase.models import User


class StoreUnderTest:
    def __init__(self, store: SessionStore, users: list[uuid.UUID]) -> None:
        self.store = store
        self.users = users


async def _sql(url: str) -> AsyncIterator[StoreUnderTest]:
    database = Database(url)
    try:
        async with database.session() as db:
            users = [User(email=f"{uuid.uuid4().hex}@example.com") for _ in range(2)]
            db.add_all(users)
            await db.flush()
            yield StoreUnderTest(SqlSessionStore(db), [u.id for u in users])
            await db.rollback()
    finally:
        await database.dispose()


@pytest.fixture(params=["sql-sqlite", "sql-postgres", "redis"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[StoreUnderTest]:
    if request.param == "sql-sqlite":
        async for subject in _sql(request.getfixturevalue("sqlite_url")):
            yield subject
    elif request.param == "sql-postgres":
        async for subject in _sql(request.getfixturevalue("clean_postgres_url")):
            yield subject
    else:
        redis = Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
        prefix = request.getfixturevalue("redis_prefix")
        try:
            yield StoreUnderTest(RedisSessionStore(redis, prefix), [uuid.uuid4(), uuid.uuid4()])
        finally:
            await redis.aclose()


def record(
    user_id: uuid.UUID,
    *,
    token: str | None = None,
    ttl: timedelta = timedelta(days=1),
    created: datetime | None = None,
) -> SessionRecord:
    now = created or datetime.now(UTC)
    return SessionRecord(
        id=new_id(),
        user_id=user_id,
        token_hash=token or uuid.uuid4().hex * 2,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ttl,
        user_agent="ua",
        ip="10.0.0.1",
    )


def now() -> datetime:
    return datetime.now(UTC)


async def test_create_and_get(subject: StoreUnderTest) -> None:
    store, (alice, _) = subject.store, subject.users
    rec = record(alice)
    await store.create(rec)
    by_token = await store.get_by_token_hash(rec.token_hash, now())
    by_id = await store.get(rec.id, now())
    assert by_token is not None and by_id is not None
    for got in (by_token, by_id):
        assert got.id == rec.id and got.user_id == alice and got.token_hash == rec.token_hash
        assert got.user_agent == "ua" and got.ip == "10.0.0.1"
        assert abs(got.expires_at - rec.expires_at) < timedelta(milliseconds=1)
        assert got.expires_at.tzinfo is not None
    assert await store.get_by_token_hash("f" * 64, now()) is None
    assert await store.get(uuid.uuid4(), now()) is None


async def test_expired_sessions_are_not_found(subject: StoreUnderTest) -> None:
    store, (alice, _) = subject.store, subject.users
    rec = record(alice, ttl=timedelta(seconds=30))
    await store.create(rec)
    later = now() + timedelta(minutes=1)
    assert await store.get_by_token_hash(rec.token_hash, later) is None
    assert await store.get(rec.id, later) is None
    assert await store.list_for_user(alice, later) == []


async def test_touch_slides_expiry(subject: StoreUnderTest) -> None:
    store, (alice, _) = subject.store, subject.users
    rec = record(alice, ttl=timedelta(seconds=30))
    await store.create(rec)
    seen, expires = now() + timedelta(seconds=10), now() + timedelta(days=30)
    await store.touch(rec.id, seen, expires)
    got = await store.get(rec.id, now() + timedelta(minutes=5))
    assert got is not None
    assert abs(got.last_seen_at - seen) < timedelta(milliseconds=1)
    assert abs(got.expires_at - expires) < timedelta(milliseconds=1)
    await store.touch(uuid.uuid4(), seen, expires)  # unknown: no error, nothing created


async def test_list_is_per_user_newest_first(subject: StoreUnderTest) -> None:
    store, (alice, bob) = subject.store, subject.users
    base = now()
    older = record(alice, created=base - timedelta(minutes=5))
    newer = record(alice, created=base)
    bobs = record(bob)
    for rec in (older, newer, bobs):
        await store.create(rec)
    assert [r.id for r in await store.list_for_user(alice, now())] == [newer.id, older.id]
    assert [r.id for r in await store.list_for_user(bob, now())] == [bobs.id]
    assert await store.list_for_user(uuid.uuid4(), now()) == []


async def test_revoke_is_owner_scoped(subject: StoreUnderTest) -> None:
    store, (alice, bob) = subject.store, subject.users
    rec = record(alice)
    await store.create(rec)
    assert await store.revoke(rec.id, bob) is False
    assert await store.get(rec.id, now()) is not None
    assert await store.revoke(rec.id, alice) is True
    assert await store.get(rec.id, now()) is None
    assert await store.get_by_token_hash(rec.token_hash, now()) is None
    assert await store.revoke(rec.id, alice) is False


async def test_revoke_all_keeps_one(subject: StoreUnderTest) -> None:
    store, (alice, bob) = subject.store, subject.users
    keep, drop1, drop2, other = record(alice), record(alice), record(alice), record(bob)
    for rec in (keep, drop1, drop2, other):
        await store.create(rec)
    assert await store.revoke_all(alice, keep=keep.id) == 2
    assert [r.id for r in await store.list_for_user(alice, now())] == [keep.id]
    assert await store.get_by_token_hash(drop1.token_hash, now()) is None
    assert await store.get(other.id, now()) is not None
    assert await store.revoke_all(alice) == 1
    assert await store.list_for_user(alice, now()) == []


async def test_replace_token(subject: StoreUnderTest) -> None:
    store, (alice, _) = subject.store, subject.users
    rec = record(alice)
    await store.create(rec)
    new_hash = "a" * 64
    assert await store.replace_token(rec.id, new_hash) is True
    assert await store.get_by_token_hash(rec.token_hash, now()) is None
    got = await store.get_by_token_hash(new_hash, now())
    assert got is not None and got.id == rec.id
    assert await store.replace_token(uuid.uuid4(), "b" * 64) is False


async def test_active_conversation(subject: StoreUnderTest) -> None:
    store, (alice, _) = subject.store, subject.users
    rec = record(alice)
    await store.create(rec)
    conversation = uuid.uuid4()
    assert await store.set_active_conversation(rec.id, conversation) is True
    got = await store.get(rec.id, now())
    assert got is not None and got.active_conversation_id == conversation
    assert await store.set_active_conversation(rec.id, None) is True
    got = await store.get(rec.id, now())
    assert got is not None and got.active_conversation_id is None
    assert await store.set_active_conversation(uuid.uuid4(), conversation) is False


async def test_ping(subject: StoreUnderTest) -> None:
    await subject.store.ping()
