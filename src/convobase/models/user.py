from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String, false
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, TimestampMixin

ROLES = ("user", "admin")  # and "guest", given only by POST /api/v1/auth/guest


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin', 'guest')", name="role"),)

    # Stored lower-cased (normalised by the service) so uniqueness is case-insensitive everywhere.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    role: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Null for accounts that only sign in through an OAuth provider.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Guests: when they were last seen; `convobase prune` removes those idle too long.
    last_active_at: Mapped[datetime | None]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None
