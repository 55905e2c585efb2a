from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from convobase.usage.schemas import MAX_TOKENS


class QuotaIn(BaseModel):
    """An admin's limits for one user; a field set to null falls back to the default."""

    model_config = ConfigDict(extra="forbid")

    requests_per_day: StrictInt | None = Field(None, ge=0, le=10**9)
    tokens_per_month: StrictInt | None = Field(None, ge=0, le=10**15)
    cost_per_month_usd: Decimal | None = Field(None, ge=0, le=10**9)
    unlimited: StrictBool = False


class LimitStatus(BaseModel):
    limit: int | float | None
    used: int | float
    reserved: int | float
    remaining: int | float | None
    resets_at: datetime


class QuotaStatus(BaseModel):
    requests_per_day: LimitStatus
    tokens_per_month: LimitStatus
    cost_per_month_usd: LimitStatus
    unlimited: bool
    overridden: bool


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: StrictInt = Field(0, ge=0, le=MAX_TOKENS, description="Tokens the request may spend.")
    cost_usd: Decimal = Field(Decimal(0), ge=0, le=10**6, description="Spend it may incur.")


class ReservationOut(BaseModel):
    id: uuid.UUID | None = Field(description="Null when the user has no limits to hold.")
    expires_at: datetime | None
    unlimited: bool = False
