"""Shares of a conversation: by unguessable link (anyone holding it reads) or with a named user."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, utcnow


class Share(IdMixin, Base):
    __tablename__ = "shares"
    __table_args__ = (
        CheckConstraint("kind IN ('link', 'user')", name="kind"),
        CheckConstraint("mode IN ('snapshot', 'live')", name="mode"),
        CheckConstraint("permission IN ('read', 'write')", name="permission"),
        Index("ix_shares_conversation_id_id", "conversation_id", "id"),
        # What a named user sees shared with them (their conversation list joins on this).
        Index("ix_shares_recipient_conversation", "recipient_id", "conversation_id"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # The owner (the conversation's owner): the tenancy key, as on every owned row.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(8), default="live")
    permission: Mapped[str] = mapped_column(String(8), default="read")
    # Link shares: SHA-256 of the token (the token itself is shown once, at creation).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str | None] = mapped_column(String(16))
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    # Snapshot shares: the conversation's current path as it was when the share was made.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    access_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_accessed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
