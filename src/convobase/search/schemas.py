from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    kind: Literal["message", "title"]
    conversation_id: uuid.UUID
    conversation_title: str | None
    message_id: uuid.UUID | None
    role: str | None
    snippet: str = Field(description="HTML-escaped text with matches wrapped in <mark>.")
    rank: float = Field(description="Higher is better.")
    created_at: datetime


class SearchPage(BaseModel):
    data: list[SearchHit]
    next_cursor: str | None = None
