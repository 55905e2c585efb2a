"""Queries on api_keys, always scoped to their owner."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.tenancy import owned_by
from convobase.models import ApiKey


def _live(now: datetime):  # type: ignore[no-untyped-def]
    return (ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))


async def list_live(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> list[ApiKey]:
    stmt = owned_by(select(ApiKey), ApiKey, user_id).where(*_live(now))
    return list((await db.execute(stmt.order_by(ApiKey.id.desc()))).scalars())


async def count_live(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    stmt = owned_by(select(func.count()).select_from(ApiKey), ApiKey, user_id).where(*_live(now))
    return int((await db.execute(stmt)).scalar_one())
