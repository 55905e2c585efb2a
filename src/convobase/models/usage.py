"""Usage metering: raw events, daily rollups (written with each event), prices, quotas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, utcnow

# Dollars with nine decimals: exact sums of per-token prices (a token can cost $1e-8).
Money = Numeric(20, 9)


class UsageEvent(IdMixin, Base):
    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_user_occurred", "user_id", "occurred_at", "id"),
        Index("ix_usage_events_occurred", "occurred_at"),
    )

    # No foreign key: deleting an account keeps its usage for billing under a random id.
    user_id: Mapped[uuid.UUID]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    endpoint: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="success")
    # No foreign keys: usage outlives the conversation it was spent on.
    conversation_id: Mapped[uuid.UUID | None]
    message_id: Mapped[uuid.UUID | None]
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    price_source: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


# Rollup rows for the whole system carry this id instead of a user's (so no foreign key).
SYSTEM_ID = uuid.UUID(int=0)


class UsageDaily(Base):
    """Per user (or SYSTEM_ID), day, provider and model: what summaries read, not raw events."""

    __tablename__ = "usage_daily"
    __table_args__ = (Index("ix_usage_daily_day_user", "day", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    unpriced: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_count: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageUserPeriod(Base):
    """Per user totals by day (``kind`` "d") and by month ("m", ``start`` its first day).

    Ranks the top users of any date range from month rows and signed day rows at its edges
    (``usage.repository.period_ranges``): a few thousand rows, not one per user, day, provider
    and model.
    """

    __tablename__ = "usage_user_periods"
    __table_args__ = (
        Index(
            "ix_usage_user_periods_ranking",
            "kind",
            "start",
            "user_id",
            "requests",
            "tokens",
            "cost_usd",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    start: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))


class UsageLatencyDaily(Base):
    """A latency histogram per user (or SYSTEM_ID) and day, for p95 without raw events."""

    __tablename__ = "usage_latency_daily"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class ModelPrice(Base):
    """An admin's price for a model the price table lacks or prices differently."""

    __tablename__ = "model_prices"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str | None] = mapped_column(String(100))
    input_per_mtok: Mapped[Decimal] = mapped_column(Money)
    output_per_mtok: Mapped[Decimal] = mapped_column(Money)
    cache_read_per_mtok: Mapped[Decimal | None] = mapped_column(Money)
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserQuota(Base):
    """An admin's per-user limits; a null limit falls back to the default in settings."""

    __tablename__ = "user_quotas"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    requests_per_day: Mapped[int | None] = mapped_column(BigInteger)
    tokens_per_month: Mapped[int | None] = mapped_column(BigInteger)
    cost_per_month_usd: Mapped[Decimal | None] = mapped_column(Money)
    unlimited: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaReservation(IdMixin, Base):
    """Allowance held for a request in flight (SQL quota store); expires if never settled."""

    __tablename__ = "quota_reservations"
    __table_args__ = (Index("ix_quota_reservations_user_expires", "user_id", "expires_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    requests: Mapped[int] = mapped_column(Integer, default=1)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
