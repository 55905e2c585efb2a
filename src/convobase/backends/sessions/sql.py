"""`sql` session store: the `sessions` table, inside the request's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.backends.sessions import SessionRecord
from convobase.models import AuthSession, User


def _record(row: AuthSession) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        user_agent=row.user_agent,
        ip=row.ip,
        active_conversation_id=row.active_conversation_id,
    )


class SqlSessionStore:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create(self, record: SessionRecord) -> None:
        self.db.add(
            AuthSession(
                id=record.id,
                user_id=record.user_id,
                token_hash=record.token_hash,
                created_at=record.created_at,
                last_seen_at=record.last_seen_at,
                expires_at=record.expires_at,
                user_agent=record.user_agent,
                ip=record.ip,
                active_conversation_id=record.active_conversation_id,
            )
        )
        await self.db.flush()

    async def get_by_token_hash(self, token_hash: str, now: datetime) -> SessionRecord | None:
        # The user rides along in the same query and is held for the request (the identity
        # map only keeps weak references), so the principal's `db.get(User, ...)` right after
        # costs no second round trip.
        row = (
            await self.db.execute(
                select(AuthSession, User)
                .join(User, User.id == AuthSession.user_id)
                .where(AuthSession.token_hash == token_hash, AuthSession.expires_at > now)
            )
        ).first()
        if row is None:
            return None
        self.db.info.setdefault("loaded_users", {})[row[1].id] = row[1]
        return _record(row[0])

    async def get(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        row = (
            await self.db.execute(
                select(AuthSession).where(
                    AuthSession.id == session_id,
                    AuthSession.expires_at > now,
                )
            )
        ).scalar_one_or_none()
        return _record(row) if row else None

    async def list_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        rows = (
            await self.db.execute(
                select(AuthSession)
                .where(AuthSession.user_id == user_id, AuthSession.expires_at > now)
                .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
            )
        ).scalars()
        return [_record(row) for row in rows]

    async def touch(
        self, session_id: uuid.UUID, last_seen_at: datetime, expires_at: datetime
    ) -> None:
        await self._update(session_id, last_seen_at=last_seen_at, expires_at=expires_at)

    async def replace_token(self, session_id: uuid.UUID, token_hash: str) -> bool:
        return await self._update(session_id, token_hash=token_hash)

    async def set_active_conversation(
        self, session_id: uuid.UUID, conversation_id: uuid.UUID | None
    ) -> bool:
        return await self._update(session_id, active_conversation_id=conversation_id)

    async def revoke(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.db.execute(
            delete(AuthSession)
            .where(
                AuthSession.id == session_id,
                AuthSession.user_id == user_id,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_all(self, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> int:
        stmt = delete(AuthSession).where(AuthSession.user_id == user_id)
        if keep is not None:
            stmt = stmt.where(AuthSession.id != keep)
        result = await self.db.execute(stmt.execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def ping(self) -> None:
        await self.db.execute(text("SELECT 1"))

    async def _update(self, session_id: uuid.UUID, **values: object) -> bool:
        result = await self.db.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
