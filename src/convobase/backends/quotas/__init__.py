"""Quota stores: atomic check-and-reserve against per-user limits (`sql` default, `redis`).

A reservation holds part of the allowance while a request is in flight; settling it (after the
request's usage event has committed) turns it into usage, releasing it gives it back, and an
unsettled one expires. Either store lets exactly as many concurrent reservations through as
the remaining allowance covers, across any number of server processes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol

MICRO = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_day: int | None = None
    tokens_per_month: int | None = None
    cost_per_month_usd: Decimal | None = None

    @property
    def unlimited(self) -> bool:
        return (
            self.requests_per_day is None
            and self.tokens_per_month is None
            and self.cost_per_month_usd is None
        )


@dataclass(frozen=True, slots=True)
class Amount:
    requests: int = 1
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Counted:
    """Settled usage in the current windows (today; this month)."""

    requests_today: int = 0
    tokens_month: int = 0
    cost_month_usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Standing:
    used: Counted
    reserved: Counted


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str  # requests_per_day | tokens_per_month | cost_per_month_usd
    allowed: int | Decimal
    used: int | Decimal
    reserved: int | Decimal
    requested: int | Decimal
    resets_at: datetime


@dataclass(frozen=True, slots=True)
class Reservation:
    id: uuid.UUID
    expires_at: datetime


def day_window(now: datetime) -> tuple[date, datetime]:
    """Today (UTC) and when it ends."""
    today = now.astimezone(UTC).date()
    return today, datetime.combine(today + timedelta(days=1), time.min, UTC)


def month_window(now: datetime) -> tuple[date, datetime]:
    """The first day of this month (UTC) and when the month ends."""
    first = now.astimezone(UTC).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, datetime.combine(following, time.min, UTC)


def check(limits: Limits, standing: Standing, amount: Amount, now: datetime) -> Refusal | None:
    """The first limit ``amount`` would break on top of ``standing``, if any."""
    _, day_end = day_window(now)
    _, month_end = month_window(now)
    candidates: list[
        tuple[str, int | Decimal | None, int | Decimal, int | Decimal, int | Decimal, datetime]
    ] = [
        (
            "requests_per_day",
            limits.requests_per_day,
            standing.used.requests_today,
            standing.reserved.requests_today,
            amount.requests,
            day_end,
        ),
        (
            "tokens_per_month",
            limits.tokens_per_month,
            standing.used.tokens_month,
            standing.reserved.tokens_month,
            amount.tokens,
            month_end,
        ),
        (
            "cost_per_month_usd",
            limits.cost_per_month_usd,
            standing.used.cost_month_usd,
            standing.reserved.cost_month_usd,
            amount.cost_usd,
            month_end,
        ),
    ]
    for name, allowed, used, reserved, requested, resets_at in candidates:
        if allowed is not None and used + reserved + requested > allowed:
            return Refusal(name, allowed, used, reserved, requested, resets_at)
    return None


class QuotaStore(Protocol):
    async def reserve(
        self, user_id: uuid.UUID, limits: Limits, amount: Amount, now: datetime, ttl: timedelta
    ) -> Reservation | Refusal:
        """Atomically hold ``amount`` if every limit still allows it."""

    async def settle(
        self, user_id: uuid.UUID, reservation_id: uuid.UUID | None, amount: Amount, at: datetime
    ) -> None:
        """After a usage event committed: count ``amount`` and drop the reservation, if any."""

    async def holds(self, user_id: uuid.UUID, reservation_id: uuid.UUID, now: datetime) -> bool:
        """Whether the user holds this reservation (unexpired, not settled or released)."""

    async def release(self, user_id: uuid.UUID, reservation_id: uuid.UUID) -> bool:
        """Give a reservation back; False when it was not held (settled, expired, unknown)."""

    async def standing(self, user_id: uuid.UUID, now: datetime) -> Standing:
        """Usage and reservations in the current windows."""

    async def forget(self, user_id: uuid.UUID) -> None:
        """Drop what the store holds apart from the database for this user (counters,
        reservations), after its usage moved or its account went; recounted on next use."""

    async def merge(self, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
        """After ``from_id``'s usage and reservations moved to ``to_id`` in the database (a
        guest becoming an account): move what the store holds apart from it the same way."""
