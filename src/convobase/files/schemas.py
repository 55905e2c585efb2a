from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    content_type: str
    claimed_type: str | None
    size: int
    sha256: str = Field(validation_alias="blob_sha256")
    version: int
    conversation_id: uuid.UUID | None
    message_id: uuid.UUID | None
    analysis: dict[str, Any]
    created_at: datetime
    download_url: str | None = None


class FilePage(BaseModel):
    data: list[FileOut]
    next_cursor: str | None = None


class FileVersions(BaseModel):
    data: list[FileOut]
