"""What a running app holds: settings, the database, backends and shared helpers.

Built once in the app's lifespan and stored on ``app.state.runtime``; dependencies read it from
there, so tests can build an app on any combination of engines and backends.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
import structlog
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.passwords import PasswordHasher
from convobase.backends.limits import RateLimiter
from convobase.backends.limits.memory import MemoryRateLimiter
from convobase.backends.limits.redis import RedisRateLimiter
from convobase.backends.quotas import Counted, QuotaStore
from convobase.backends.quotas.redis import RedisQuotaStore
from convobase.backends.quotas.sql import SqlQuotaStore, used_from_rollups
from convobase.backends.sessions import SessionStore
from convobase.backends.sessions.redis import RedisSessionStore
from convobase.backends.sessions.sql import SqlSessionStore
from convobase.backends.storage import BlobStorage, open_storage
from convobase.config import Settings
from convobase.db.engine import Database
from convobase.models import ApiKey, User

if TYPE_CHECKING:
    from convobase.oauth.providers import OAuthClients

log = structlog.get_logger("convobase.runtime")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        redis: Redis | None,
        limiter: RateLimiter,
        hasher: PasswordHasher,
        storage: BlobStorage,
    ) -> None:
        self.settings = settings
        self.secret = settings.secret
        self.database = database
        self.redis = redis
        self.limiter = limiter
        self.hasher = hasher
        self.storage = storage
        self._gateway_client: httpx.AsyncClient | None = None
        self._oauth_clients: OAuthClients | None = None
        self._redis_sessions = (
            RedisSessionStore(redis, settings.redis_prefix) if redis is not None else None
        )
        self.quotas: QuotaStore = (
            RedisQuotaStore(redis, settings.redis_prefix, self._settled_usage)
            if redis is not None
            else SqlQuotaStore(database)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        settings.check()
        redis = (
            Redis.from_url(settings.redis_url, decode_responses=True)
            if settings.redis_url
            else None
        )
        limiter: RateLimiter = (
            RedisRateLimiter(redis, settings.redis_prefix)
            if redis is not None
            else MemoryRateLimiter()
        )
        return cls(
            settings,
            Database.from_settings(settings),
            redis,
            limiter,
            PasswordHasher.from_settings(settings),
            open_storage(settings),
        )

    async def _settled_usage(self, user_id: uuid.UUID, now: datetime) -> Counted:
        """The database's count of a user's usage, to seed a missing Redis quota counter."""
        async with self.database.session(write=False) as db:
            return await used_from_rollups(db, user_id, now)

    def gateway_client(self) -> httpx.AsyncClient:
        """The gateway's pooled HTTP client for upstreams, made on first use."""
        if self._gateway_client is None:
            from convobase.gateway.upstream import make_client

            self._gateway_client = make_client(self.settings)
        return self._gateway_client

    def oauth_clients(self) -> OAuthClients:
        """Sign-in providers' HTTP client and discovery/key caches, made on first use."""
        if self._oauth_clients is None:
            from convobase.oauth.providers import OAuthClients

            self._oauth_clients = OAuthClients(self.settings)
        return self._oauth_clients

    async def close(self) -> None:
        if self._gateway_client is not None:
            await self._gateway_client.aclose()
        if self._oauth_clients is not None:
            await self._oauth_clients.aclose()
        await self.storage.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.database.dispose()

    def session_store(self, db: AsyncSession) -> SessionStore:
        """The configured store; the `sql` one works inside the caller's transaction."""
        if self._redis_sessions is not None:
            return self._redis_sessions
        return SqlSessionStore(db)

    # Best-effort bookkeeping that runs after the request committed, in its own short
    # transaction: a busy database must never fail a read because of it.
    async def touch_session(
        self,
        session_id: uuid.UUID,
        now: datetime,
        expires_at: datetime,
        active_user: uuid.UUID | None = None,
    ) -> None:
        """Slide the session; with ``active_user`` (guests) also record their last activity."""
        if self._redis_sessions is not None:
            await self._redis_sessions.touch(session_id, now, expires_at)
            if active_user is None:
                return
        async with self.database.session() as db:
            if self._redis_sessions is None:
                await SqlSessionStore(db).touch(session_id, now, expires_at)
            if active_user is not None:
                await db.execute(
                    update(User).where(User.id == active_user).values(last_active_at=now)
                )
            await db.commit()

    async def touch_api_key(self, key_id: uuid.UUID, now: datetime) -> None:
        async with self.database.session() as db:
            await db.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
            await db.commit()
