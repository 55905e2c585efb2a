"""User preferences: one row per user, holding only the values the user chose."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, utcnow


class Preference(IdMixin, Base):
    """The values a user set, validated and canonical; defaults fill the rest when read.

    Storing only the choices means a default changed later reaches everyone who never chose
    otherwise, and a merge-patch ``null`` simply removes the key. No row: all defaults.
    """

    __tablename__ = "preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Incremented by every change, so clients syncing across devices can tell versions apart.
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
