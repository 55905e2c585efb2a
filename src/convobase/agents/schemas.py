from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from convobase.messages.schemas import MAX_TOOL_PAYLOAD_BYTES, json_size
from convobase.timestamps import TimeFilter

ToolStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
LogLevel = Literal["debug", "info", "warning", "error"]


def _bounded(value: Any) -> Any:
    if value is not None and json_size(value) > MAX_TOOL_PAYLOAD_BYTES:
        raise ValueError(f"must be at most {MAX_TOOL_PAYLOAD_BYTES} bytes as JSON")
    return value


class ToolRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    input: Any = None
    message_id: uuid.UUID | None = None
    status: ToolStatus = "pending"

    _input = field_validator("input")(_bounded)


class ToolRunUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ToolStatus | None = None
    output: Any = None
    error: str | None = Field(None, max_length=20_000)
    duration_ms: StrictInt | None = Field(None, ge=0, le=7 * 86_400_000)
    tokens: StrictInt | None = Field(None, ge=0)

    _output = field_validator("output")(_bounded)


class ToolRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID | None
    name: str
    input: Any
    output: Any
    status: str
    error: str | None
    duration_ms: int | None
    tokens: int | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ToolRunPage(BaseModel):
    data: list[ToolRunOut]
    next_cursor: str | None = None


class AgentLogCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: LogLevel = "info"
    type: str = Field("event", min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=10_000)
    details: dict[str, Any] = Field(default_factory=dict)

    _details = field_validator("details")(_bounded)


class AgentLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    level: str
    type: str
    message: str
    details: dict[str, Any]
    created_at: datetime


class AgentLogPage(BaseModel):
    data: list[AgentLogOut]
    next_cursor: str | None = None


class LogFilter(BaseModel):
    level: LogLevel | None = None
    type: str | None = Field(None, max_length=64)
    since: TimeFilter | None = None
