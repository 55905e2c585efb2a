from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base


class SearchDoc(Base):
    """The search index's documents: one per message and one per conversation title.

    Written by the services in the same transaction as the row it describes. SQLite indexes it
    with an external-content FTS5 table (kept in step by triggers on this table); PostgreSQL with
    a GIN index on (user_id, to_tsvector('simple', body)). See migrations 0002.
    """

    __tablename__ = "search_docs"
    __table_args__ = (Index("ix_search_docs_conversation_id", "conversation_id"),)

    # INTEGER PRIMARY KEY on SQLite: the stable rowid that FTS5 refers to.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    ref_id: Mapped[uuid.UUID] = mapped_column(unique=True)  # the message or conversation id
    kind: Mapped[str] = mapped_column(String(16))  # message | title
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # One token naming the owner, so FTS5 intersects the owner's postings with the query's.
    owner: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[uuid.UUID | None]
    role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
