from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

MAX_CONTENT = 100_000
MAX_PARTS = 100
MAX_METADATA_BYTES = 16_384
MAX_TOOL_PAYLOAD_BYTES = 262_144

Role = Literal["user", "assistant", "system", "tool"]
Status = Literal["pending", "streaming", "complete", "incomplete", "error", "cancelled"]


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Part):
    type: Literal["text"]
    text: str = Field(max_length=MAX_CONTENT)


class ImagePart(_Part):
    type: Literal["image"]
    url: str | None = Field(None, max_length=8192)
    file_id: uuid.UUID | None = None
    alt: str | None = Field(None, max_length=1000)
    mime_type: str | None = Field(None, max_length=100)


class CodePart(_Part):
    type: Literal["code"]
    code: str = Field(max_length=MAX_CONTENT)
    language: str | None = Field(None, max_length=50)
    filename: str | None = Field(None, max_length=255)


class FilePart(_Part):
    type: Literal["file"]
    file_id: uuid.UUID | None = None
    url: str | None = Field(None, max_length=8192)
    name: str | None = Field(None, max_length=255)
    mime_type: str | None = Field(None, max_length=100)


class ToolCallPart(_Part):
    type: Literal["tool_call"]
    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    arguments: Any = None


class ToolResultPart(_Part):
    type: Literal["tool_result"]
    tool_call_id: str = Field(min_length=1, max_length=200)
    content: Any = None
    is_error: StrictBool = False


Part = Annotated[
    TextPart | ImagePart | CodePart | FilePart | ToolCallPart | ToolResultPart,
    Field(discriminator="type"),
]


def file_ids(parts: list[Any]) -> list[uuid.UUID]:
    """The uploaded files that image and file parts point at."""
    return [
        part.file_id
        for part in parts
        if isinstance(part, ImagePart | FilePart) and part.file_id is not None
    ]


def flatten(parts: list[Any]) -> str:
    """The searchable text of a message: its text and code, tool names and results."""
    chunks: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            chunks.append(part.text)
        elif isinstance(part, CodePart):
            chunks.append(part.code)
        elif isinstance(part, ImagePart) and part.alt:
            chunks.append(part.alt)
        elif (isinstance(part, FilePart) and part.name) or isinstance(part, ToolCallPart):
            chunks.append(part.name or "")
        elif isinstance(part, ToolResultPart) and isinstance(part.content, str):
            chunks.append(part.content)
    return "\n".join(chunks)


class MessageMetadata(BaseModel):
    """Known keys are typed; anything else is kept as given (size-bounded)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=100)
    input_tokens: StrictInt | None = Field(None, ge=0)
    output_tokens: StrictInt | None = Field(None, ge=0)
    latency_ms: StrictInt | None = Field(None, ge=0)
    cost_usd: StrictFloat | None = Field(None, ge=0)
    finish_reason: str | None = Field(None, max_length=64)


def _check_metadata_size(value: MessageMetadata, name: str = "") -> None:
    if json_size(value.model_dump(exclude_none=True)) > MAX_METADATA_BYTES:
        raise ValueError(f"{name}must be at most {MAX_METADATA_BYTES} bytes as JSON")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: list[Part] | None = Field(None, min_length=1, max_length=MAX_PARTS)
    content: str | None = Field(
        None, max_length=MAX_CONTENT, description="Shorthand for one text part."
    )
    metadata: MessageMetadata | None = None
    model: str | None = Field(
        None,
        max_length=200,
        description="The model that wrote it: shorthand for `metadata.model`, where it is "
        "stored and read back (as in imported local chats).",
    )
    status: Status | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: MessageMetadata | None) -> MessageMetadata | None:
        if value is not None:
            _check_metadata_size(value)
        return value

    def fold_model(self) -> None:
        """Put a top-level ``model`` where a message's model lives: ``metadata.model``."""
        if self.model is None:
            return
        if self.metadata is None:
            self.metadata = MessageMetadata(model=self.model)
        elif self.metadata.model is None:
            self.metadata.model = self.model
            _check_metadata_size(self.metadata, "metadata with the model ")
        elif self.metadata.model != self.model:
            raise ValueError("model and metadata.model differ; give the model once")

    def resolved_parts(self) -> list[Any] | None:
        if self.parts is not None:
            return list(self.parts)
        if self.content is not None:
            return [TextPart(type="text", text=self.content)]
        return None

    def check_parts(self) -> None:
        parts = self.resolved_parts()
        if parts is None:
            return
        text = flatten(parts)
        if len(text) > MAX_CONTENT:
            raise ValueError(f"content must be at most {MAX_CONTENT} characters in all")
        if not text.strip() and not any(not isinstance(p, TextPart) for p in parts):
            raise ValueError("content must not be empty")
        if json_size([p.model_dump() for p in parts]) > MAX_TOOL_PAYLOAD_BYTES + MAX_CONTENT * 4:
            raise ValueError("parts are too large")


class MessageCreate(_Body):
    role: Role
    parent_id: uuid.UUID | None = Field(
        None,
        description="Answer this message (a new branch when it already has replies). "
        "Default: the conversation's current leaf.",
    )

    @model_validator(mode="after")
    def _has_content(self) -> MessageCreate:
        if self.parts is not None and self.content is not None:
            raise ValueError("give either parts or content, not both")
        if self.parts is None and self.content is None:
            raise ValueError("parts or content is required")
        self.check_parts()
        self.fold_model()
        return self


class MessageUpdate(_Body):
    """Editing keeps the previous version in the edit history. ``metadata`` replaces the
    metadata; ``model`` alone changes only ``metadata.model`` (null removes it)."""

    @model_validator(mode="after")
    def _one_thing(self) -> MessageUpdate:
        if self.parts is not None and self.content is not None:
            raise ValueError("give either parts or content, not both")
        self.check_parts()
        if "metadata" in self.model_fields_set:
            self.fold_model()
        return self


class MessageOut(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    parent_id: uuid.UUID | None
    author_id: uuid.UUID | None = Field(
        None, description="Who wrote it when not the owner (a user with a write share)."
    )
    role: str
    parts: list[dict[str, Any]]
    content: str
    metadata: dict[str, Any]
    status: str
    edit_count: int
    sibling_ids: list[uuid.UUID] = Field(description="This message and its alternatives.")
    sibling_index: int
    created_at: datetime
    updated_at: datetime


class MessageEditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    parts: list[dict[str, Any]]
    content: str
    metadata: dict[str, Any] = Field(validation_alias="meta")
    edited_at: datetime


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=5000)


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: uuid.UUID
    rating: str
    comment: str | None
    created_at: datetime
    updated_at: datetime


class MessageDetailOut(MessageOut):
    edits: list[MessageEditOut]
    feedback: FeedbackOut | None


class MessagePage(BaseModel):
    data: list[MessageOut]
    next_cursor: str | None = None
    total: int | None = None
