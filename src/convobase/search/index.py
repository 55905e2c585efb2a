"""Writes to the search index, called by services in the transaction of the row they describe."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.models import Conversation, Message, SearchDoc
from convobase.search import vocabulary
from convobase.search.plain import plain_text


def owner_token(user_id: uuid.UUID) -> str:
    """A single FTS token naming the owner (letters and digits only)."""
    return "u" + user_id.hex


def message_doc(message: Message) -> SearchDoc:
    return SearchDoc(
        ref_id=message.id,
        kind="message",
        user_id=message.user_id,
        owner=owner_token(message.user_id),
        conversation_id=message.conversation_id,
        message_id=message.id,
        role=message.role,
        created_at=message.created_at,
        body=plain_text(message.content),
    )


def title_doc(conversation: Conversation) -> SearchDoc:
    return SearchDoc(
        ref_id=conversation.id,
        kind="title",
        user_id=conversation.user_id,
        owner=owner_token(conversation.user_id),
        conversation_id=conversation.id,
        message_id=None,
        role=None,
        created_at=conversation.created_at,
        body=conversation.title or "",
    )


async def index_message(db: AsyncSession, message: Message) -> None:
    doc = message_doc(message)
    db.add(doc)
    await vocabulary.add(db, [doc.body])


async def reindex_message(db: AsyncSession, message: Message) -> None:
    body = plain_text(message.content)
    await vocabulary.add(db, [body])
    await db.execute(
        update(SearchDoc)
        .where(SearchDoc.ref_id == message.id)
        .values(body=body, role=message.role)
        .execution_options(synchronize_session=False)
    )


async def unindex(db: AsyncSession, ref_id: uuid.UUID) -> None:
    await db.execute(
        delete(SearchDoc)
        .where(SearchDoc.ref_id == ref_id)
        .execution_options(synchronize_session=False)
    )


async def index_title(db: AsyncSession, conversation: Conversation) -> None:
    db.add(title_doc(conversation))
    await vocabulary.add(db, [conversation.title or ""])


async def reindex_title(db: AsyncSession, conversation: Conversation, when: datetime) -> None:
    await vocabulary.add(db, [conversation.title or ""])
    await db.execute(
        update(SearchDoc)
        .where(SearchDoc.ref_id == conversation.id)
        .values(body=conversation.title or "", created_at=when)
        .execution_options(synchronize_session=False)
    )
