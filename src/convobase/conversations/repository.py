"""Queries on conversations, always through the tenancy helper.

Owner-only actions use ``get`` (owned_by); reads and appends that a share's recipient may do
use ``get_accessible``, and the list shows owned and shared conversations (accessible_by).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.tenancy import (
    Access,
    Permission,
    accessible_by,
    get_accessible,
    get_owned,
    owned_by,
    shared_permissions,
)
from convobase.errors import NotFound
from convobase.models import Conversation, ConversationTag

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    archived: bool | None = False
    pinned: bool | None = None
    tag: str | None = None
    domain: str | None = None


async def get(
    db: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, *, for_update: bool = False
) -> Conversation:
    """The user's conversation, else NotFound; ``for_update`` locks the row (PostgreSQL)."""
    if not for_update:
        return await get_owned(db, Conversation, conversation_id, user_id, what="Conversation")
    stmt = (
        owned_by(select(Conversation), Conversation, user_id)
        .where(Conversation.id == conversation_id)
        .with_for_update()
    )
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("Conversation not found")
    return row


async def get_shared_or_owned(
    db: AsyncSession,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    now: datetime,
    *,
    for_update: bool = False,
) -> Access:
    """The conversation if the user owns it or it is shared with them, with their permission."""
    return await get_accessible(db, conversation_id, user_id, now, for_update=for_update)


async def permissions(
    db: AsyncSession, user_id: uuid.UUID, rows: list[Conversation], now: datetime
) -> dict[uuid.UUID, Permission]:
    """The caller's permission on each listed conversation ("owner" for their own)."""
    shared = await shared_permissions(
        db, user_id, [c.id for c in rows if c.user_id != user_id], now
    )
    return {c.id: "owner" if c.user_id == user_id else shared.get(c.id, "read") for c in rows}


def _filtered(
    stmt: SelectT, user_id: uuid.UUID, where: ConversationFilter, now: datetime
) -> SelectT:
    # Owned and shared with the user; the filters apply to the fields as the owner set them.
    stmt = accessible_by(stmt, user_id, now)
    if where.archived is not None:
        stmt = stmt.where(Conversation.archived.is_(where.archived))
    if where.pinned is not None:
        stmt = stmt.where(Conversation.pinned.is_(where.pinned))
    if where.domain is not None:
        stmt = stmt.where(Conversation.domain == where.domain)
    if where.tag is not None:
        stmt = stmt.where(
            exists().where(
                ConversationTag.conversation_id == Conversation.id,
                ConversationTag.user_id == Conversation.user_id,
                ConversationTag.tag == where.tag,
            )
        )
    return stmt


async def page(
    db: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    where: ConversationFilter,
    now: datetime,
) -> list[Conversation]:
    """Newest activity first; keyset on (last_activity_at, id)."""
    stmt = (
        _filtered(select(Conversation), user_id, where, now)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(Conversation.last_activity_at, Conversation.id) < tuple_(*after))
    return list((await db.execute(stmt)).scalars())


async def count(
    db: AsyncSession, user_id: uuid.UUID, where: ConversationFilter, now: datetime
) -> int:
    stmt = _filtered(select(func.count()).select_from(Conversation), user_id, where, now)
    return int((await db.execute(stmt)).scalar_one())


async def replace_tags(db: AsyncSession, conversation: Conversation, tags: list[str]) -> None:
    await db.execute(
        delete(ConversationTag).where(ConversationTag.conversation_id == conversation.id)
    )
    db.add_all(
        ConversationTag(conversation_id=conversation.id, tag=tag, user_id=conversation.user_id)
        for tag in tags
    )
