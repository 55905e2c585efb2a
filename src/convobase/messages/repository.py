"""Queries on messages. Callers have already proven the conversation is the user's."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, literal, or_, select
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


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new reply to a message goes: the message's segment and depth, and whether the
    segment already continues below it (then the reply is a fork and starts a segment)."""

    segment_id: uuid.UUID
    depth: int
    continued: bool


async def placement(
    db: AsyncSession, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Placement | None:
    """None when the message is not in the conversation. Two index lookups, whatever the
    conversation's length."""
    below = aliased(Message)
    continued = (
        select(below.id)
        .where(
            below.conversation_id == Message.conversation_id,
            below.segment_id == Message.segment_id,
            below.depth == Message.depth + 1,
        )
        .exists()
    )
    stmt = select(Message.segment_id, Message.depth, continued).where(
        Message.id == message_id, Message.conversation_id == conversation_id
    )
    row = (await db.execute(stmt)).first()
    return None if row is None else Placement(row[0], row[1], bool(row[2]))


@dataclass(frozen=True, slots=True)
class Segment:
    """The part of one segment on a path: its messages at depths ``start`` to ``end``."""

    id: uuid.UUID
    start: int
    end: int


async def path_segments(
    db: AsyncSession, conversation_id: uuid.UUID, leaf_id: uuid.UUID, *, span: int | None = None
) -> list[Segment]:
    """The segments of the path from the root to ``leaf_id``, the leaf's first; with ``span``,
    only those holding one of the ``span + 1`` messages nearest the leaf. One step per fork on
    the path (a segment's first message, then its parent), never one per message. Empty when
    the leaf is not a message of the conversation."""
    leaf, first = aliased(Message), aliased(Message)
    anchor = (
        select(
            first.id.label("segment_id"),
            first.depth.label("start"),
            first.parent_id.label("parent_id"),
            leaf.depth.label("end"),
            leaf.depth.label("leaf_depth"),
        )
        .select_from(leaf)
        .join(first, first.id == leaf.segment_id)
        .where(leaf.id == leaf_id, leaf.conversation_id == conversation_id)
    )
    chain = anchor.cte("chain", recursive=True)
    parent, parent_first = aliased(Message), aliased(Message)
    step = (
        select(
            parent_first.id,
            parent_first.depth,
            parent_first.parent_id,
            parent.depth,
            chain.c.leaf_depth,
        )
        .select_from(chain)
        .join(parent, parent.id == chain.c.parent_id)
        # By primary key only (a parent is always in its reply's conversation): with a
        # conversation filter here SQLite's planner scans the conversation on the segment index.
        .join(parent_first, parent_first.id == parent.segment_id)
    )
    if span is not None:
        step = step.where(chain.c.start > chain.c.leaf_depth - span)
    chain = chain.union_all(step)
    rows = await db.execute(select(chain.c.segment_id, chain.c.start, chain.c.end))
    return sorted((Segment(*row) for row in rows), key=lambda s: -s.start)


async def path_page(
    db: AsyncSession,
    conversation_id: uuid.UUID,
    segments: list[Segment],
    *,
    low: int,
    high: int,
    descending: bool,
) -> list[Message]:
    """The messages of a path (``segments``) at depths ``low`` to ``high``, in depth order: one
    index range (conversation, segment, depth) per segment the window crosses."""
    ranges = [
        and_(
            Message.conversation_id == conversation_id,
            Message.segment_id == segment.id,
            Message.depth.between(max(segment.start, low), min(segment.end, high)),
        )
        for segment in segments
        if max(segment.start, low) <= min(segment.end, high)
    ]
    if not ranges:
        return []
    order = Message.depth.desc() if descending else Message.depth.asc()
    stmt = select(Message).where(or_(*ranges)).order_by(order).limit(high - low + 1)
    return list((await db.execute(stmt)).scalars())


async def path(db: AsyncSession, conversation_id: uuid.UUID, leaf_id: uuid.UUID) -> list[Message]:
    """The whole path from the root to ``leaf_id``, root first."""
    segments = await path_segments(db, conversation_id, leaf_id)
    if not segments:
        return []
    return await path_page(
        db, conversation_id, segments, low=0, high=segments[0].end, descending=False
    )


def descendants(conversation_id: uuid.UUID, message_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """A subquery of the ids below ``message_id`` (not itself), over the whole subtree."""
    below = (
        select(Message.id)
        .where(Message.conversation_id == conversation_id, Message.parent_id == message_id)
        .cte("below", recursive=True)
    )
    child = aliased(Message)
    below = below.union_all(
        select(child.id).where(
            child.conversation_id == conversation_id, child.parent_id == below.c.id
        )
    )
    return select(below.c.id)


async def continuation(
    db: AsyncSession, conversation_id: uuid.UUID, message: Message
) -> uuid.UUID | None:
    """The reply that continues ``message``'s segment, if any."""
    stmt = select(Message.id).where(
        Message.conversation_id == conversation_id,
        Message.segment_id == message.segment_id,
        Message.depth == message.depth + 1,
    )
    return (await db.execute(stmt)).scalar_one_or_none()


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
    # The conversation in every arm and no ORDER BY: each arm is then one lookup on
    # (conversation_id, parent_id). Sorting in SQL made SQLite walk the conversation's
    # (conversation_id, id) index instead, O(conversation) for a page of 50.
    in_conversation = Message.conversation_id == conversation_id
    conditions = [and_(in_conversation, Message.parent_id.in_(named))] if named else []
    if None in parents:
        conditions.append(and_(in_conversation, Message.parent_id.is_(None)))
    stmt = select(Message.id, Message.parent_id).where(or_(*conditions))
    children: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for child_id, parent_id in sorted(await db.execute(stmt), key=lambda row: row[0]):
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
