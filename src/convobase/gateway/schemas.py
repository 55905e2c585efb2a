"""The chat completion request, as OpenAI defines it (unknown fields pass through upstream)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

MAX_MESSAGES = 2000


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = Field(None, max_length=200)
    tool_calls: list[dict[str, Any]] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=200)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    max_tokens: StrictInt | None = Field(None, ge=1, le=10_000_000)
    max_completion_tokens: StrictInt | None = Field(None, ge=1, le=10_000_000)
    # Convobase's own extras (never sent upstream).
    conversation_id: uuid.UUID | None = None

    def upstream_fields(self) -> dict[str, Any]:
        """The body minus Convobase's extras, with the model and stream settings left to us."""
        body = self.model_dump(exclude_none=True, exclude={"conversation_id"})
        body["messages"] = [m.model_dump(exclude_none=True) for m in self.messages]
        return body
