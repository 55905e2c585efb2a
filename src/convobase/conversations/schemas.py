from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

MAX_TAGS = 50
MAX_SETTINGS_BYTES = 16_384
MAX_SYSTEM_PROMPT = 100_000

Tag = Annotated[str, Field(min_length=1, max_length=64)]


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_SETTINGS_BYTES:
        raise ValueError(f"must be at most {MAX_SETTINGS_BYTES} bytes as JSON")
    return value


class ConversationSettings(BaseModel):
    """Known generation settings are typed; anything else is kept as given (size-bounded)."""

    model_config = ConfigDict(extra="allow")

    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    max_tokens: StrictInt | None = Field(None, ge=1, le=10_000_000)
    top_p: StrictFloat | None = Field(None, ge=0, le=1)


def _tags(value: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in value:
        stripped = tag.strip()
        if not stripped:
            raise ValueError("tags must not be blank")
        seen.setdefault(stripped, None)
    return list(seen)


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_tags)]


class ConversationFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=500)
    domain: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=35)
    model: str | None = Field(None, max_length=200)
    system_prompt: str | None = Field(None, max_length=MAX_SYSTEM_PROMPT)
    settings: ConversationSettings | None = None
    tags: Tags | None = None
    pinned: StrictBool | None = None
    archived: StrictBool | None = None

    @field_validator("settings")
    @classmethod
    def _settings_size(cls, value: ConversationSettings | None) -> ConversationSettings | None:
        if value is not None:
            _bounded_json(value.model_dump(exclude_none=True))
        return value


class ConversationCreate(ConversationFields):
    pass


class ConversationUpdate(ConversationFields):
    """Only the fields present change; `null` clears a field."""

    current_leaf_id: uuid.UUID | None = Field(
        None,
        description="Switch branch: the newest message under this one becomes the "
        "current leaf, where appends without parent_id continue.",
    )


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str | None
    domain: str | None
    language: str | None
    model: str | None
    system_prompt: str | None
    settings: dict[str, Any]
    tags: list[str]
    pinned: bool
    archived: bool
    message_count: int
    last_message_at: datetime | None
    current_leaf_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    shared: bool = Field(
        False, description="True when someone else owns it and shared it with you (a user share)."
    )
    permission: Literal["owner", "read", "write"] = Field(
        "owner", description="Yours (`owner`), or what the share lets you do: `read`, `write`."
    )


def conversation_out(conversation: object, permission: str = "owner") -> ConversationOut:
    """The answer for a conversation, marked shared when the caller is not its owner."""
    out = ConversationOut.model_validate(conversation)
    if permission != "owner":
        out = out.model_copy(update={"shared": True, "permission": permission})
    return out


class ConversationPage(BaseModel):
    data: list[ConversationOut]
    next_cursor: str | None = None
    total: int | None = None


class ActiveConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: uuid.UUID | None


class ActiveConversationOut(BaseModel):
    conversation_id: uuid.UUID | None
    conversation: ConversationOut | None = None
