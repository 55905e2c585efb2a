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


class ConversationSearchHit(BaseModel):
    conversation_id: uuid.UUID
    title: str | None
    title_snippet: str | None = Field(
        description="The title, HTML-escaped with matches in <mark>, when it matched."
    )
    shared: bool = Field(description="Another user's conversation, shared with you.")
    rank: float = Field(description="Higher is better.")
    last_message_at: datetime | None
    messages: list[SearchHit] = Field(
        description="The best-matching messages (up to 3), best first: snippets hold the "
        "words found in each."
    )


class ConversationSearchPage(BaseModel):
    data: list[ConversationSearchHit]
    next_cursor: str | None = None
