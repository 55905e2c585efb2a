from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from convobase.timestamps import UTCDatetime


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    expires_at: UTCDatetime | None = Field(None, description="Absent: never expires.")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The full key. Shown only in this answer; store it now.")


class ApiKeyListOut(BaseModel):
    data: list[ApiKeyOut]
    next_cursor: str | None = None
