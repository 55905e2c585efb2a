"""Rules on messages: appending (O(1) whatever the length), branches, edits, deletion.

A conversation's owner may do everything; a user it is shared with may list and read its
messages, and append only through a `write` share (a `read` share: 403 `read_only_share`).
Edits, deletions and feedback stay the owner's (anyone else: 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.conversations import repository as conversations
from convobase.db.base import new_id, utcnow
from convobase.db.tenancy import Access
from convobase.errors import Forbidden, ValidationFailed
from convobase.files import service as files
from convobase.messages import repository
from convobase.messages.schemas import (
    MAX_METADATA_BYTES,
    FeedbackIn,
    MessageCreate,
    MessageOut,
    MessageUpdate,
    file_ids,
    flatten,
    json_size,
)
from convobase.models import Conversation, Feedback, Message, MessageEdit, User
from convobase.search import index


def _parts_json(parts: list[Any]) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json", exclude_none=True) for p in parts]


def _invalid_parent() -> ValidationFailed:
    return ValidationFailed(
        "parent_id is not a message of this conversation",
        code="invalid_parent",
        details={
            "errors": [
                {
                    "loc": ["body", "parent_id"],
                    "type": "invalid_parent",
                    "msg": "not a message of this conversation",
                }
            ]
        },
    )


async def append(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    data: MessageCreate,
    *,
    id: uuid.UUID | None = None,
) -> Message:
    return (await append_chain(db, user, conversation_id, [(data, id)]))[0]


async def append_chain(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    items: Sequence[tuple[MessageCreate, uuid.UUID | None]],
) -> list[Message]:
    """Append messages one after another (each the reply to the one before; the first as
    ``append`` places it): one lock and one parent check for the whole chain, as the gateway
    stores a request's new messages and the answer."""
    # Lock the conversation row first (PostgreSQL FOR UPDATE; SQLite writers are already
    # serialised by BEGIN IMMEDIATE), so concurrent appends chain and count exactly.
    access = await conversations.get_shared_or_owned(
        db, user.id, conversation_id, utcnow(), for_update=True
    )
    if not access.can_write:
        raise Forbidden("This conversation is shared with you read-only", code="read_only_share")
    conversation = access.conversation
    first = items[0][0]
    if "parent_id" in first.model_fields_set:
        parent_id = first.parent_id
    else:  # continue the current branch (kept valid by append and delete)
        parent_id = conversation.current_leaf_id
    parent = None
    if parent_id is not None:
        parent = await repository.placement(db, conversation.id, parent_id)
        if parent is None:
            raise _invalid_parent()
    written: list[Message] = []
    for data, message_id in items:
        message = await _insert(db, user, access, data, parent_id, parent, message_id)
        written.append(message)
        # The next one replies to this one, a message without replies: it continues the segment.
        parent_id = message.id
        parent = repository.Placement(message.segment_id, message.depth, continued=False)
    await db.flush()  # one flush: the chain's rows and search documents together
    now = written[-1].created_at
    await db.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(
            message_count=Conversation.message_count + len(written),
            last_message_at=now,
            last_activity_at=now,
            current_leaf_id=written[-1].id,
        )
        .execution_options(synchronize_session=False)
    )
    return written


async def _insert(
    db: AsyncSession,
    user: User,
    access: Access,
    data: MessageCreate,
    parent_id: uuid.UUID | None,
    parent: repository.Placement | None,
    message_id: uuid.UUID | None,
) -> Message:
    conversation = access.conversation
    parts = data.resolved_parts() or []
    await files.check_references(db, user, file_ids(parts))
    now = utcnow()
    message_id = message_id or new_id()
    # A root or a fork starts a segment named after itself; a first reply continues its
    # parent's (a new reply never has replies, so nothing below it moves).
    starts_segment = parent is None or parent.continued
    message = Message(
        id=message_id,
        depth=0 if parent is None else parent.depth + 1,
        segment_id=message_id if starts_segment or parent is None else parent.segment_id,
        conversation_id=conversation.id,
        # The owner's id is the tenancy (shard) key of every message; a share's recipient is
        # recorded as the author.
        user_id=conversation.user_id,
        author_id=None if access.is_owner else user.id,
        parent_id=parent_id,
        role=data.role,
        parts=_parts_json(parts),
        content=flatten(parts),
        meta=data.metadata.model_dump(exclude_none=True) if data.metadata else {},
        status=data.status or "complete",
        edit_count=0,
        created_at=now,
        updated_at=now,
    )
    db.add(message)
    await index.index_message(db, message)  # same flush, same transaction
    return message


