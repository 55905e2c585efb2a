"""Queries on shares. Owner-side queries go through the tenancy helper; a public read finds a
link share by its token's hash only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.tenancy import owned_by
from convobase.models import Share, User


def _live(now: datetime) -> ColumnElement[bool]:
    return (Share.revoked_at.is_(None)) & or_(Share.expires_at.is_(None), Share.expires_at > now)


async def count_live(db: AsyncSession, conversation_id: uuid.UUID, now: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(Share)
        .where(Share.conversation_id == conversation_id, _live(now))
    )
    return int((await db.execute(stmt)).scalar_one())


async def live_user_share(
    db: AsyncSession, conversation_id: uuid.UUID, recipient_id: uuid.UUID, now: datetime
) -> Share | None:
    stmt = select(Share).where(
        Share.recipient_id == recipient_id,
        Share.conversation_id == conversation_id,
        Share.kind == "user",
        _live(now),
    )
    return (await db.execute(stmt.limit(1))).scalar_one_or_none()


async def page(
    db: AsyncSession,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    *,
    limit: int,
    before: uuid.UUID | None,
) -> list[tuple[Share, str | None]]:
    """The owner's shares of one conversation, newest first (keyset on id), with each user
    share's recipient email."""
    stmt = (
        owned_by(select(Share), Share, user_id)
        .add_columns(User.email)
        .outerjoin(User, User.id == Share.recipient_id)
        .where(Share.conversation_id == conversation_id)
        .order_by(Share.id.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(Share.id < before)
    return [(share, email) for share, email in await db.execute(stmt)]


async def recipient_email(db: AsyncSession, share: Share) -> str | None:
    if share.recipient_id is None:
        return None
    return (await db.execute(select(User.email).where(User.id == share.recipient_id))).scalar()


async def live_link(db: AsyncSession, token_hash: str, now: datetime) -> Share | None:
    stmt = select(Share).where(Share.token_hash == token_hash, Share.kind == "link", _live(now))
    return (await db.execute(stmt)).scalar_one_or_none()


async def count_access(db: AsyncSession, share_id: uuid.UUID, now: datetime) -> None:
    await db.execute(
        update(Share)
        .where(Share.id == share_id)
        .values(access_count=Share.access_count + 1, last_accessed_at=now)
        .execution_options(synchronize_session=False)
    )
