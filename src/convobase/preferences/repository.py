"""Queries on preferences (one row per user), always through the tenancy helper."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.base import new_id, utcnow
from convobase.db.tenancy import owned_by
from convobase.models import Preference


async def get(db: AsyncSession, user_id: uuid.UUID) -> Preference | None:
    stmt = owned_by(select(Preference), Preference, user_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def lock(db: AsyncSession, user_id: uuid.UUID) -> Preference:
    """The user's row, created if missing, held until commit so concurrent changes queue.

    ``INSERT ... ON CONFLICT DO NOTHING`` makes the row exist whoever wins a race for a new
    user; ``SELECT ... FOR UPDATE`` then locks it on PostgreSQL (SQLite writers are already
    serialised by ``BEGIN IMMEDIATE``). The row is re-read, never taken from the session's
    identity map, so the change applies to the latest committed version.
    """
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await db.execute(
        insert(Preference)
        .values(id=new_id(), user_id=user_id, data={}, version=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    stmt = (
        owned_by(select(Preference), Preference, user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one()