async def edit(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    data: MessageUpdate,
) -> Message:
    await conversations.get(db, user.id, conversation_id)
    message = await repository.get(db, user.id, conversation_id, message_id)
    fields = data.model_fields_set
    parts = data.resolved_parts()
    if parts is not None:
        await files.check_references(db, user, file_ids(parts))
    meta: dict[str, Any] | None = None
    if "metadata" in fields:
        meta = data.metadata.model_dump(exclude_none=True) if data.metadata else {}
    elif "model" in fields:  # only the model: the rest of the metadata stays
        meta = {k: v for k, v in message.meta.items() if k != "model"}
        if data.model is not None:
            meta["model"] = data.model
        if json_size(meta) > MAX_METADATA_BYTES:
            raise ValidationFailed(
                f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON",
                details={"errors": [{"loc": ["body", "model"], "msg": "metadata too large"}]},
            )
    if parts is not None or meta is not None:
        db.add(
            MessageEdit(
                message_id=message.id,
                user_id=user.id,
                parts=message.parts,
                content=message.content,
                meta=message.meta,
            )
        )
        message.edit_count += 1
    if parts is not None:
        message.parts = _parts_json(parts)
        message.content = flatten(parts)
    if meta is not None:
        message.meta = meta
    if data.status is not None:
        message.status = data.status
    message.updated_at = utcnow()
    await db.flush()
    if parts is not None:
        await index.reindex_message(db, message)
    return message


