"""`redis` session store: one hash per session, expiring with it; shared by every app process.

Keys (under the configured prefix):
  sess:tok:<token_hash>  -> session id            (TTL = session expiry)
  sess:<id>              -> hash of the record    (TTL = session expiry)
  sess:user:<user_id>    -> set of session ids    (cleaned lazily on read)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from convobase.backends.sessions import SessionRecord


def _encode(record: SessionRecord) -> dict[str, str]:
    return {
        "user_id": str(record.user_id),
        "token_hash": record.token_hash,
        "created_at": record.created_at.isoformat(),
        "last_seen_at": record.last_seen_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
        "user_agent": record.user_agent or "",
        "ip": record.ip or "",
        "active_conversation_id": str(record.active_conversation_id or ""),
    }


def _decode(session_id: uuid.UUID, raw: dict[str, str]) -> SessionRecord:
    active = raw.get("active_conversation_id") or ""
    return SessionRecord(
        id=session_id,
        user_id=uuid.UUID(raw["user_id"]),
        token_hash=raw["token_hash"],
        created_at=datetime.fromisoformat(raw["created_at"]),
        last_seen_at=datetime.fromisoformat(raw["last_seen_at"]),
        expires_at=datetime.fromisoformat(raw["expires_at"]),
        user_agent=raw.get("user_agent") or None,
        ip=raw.get("ip") or None,
        active_conversation_id=uuid.UUID(active) if active else None,
    )


def _ttl_ms(expires_at: datetime) -> int:
    return max(1, int((expires_at - datetime.now(UTC)).total_seconds() * 1000))


class RedisSessionStore:
    def __init__(self, redis: Redis, prefix: str = "cb:") -> None:
        # redis-py's annotations cover both sync and async clients; we use the async one.
        self.redis: Any = redis
        self.prefix = prefix

    def _tok(self, token_hash: str) -> str:
        return f"{self.prefix}sess:tok:{token_hash}"

    def _sess(self, session_id: uuid.UUID | str) -> str:
        return f"{self.prefix}sess:{session_id}"

    def _user(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}sess:user:{user_id}"

    async def create(self, record: SessionRecord) -> None:
        ttl = _ttl_ms(record.expires_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._sess(record.id), mapping=_encode(record))
            pipe.pexpire(self._sess(record.id), ttl)
            pipe.set(self._tok(record.token_hash), str(record.id), px=ttl)
            pipe.sadd(self._user(record.user_id), str(record.id))
            await pipe.execute()

    async def _load(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        raw: dict[str, str] = await self.redis.hgetall(self._sess(session_id))
        if not raw or "token_hash" not in raw:
            return None
        record = _decode(session_id, raw)
        return record if record.expires_at > now else None

    async def get_by_token_hash(self, token_hash: str, now: datetime) -> SessionRecord | None:
        session_id = await self.redis.get(self._tok(token_hash))
        if session_id is None:
            return None
        record = await self._load(uuid.UUID(session_id), now)
        return record if record and record.token_hash == token_hash else None

    async def get(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        return await self._load(session_id, now)

    async def list_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        ids: set[str] = await self.redis.smembers(self._user(user_id))
        records: list[SessionRecord] = []
        gone: list[str] = []
        for raw_id in ids:
            record = await self._load(uuid.UUID(raw_id), now)
            if record is None:
                gone.append(raw_id)
            else:
                records.append(record)
        if gone:
            await self.redis.srem(self._user(user_id), *gone)
        records.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return records

    async def touch(
        self, session_id: uuid.UUID, last_seen_at: datetime, expires_at: datetime
    ) -> None:
        token_hash = await self.redis.hget(self._sess(session_id), "token_hash")
        if token_hash is None:
            return
        ttl = _ttl_ms(expires_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._sess(session_id),
                mapping={
                    "last_seen_at": last_seen_at.isoformat(),
                    "expires_at": expires_at.isoformat(),
                },
            )
            pipe.pexpire(self._sess(session_id), ttl)
            pipe.pexpire(self._tok(token_hash), ttl)
            await pipe.execute()

    async def replace_token(self, session_id: uuid.UUID, token_hash: str) -> bool:
        raw: dict[str, str] = await self.redis.hgetall(self._sess(session_id))
        if not raw:
            return False
        ttl = max(1, int(await self.redis.pttl(self._sess(session_id))))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._tok(raw["token_hash"]))
            pipe.set(self._tok(token_hash), str(session_id), px=ttl)
            pipe.hset(self._sess(session_id), "token_hash", token_hash)
            await pipe.execute()
        return True

    async def set_active_conversation(
        self, session_id: uuid.UUID, conversation_id: uuid.UUID | None
    ) -> bool:
        key = self._sess(session_id)
        if not await self.redis.exists(key):
            return False
        await self.redis.hset(
            key,
            "active_conversation_id",
            str(conversation_id or ""),
        )
        return True

    async def revoke(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        raw: dict[str, str] = await self.redis.hgetall(self._sess(session_id))
        if not raw or raw.get("user_id") != str(user_id):
            return False
        await self._delete(session_id, raw)
        return True

    async def revoke_all(self, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> int:
        ids: set[str] = await self.redis.smembers(self._user(user_id))
        count = 0
        for raw_id in ids:
            if keep is not None and raw_id == str(keep):
                continue
            raw: dict[str, str] = await self.redis.hgetall(self._sess(raw_id))
            if raw:
                count += 1
            await self._delete(uuid.UUID(raw_id), raw, user_id=user_id)
        return count

    async def ping(self) -> None:
        await self.redis.ping()

    async def _delete(
        self, session_id: uuid.UUID, raw: dict[str, Any], user_id: uuid.UUID | None = None
    ) -> None:
        owner = user_id or uuid.UUID(raw["user_id"])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._sess(session_id))
            if raw.get("token_hash"):
                pipe.delete(self._tok(raw["token_hash"]))
            pipe.srem(self._user(owner), str(session_id))
            await pipe.execute()


__all__ = ["RedisSessionStore"]
