"""Rules on conversations."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.conversations import repository
from convobase.conversations.schemas import ConversationCreate, ConversationUpdate
from convobase.db.base import new_id, utcnow
from convobase.errors import ValidationFailed
from convobase.files import service as files
from convobase.messages import repository as messages
from convobase.models import Conversation, User
from convobase.runtime import Runtime
from convobase.search import index

_PLAIN_FIELDS = ("title", "domain", "language", "model", "system_prompt", "pinned", "archived")


async def create(
    db: AsyncSession, user: User, data: ConversationCreate, *, id: uuid.UUID | None = None
) -> Conversation:
    """A new conversation; ``id`` may be chosen ahead (the gateway announces it in headers)."""
    now = utcnow()
    conversation = Conversation(
        id=id or new_id(),
        user_id=user.id,
        title=data.title,
        domain=data.domain,
        language=data.language,
        model=data.model,
        system_prompt=data.system_prompt,
        settings=data.settings.model_dump(exclude_none=True) if data.settings else {},
        tags=data.tags or [],
        pinned=bool(data.pinned),
        archived=bool(data.archived),
        message_count=0,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    db.add(conversation)
    await db.flush()
    if conversation.tags:
        await repository.replace_tags(db, conversation, conversation.tags)
    await index.index_title(db, conversation)
    await db.flush()
    return conversation


async def update(
    db: AsyncSession, user: User, conversation_id: uuid.UUID, data: ConversationUpdate
) -> Conversation:
    conversation = await repository.get(db, user.id, conversation_id)
    fields = data.model_fields_set
    for name in _PLAIN_FIELDS:
        if name in fields:
            value = getattr(data, name)
            if name in ("pinned", "archived") and value is None:
                value = False
            setattr(conversation, name, value)
    if "settings" in fields:
        conversation.settings = data.settings.model_dump(exclude_none=True) if data.settings else {}
    if "current_leaf_id" in fields:
        conversation.current_leaf_id = await _branch_leaf(db, conversation, data.current_leaf_id)
    if "tags" in fields:
        conversation.tags = data.tags or []
        await repository.replace_tags(db, conversation, conversation.tags)
    await db.flush()
    if "title" in fields:
        await index.reindex_title(db, conversation, conversation.created_at)
    return conversation


async def _branch_leaf(
    db: AsyncSession, conversation: Conversation, message_id: uuid.UUID | None
) -> uuid.UUID | None:
    if message_id is None:
        return None
    if not await messages.exists_in(db, conversation.id, message_id):
        raise ValidationFailed(
            "current_leaf_id is not a message of this conversation", code="invalid_leaf"
        )
    return await messages.newest_descendant(db, conversation.id, message_id)


async def delete(
    db: AsyncSession, runtime: Runtime, user: User, conversation_id: uuid.UUID
) -> None:
    conversation = await repository.get(db, user.id, conversation_id)
    await files.release_conversation_blobs(db, runtime, conversation.id)
    # Messages, tags, tool runs, logs and search documents go with it (ON DELETE CASCADE).
    await db.delete(conversation)
    await db.flush()
