"""Queries on oauth_accounts and oauth_states."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.models import OAuthAccount, OAuthState


async def get_identity(db: AsyncSession, provider: str, subject: str) -> OAuthAccount | None:
    return (
        await db.execute(
            select(OAuthAccount).where(
                OAuthAccount.provider == provider, OAuthAccount.subject == subject
            )
        )
    ).scalar_one_or_none()


async def list_for_user(db: AsyncSession, user_id: uuid.UUID) -> list[OAuthAccount]:
    rows = await db.execute(
        select(OAuthAccount)
        .where(OAuthAccount.user_id == user_id)
        .order_by(OAuthAccount.provider, OAuthAccount.created_at)
    )
    return list(rows.scalars())


async def count_for_user(db: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(OAuthAccount).where(OAuthAccount.user_id == user_id)
    return int((await db.execute(stmt)).scalar_one())


async def take_state(db: AsyncSession, state_hash: str) -> OAuthState | None:
    """Read and delete a sign-in in flight; None when absent or already taken (single use)."""
    row = await db.get(OAuthState, state_hash)
    if row is None:
        return None
    result = await db.execute(delete(OAuthState).where(OAuthState.state_hash == state_hash))
    # rowcount 0: a concurrent callback took it first.
    return row if getattr(result, "rowcount", 0) == 1 else None


async def delete_expired_states(db: AsyncSession, now: datetime) -> None:
    await db.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
