from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, utcnow


class Message(IdMixin, Base):
    """One row per message: appending never rewrites the conversation."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # Counting a user's messages over a time range (UUIDv7 ids are time-ordered).
        Index("ix_messages_user_id_id", "user_id", "id"),
        Index("ix_messages_conversation_parent", "conversation_id", "parent_id"),
        # A page of a branch: one range of depths per segment of the path.
        Index("ix_messages_conversation_segment_depth", "conversation_id", "segment_id", "depth"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    # Where it sits in the tree, so a branch is read a page at a time (messages/repository.py):
    # its distance from the root, and the segment (the linear run of first replies) it belongs
    # to, named by the segment's first message. A message continues its parent's segment unless
    # that segment already continues below the parent (then it is a fork and starts its own).
    depth: Mapped[int]
    segment_id: Mapped[uuid.UUID]
    # Who wrote it when not the owner (a user the conversation is shared with for writing).
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    content: Mapped[str] = mapped_column(Text)  # flattened text of the parts, for search
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="complete")
    edit_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MessageEdit(IdMixin, Base):
    """A previous version of an edited message."""

    __tablename__ = "message_edits"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    edited_at: Mapped[datetime] = mapped_column(default=utcnow)
