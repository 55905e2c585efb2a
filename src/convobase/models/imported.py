"""Which outside conversation became which of ours: makes imports idempotent by source id."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, utcnow


class ImportedConversation(Base):
    __tablename__ = "imported_conversations"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(16), primary_key=True)  # chatgpt|convobase|local
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Deleting the conversation forgets the import, so importing the file again brings it back.
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
