"""Queries on conversations, always through the tenancy helper."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.tenancy import get_owned, owned_by
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


def _filtered(stmt: SelectT, user_id: uuid.UUID, where: ConversationFilter) -> SelectT:
    stmt = owned_by(stmt, Conversation, user_id)
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
                ConversationTag.user_id == user_id,
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
) -> list[Conversation]:
    """Newest activity first; keyset on (last_activity_at, id)."""
    stmt = (
        _filtered(select(Conversation), user_id, where)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(Conversation.last_activity_at, Conversation.id) < tuple_(*after))
    return list((await db.execute(stmt)).scalars())


async def count(db: AsyncSession, user_id: uuid.UUID, where: ConversationFilter) -> int:
    stmt = _filtered(select(func.count()).select_from(Conversation), user_id, where)
    return int((await db.execute(stmt)).scalar_one())


async def replace_tags(db: AsyncSession, conversation: Conversation, tags: list[str]) -> None:
    await db.execute(
        delete(ConversationTag).where(ConversationTag.conversation_id == conversation.id)
    )
    db.add_all(
        ConversationTag(conversation_id=conversation.id, tag=tag, user_id=conversation.user_id)
        for tag in tags
    )
