"""Session store protocol: where sign-in sessions live (`sql` by default, `redis` when set).

Tokens never reach a store: callers pass the SHA-256 of the bearer token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    token_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    ip: str | None = None
    active_conversation_id: uuid.UUID | None = None

    def touched(self, now: datetime, expires_at: datetime) -> SessionRecord:
        return replace(self, last_seen_at=now, expires_at=expires_at)


class SessionStore(Protocol):
    async def create(self, record: SessionRecord) -> None:
        """Store a new session."""

    async def get_by_token_hash(self, token_hash: str, now: datetime) -> SessionRecord | None:
        """The live (unexpired) session with this token hash, else None."""

    async def get(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        """The live session with this id, else None."""

    async def list_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        """The user's live sessions, newest first."""

    async def touch(
        self, session_id: uuid.UUID, last_seen_at: datetime, expires_at: datetime
    ) -> None:
        """Record activity and slide the expiry (no-op for an unknown session)."""

    async def replace_token(self, session_id: uuid.UUID, token_hash: str) -> bool:
        """Rotate a session's token; False when the session is unknown."""

    async def set_active_conversation(
        self, session_id: uuid.UUID, conversation_id: uuid.UUID | None
    ) -> bool:
        """Remember the conversation this session is on; False when the session is unknown."""

    async def revoke(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Delete the user's session; False when it is not theirs or unknown."""

    async def revoke_all(self, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> int:
        """Delete every session of the user except ``keep``; returns how many went."""

    async def ping(self) -> None:
        """Raise when the store is unreachable."""


__all__ = ["SessionRecord", "SessionStore"]
