"""Queries on messages. Callers have already proven the conversation is the user's."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from convobase.db.tenancy import owned_by
from convobase.errors import NotFound
from convobase.models import Feedback, Message, MessageEdit


async def get(
    db: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    stmt = owned_by(select(Message), Message, user_id).where(
        Message.id == message_id, Message.conversation_id == conversation_id
    )
    message = (await db.execute(stmt)).scalar_one_or_none()
    if message is None:
        raise NotFound("Message not found")
    return message


async def exists_in(db: AsyncSession, conversation_id: uuid.UUID, message_id: uuid.UUID) -> bool:
    stmt = select(Message.id).where(
        Message.id == message_id, Message.conversation_id == conversation_id
    )
    return (await db.execute(stmt)).first() is not None


async def chronological(
    db: AsyncSession,
    conversation_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    descending: bool,
) -> list[Message]:
    """Every message of the conversation by time (ids are time-ordered), keyset on id."""
    stmt = select(Message).where(Message.conversation_id == conversation_id)
    if after is not None:
        stmt = stmt.where(Message.id < after if descending else Message.id > after)
    order = Message.id.desc() if descending else Message.id.asc()
    return list((await db.execute(stmt.order_by(order).limit(limit))).scalars())


async def ancestors(
    db: AsyncSession, conversation_id: uuid.UUID, start: uuid.UUID, *, max_steps: int | None = None
) -> list[uuid.UUID]:
    """Ids from ``start`` up towards the root (start first), at most ``max_steps`` of them."""
    anchor = select(Message.id, Message.parent_id, literal(1).label("depth")).where(
        Message.id == start, Message.conversation_id == conversation_id
    )
    path = anchor.cte("path", recursive=True)
    parent = aliased(Message)
    step = select(parent.id, parent.parent_id, (path.c.depth + 1).label("depth")).where(
        parent.id == path.c.parent_id, parent.conversation_id == conversation_id
    )
    if max_steps is not None:
        step = step.where(path.c.depth < max_steps)
    path = path.union_all(step)
    rows = await db.execute(select(path.c.id).order_by(path.c.depth))
    return [row[0] for row in rows]


async def newest_descendant(
    db: AsyncSession, conversation_id: uuid.UUID, start: uuid.UUID
) -> uuid.UUID:
    """Follow the newest reply from ``start`` down to a leaf (the branch a switch lands on)."""
    newest_child = (
        select(Message.id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(1)
    )
    down = select(literal(start).label("id"), literal(0).label("depth")).cte("down", recursive=True)
    step = select(
        newest_child.where(Message.parent_id == down.c.id).scalar_subquery().label("id"),
        (down.c.depth + 1).label("depth"),
    ).where(down.c.id.is_not(None))
    down = down.union_all(step)
    stmt = select(down.c.id).where(down.c.id.is_not(None)).order_by(down.c.depth.desc()).limit(1)
    leaf: uuid.UUID = (await db.execute(stmt)).scalar_one()
    return leaf


async def by_ids(db: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Message]:
    if not ids:
        return {}
    rows = (await db.execute(select(Message).where(Message.id.in_(ids)))).scalars()
    return {m.id: m for m in rows}


async def siblings(
    db: AsyncSession, conversation_id: uuid.UUID, messages: list[Message]
) -> dict[uuid.UUID | None, list[uuid.UUID]]:
    """For each parent among ``messages``: the ids of its children, oldest first."""
    parents = {m.parent_id for m in messages}
    if not parents:
        return {}
    named = [p for p in parents if p is not None]
    conditions = [Message.parent_id.in_(named)] if named else []
    if None in parents:
        conditions.append(Message.parent_id.is_(None))
    stmt = (
        select(Message.id, Message.parent_id)
        .where(Message.conversation_id == conversation_id, or_(*conditions))
        .order_by(Message.id)
    )
    children: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for child_id, parent_id in await db.execute(stmt):
        children[parent_id].append(child_id)
    return children


async def latest(db: AsyncSession, conversation_id: uuid.UUID) -> Message | None:
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def count(db: AsyncSession, conversation_id: uuid.UUID) -> int:
    stmt = (
        select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
    )
    return int((await db.execute(stmt)).scalar_one())


async def edits(db: AsyncSession, message_id: uuid.UUID) -> list[MessageEdit]:
    stmt = select(MessageEdit).where(MessageEdit.message_id == message_id).order_by(MessageEdit.id)
    return list((await db.execute(stmt)).scalars())


async def feedback(db: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID) -> Feedback | None:
    stmt = owned_by(select(Feedback), Feedback, user_id).where(Feedback.message_id == message_id)
    return (await db.execute(stmt)).scalar_one_or_none()
