from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from convobase.timestamps import UTCDatetime

MAX_TOKENS = 1_000_000_000  # per event; far above any model's context window
Status = Literal["success", "error", "cancelled", "timeout"]


class UsageEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, min_length=1, max_length=100)
    model: str | None = Field(None, min_length=1, max_length=200)
    input_tokens: StrictInt = Field(0, ge=0, le=MAX_TOKENS)
    output_tokens: StrictInt = Field(0, ge=0, le=MAX_TOKENS)
    cached_tokens: StrictInt = Field(
        0, ge=0, le=MAX_TOKENS, description="Prompt-cache reads (part of input_tokens)."
    )
    cache_write_tokens: StrictInt = Field(
        0, ge=0, le=MAX_TOKENS, description="Prompt-cache writes (part of input_tokens)."
    )
    latency_ms: StrictInt | None = Field(None, ge=0, le=86_400_000)
    status: Status = "success"
    conversation_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    occurred_at: UTCDatetime | None = Field(
        None, description="Default: now. At most 5 minutes ahead."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cache_within_input(self) -> UsageEventIn:
        if self.cached_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError("cached_tokens + cache_write_tokens cannot exceed input_tokens")
        return self

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        import json

        if len(json.dumps(value, default=str)) > 4096:
            raise ValueError("metadata is limited to 4 KB")
        return value


class UsageEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    endpoint: str | None
    provider: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    latency_ms: int | None
    status: str
    conversation_id: uuid.UUID | None
    message_id: uuid.UUID | None
    cost_usd: float | None
    price_source: str | None
    price_unknown: bool = False
    metadata: dict[str, Any] = Field(validation_alias="meta")

    @model_validator(mode="after")
    def _flag(self) -> UsageEventOut:
        self.price_unknown = self.cost_usd is None
        return self


class UsageEventPage(BaseModel):
    data: list[UsageEventOut]
    next_cursor: str | None = None


# Every cost in a summary means the same: the sum over the priced requests, null when there
# were requests and none of them could be priced (unknown, never $0); `unpriced_requests` says
# how many requests a cost leaves out (a cost with unpriced_requests > 0 is a lower bound).
def _cost() -> Any:
    return Field(
        description="USD over the priced requests; null when there were requests and none "
        "was priced (unknown model). Partial when unpriced_requests > 0."
    )


def _unpriced() -> Any:
    return Field(0, description="Requests with no known price, not included in cost_usd.")


class Totals(BaseModel):
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = _cost()
    unpriced_requests: int = _unpriced()
    avg_latency_ms: float | None = None
    p95_latency_ms: float | None = None


class Breakdown(BaseModel):
    key: str
    requests: int
    total_tokens: int
    cost_usd: float | None = _cost()
    unpriced_requests: int = _unpriced()


class DayPoint(BaseModel):
    day: date
    requests: int
    total_tokens: int
    cost_usd: float | None = _cost()
    unpriced_requests: int = _unpriced()


class TopUser(BaseModel):
    user_id: uuid.UUID
    email: str | None
    requests: int
    total_tokens: int
    cost_usd: float | None = _cost()
    unpriced_requests: int = _unpriced()


class Summary(BaseModel):
    start: date
    end: date
    conversations: int
    messages: int
    files: int
    totals: Totals
    by_provider: list[Breakdown]
    by_model: list[Breakdown]
    daily: list[DayPoint]
    top_users: list[TopUser] | None = None


class ModelPriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(None, max_length=100)
    input_per_mtok: Decimal = Field(ge=0, le=1_000_000)
    output_per_mtok: Decimal = Field(ge=0, le=1_000_000)
    cache_read_per_mtok: Decimal | None = Field(None, ge=0, le=1_000_000)
    cache_write_per_mtok: Decimal | None = Field(None, ge=0, le=1_000_000)


class ModelPriceOut(ModelPriceIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    model: str
    updated_at: datetime