async def delete(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> None:
    conversation = await conversations.get(db, user.id, conversation_id, for_update=True)
    message = await repository.get(db, user.id, conversation_id, message_id)
    # Its replies move up to its parent, so the rest of the tree stays connected. Everything
    # below it comes one step closer to the root (O(subtree), the one write that costs more
    # than O(1)); the segment it was in keeps going through the reply that continued it, which
    # starts the segment (and names it) when the deleted message did.
    following = await repository.continuation(db, conversation.id, message)
    await db.execute(
        update(Message)
        .where(Message.id.in_(repository.descendants(conversation.id, message.id)))
        .values(depth=Message.depth - 1)
        .execution_options(synchronize_session=False)
    )
    if following is not None and message.segment_id == message.id:
        await db.execute(
            update(Message)
            .where(
                Message.conversation_id == conversation.id,
                Message.segment_id == message.id,
                Message.id != message.id,
            )
            .values(segment_id=following)
            .execution_options(synchronize_session=False)
        )
    await db.execute(
        update(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.parent_id == message.id,
        )
        .values(parent_id=message.parent_id)
        .execution_options(synchronize_session=False)
    )
    await index.unindex(db, message.id)
    await db.delete(message)
    await db.flush()
    latest = await repository.latest(db, conversation.id)
    if conversation.current_leaf_id == message.id:
        conversation.current_leaf_id = message.parent_id or (latest.id if latest else None)
    conversation.message_count = await repository.count(db, conversation.id)
    conversation.last_message_at = latest.created_at if latest else None
    await db.flush()


@dataclass(frozen=True, slots=True)
class Listing:
    messages: list[Message]
    has_more: bool


async def list_messages(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    descending: bool,
    leaf: uuid.UUID | str | None,
) -> Listing:
    """All messages by time, or (``leaf``) the path from the root to that leaf."""
    access = await conversations.get_shared_or_owned(db, user.id, conversation_id, utcnow())
    conversation = access.conversation
    if leaf is None:
        rows = await repository.chronological(
            db, conversation.id, limit=limit + 1, after=after, descending=descending
        )
        return Listing(rows[:limit], len(rows) > limit)
    leaf_id = conversation.current_leaf_id if leaf == "current" else leaf
    if leaf_id is None:
        return Listing([], False)
    if not isinstance(leaf_id, uuid.UUID):
        raise _invalid_leaf()
    rows = await _branch_page(
        db, conversation.id, leaf_id, limit=limit, after=after, desc=descending
    )
    return Listing(rows[:limit], len(rows) > limit)


def _invalid_leaf() -> ValidationFailed:
    return ValidationFailed("leaf_id is not a message of this conversation", code="invalid_leaf")


async def _branch_page(
    db: AsyncSession,
    conversation_id: uuid.UUID,
    leaf_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None,
    desc: bool,
) -> list[Message]:
    """Up to ``limit + 1`` messages of the path from the root to ``leaf_id`` (after the
    cursor's message): a few index lookups per fork on the path, then one index range per
    segment the page crosses, whatever the conversation's length."""
    if desc:
        # From the leaf (or the parent of the last message served) upwards.
        start = leaf_id
        if after is not None:
            if not await repository.exists_in(db, conversation_id, leaf_id):
                raise _invalid_leaf()
            last = await repository.by_ids(db, [after])
            if after not in last or last[after].conversation_id != conversation_id:
                return []
            parent_id = last[after].parent_id
            if parent_id is None:
                return []
            start = parent_id
        segments = await repository.path_segments(db, conversation_id, start, span=limit)
        if not segments:
            raise _invalid_leaf()
        high = segments[0].end
        low = max(0, high - limit)
        return await repository.path_page(
            db, conversation_id, segments, low=low, high=high, descending=True
        )
    segments = await repository.path_segments(db, conversation_id, leaf_id)
    if not segments:
        raise _invalid_leaf()
    low = 0
    if after is not None:
        # The cursor's message must be on this path: the message at its depth.
        served = (await repository.by_ids(db, [after])).get(after)
        if served is None or not any(
            s.id == served.segment_id and s.start <= served.depth <= s.end for s in segments
        ):
            return []
        low = served.depth + 1
    high = min(segments[0].end, low + limit)
    return await repository.path_page(
        db, conversation_id, segments, low=low, high=high, descending=False
    )


async def get_message(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    """A message of a conversation the user owns or that is shared with them."""
    access = await conversations.get_shared_or_owned(db, user.id, conversation_id, utcnow())
    return await repository.get(db, access.conversation.user_id, conversation_id, message_id)


async def to_out(
    db: AsyncSession, conversation_id: uuid.UUID, messages: list[Message]
) -> list[MessageOut]:
    children = await repository.siblings(db, conversation_id, messages)
    out = []
    for m in messages:
        sibling_ids = children.get(m.parent_id, [m.id])
        out.append(
            MessageOut(
                id=m.id,
                conversation_id=m.conversation_id,
                parent_id=m.parent_id,
                author_id=m.author_id,
                role=m.role,
                parts=m.parts,
                content=m.content,
                metadata=m.meta,
                status=m.status,
                edit_count=m.edit_count,
                sibling_ids=sibling_ids,
                sibling_index=sibling_ids.index(m.id) if m.id in sibling_ids else 0,
                created_at=m.created_at,
                updated_at=m.updated_at,
            )
        )
    return out


async def set_feedback(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    data: FeedbackIn,
) -> tuple[Feedback, bool]:
    await conversations.get(db, user.id, conversation_id)
    message = await repository.get(db, user.id, conversation_id, message_id)
    existing = await repository.feedback(db, user.id, message.id)
    if existing is not None:
        existing.rating = data.rating
        existing.comment = data.comment
        existing.updated_at = utcnow()
        await db.flush()
        return existing, False
    row = Feedback(message_id=message.id, user_id=user.id, rating=data.rating, comment=data.comment)
    db.add(row)
    await db.flush()
    return row, True
