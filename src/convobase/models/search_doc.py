from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base

MAX_TERM_LENGTH = 64  # longer runs of letters are not words anyone types


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


class SearchTerm(Base):
    """Every word the search documents have held (lower-cased, and once more without its
    diacritics), so a prefix typed in the search box becomes the whole words it stands for.

    Both engines answer an exact word from one posting list; a prefix costs FTS5 (and a GIN
    partial match) a merge of every matching word's postings across all users. Rows are never
    removed: a word no document holds any more just matches nothing. See migration 0011.
    """

    __tablename__ = "search_terms"

    # Byte order on both engines (SQLite's BINARY, PostgreSQL's "C"), so a prefix is a range.
    term: Mapped[str] = mapped_column(
        String(MAX_TERM_LENGTH).with_variant(String(MAX_TERM_LENGTH, collation="C"), "postgresql"),
        primary_key=True,
    )
