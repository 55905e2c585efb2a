"""Sharing: what a share request may say, what the owner sees, what the public sees."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from convobase.auth.schemas import Email
from convobase.timestamps import UTCDatetime


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["link", "user"] = Field(
        description="`link`: anyone holding the URL reads; `user`: one named account."
    )
    mode: Literal["snapshot", "live"] = Field(
        "live",
        description="`snapshot`: the current path as it is now; `live`: the conversation as it "
        "is when read. User shares are always live.",
    )
    permission: Literal["read", "write"] = Field(
        "read", description="`write` (user shares only): the recipient may append messages."
    )
    expires_at: UTCDatetime | None = Field(None, description="Absent: never expires.")
    user_email: Email | None = Field(None, description="The recipient (user shares only).")

    @model_validator(mode="after")
    def _consistent(self) -> ShareCreate:
        if self.kind == "user":
            if self.user_email is None:
                raise ValueError("user_email is required for a user share")
            if self.mode == "snapshot":
                raise ValueError("a user share is live (mode must be 'live')")
        else:
            if self.user_email is not None:
                raise ValueError("user_email is only for user shares")
            if self.permission == "write":
                raise ValueError("a link share is read-only (permission must be 'read')")
        return self


class ShareOut(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    kind: str
    mode: str
    permission: str
    token_prefix: str | None = Field(description="The link token's first characters.")
    recipient_email: str | None = Field(description="The recipient of a user share.")
    expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None
    expired: bool
    access_count: int = Field(description="Reads of a link share.")
    last_accessed_at: datetime | None
    created_at: datetime


class ShareCreatedOut(ShareOut):
    token: str | None = Field(
        None, description="The link's secret token (link shares). Shown only in this answer."
    )
    url: str | None = Field(None, description="The public page of a link share.")


class SharePage(BaseModel):
    data: list[ShareOut]
    next_cursor: str | None = None


class PublicMessage(BaseModel):
    role: str
    parts: list[dict[str, Any]]
    content: str
    model: str | None
    created_at: datetime


class PublicConversation(BaseModel):
    """A shared conversation as anyone with the link sees it: no ids, no owner."""

    title: str | None
    mode: str
    messages: list[PublicMessage] = Field(description="The path, oldest first.")
    truncated: bool = Field(description="Older messages of the path were left out.")
    as_of: datetime = Field(description="When the snapshot was taken (live: now).")
    expires_at: datetime | None
