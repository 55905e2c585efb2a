"""Queries on provider_keys, always scoped to their owner (except the rotation's scan)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.base import new_id
from convobase.db.tenancy import owned_by
from convobase.keys.crypto import Sealed
from convobase.models import ProviderKey


async def get(db: AsyncSession, user_id: uuid.UUID, provider: str) -> ProviderKey | None:
    stmt = owned_by(select(ProviderKey), ProviderKey, user_id).where(
        ProviderKey.provider == provider
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_for(db: AsyncSession, user_id: uuid.UUID) -> list[ProviderKey]:
    stmt = owned_by(select(ProviderKey), ProviderKey, user_id).order_by(ProviderKey.provider)
    return list((await db.execute(stmt)).scalars())


async def count_for(db: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = owned_by(select(func.count()).select_from(ProviderKey), ProviderKey, user_id)
    return int((await db.execute(stmt)).scalar_one())


async def upsert(
    db: AsyncSession,
    user_id: uuid.UUID,
    provider: str,
    sealed: Sealed,
    last4: str,
    now: datetime,
) -> ProviderKey:
    """Insert or replace the user's key for ``provider`` in one statement (races are safe)."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = insert(ProviderKey).values(
        id=new_id(),
        user_id=user_id,
        provider=provider,
        ciphertext=sealed.ciphertext,
        nonce=sealed.nonce,
        key_version=sealed.version,
        last4=last4,
        created_at=now,
        updated_at=now,
    )
    stmt = values.on_conflict_do_update(
        index_elements=["user_id", "provider"],
        set_={
            name: values.excluded[name]
            for name in ("ciphertext", "nonce", "key_version", "last4", "updated_at")
        },
    ).returning(ProviderKey)
    result = await db.execute(stmt, execution_options={"populate_existing": True})
    row: ProviderKey = result.scalar_one()
    return row


async def delete_one(db: AsyncSession, user_id: uuid.UUID, provider: str) -> bool:
    stmt = delete(ProviderKey).where(
        ProviderKey.user_id == user_id, ProviderKey.provider == provider
    )
    result = await db.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def stale_batch(
    db: AsyncSession, current_version: str, after: uuid.UUID | None, limit: int
) -> list[ProviderKey]:
    """Rows not sealed under ``current_version``, in id order after ``after``, locked.

    For `convobase keys rotate`, across all users by design. ``FOR UPDATE`` holds the rows on
    PostgreSQL until the batch commits (a concurrent PUT waits, then writes under the current
    key); SQLite writers are serialised anyway.
    """
    stmt = select(ProviderKey).where(ProviderKey.key_version != current_version)
    if after is not None:
        stmt = stmt.where(ProviderKey.id > after)
    stmt = stmt.order_by(ProviderKey.id).limit(limit).with_for_update()
    return list((await db.execute(stmt.execution_options(populate_existing=True))).scalars())
