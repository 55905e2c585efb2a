"""Quotas: each user's limits (defaults in settings, overrides by admins) and the
reserve -> settle | release cycle that the gateway and API clients use around a model call."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.backends.quotas import Amount, Limits, Refusal, Reservation, day_window, month_window
from convobase.config import Settings
from convobase.db.base import utcnow
from convobase.db.session import after_commit
from convobase.errors import ConvobaseError, NotFound
from convobase.models import UsageEvent, UserQuota
from convobase.quotas.schemas import LimitStatus, QuotaIn, QuotaStatus
from convobase.runtime import Runtime


class QuotaExceeded(ConvobaseError):
    status_code = 429
    code = "quota_exceeded"
    message = "Quota exceeded"


def _default_limits(settings: Settings) -> Limits:
    cost = settings.quota_cost_per_month_usd
    return Limits(
        requests_per_day=settings.quota_requests_per_day,
        tokens_per_month=settings.quota_tokens_per_month,
        cost_per_month_usd=None if cost is None else Decimal(str(cost)),
    )


async def limits_for(db: AsyncSession, settings: Settings, user_id: uuid.UUID) -> Limits:
    defaults = _default_limits(settings)
    override = await db.get(UserQuota, user_id)
    if override is None:
        return defaults
    if override.unlimited:
        return Limits()
    return Limits(
        requests_per_day=_pick(override.requests_per_day, defaults.requests_per_day),
        tokens_per_month=_pick(override.tokens_per_month, defaults.tokens_per_month),
        cost_per_month_usd=_pick(override.cost_per_month_usd, defaults.cost_per_month_usd),
    )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _refused(refusal: Refusal) -> QuotaExceeded:
    seconds = max(1, int((refusal.resets_at - utcnow()).total_seconds()))
    return QuotaExceeded(
        f"The {refusal.limit.replace('_', ' ')} limit is reached",
        details={
            "limit": refusal.limit,
            "allowed": _number(refusal.allowed),
            "used": _number(refusal.used),
            "reserved": _number(refusal.reserved),
            "requested": _number(refusal.requested),
            "resets_at": refusal.resets_at.isoformat(),
        },
        headers={"Retry-After": str(seconds)},
    )


def _number(value: int | Decimal) -> int | float:
    return float(value) if isinstance(value, Decimal) else value


async def reserve(runtime: Runtime, user_id: uuid.UUID, amount: Amount) -> Reservation | None:
    """Hold ``amount`` of the user's allowance (None: the user has no limits), else 429.

    Call it with no write transaction open: on SQLite the store's own short write transaction
    would wait for the caller's lock.
    """
    async with runtime.database.session(write=False) as db:
        limits = await limits_for(db, runtime.settings, user_id)
    if limits.unlimited:
        return None
    ttl = timedelta(seconds=runtime.settings.quota_reservation_seconds)
    result = await runtime.quotas.reserve(user_id, limits, amount, utcnow(), ttl)
    if isinstance(result, Refusal):
        raise _refused(result)
    return result


async def check_held(runtime: Runtime, user_id: uuid.UUID, reservation_id: uuid.UUID) -> None:
    if not await runtime.quotas.holds(user_id, reservation_id, utcnow()):
        raise NotFound(
            "Reservation not found (settled, released or expired: report the usage with "
            "POST /api/v1/usage/events instead)"
        )


async def release(runtime: Runtime, user_id: uuid.UUID, reservation_id: uuid.UUID) -> None:
    if not await runtime.quotas.release(user_id, reservation_id):
        raise NotFound("Reservation not found (settled, released or expired)")


def count_after_commit(
    db: AsyncSession, runtime: Runtime, event: UsageEvent, reservation_id: uuid.UUID | None = None
) -> None:
    """Once ``event`` is committed: count it in the quota counters, settling the reservation."""
    amount = Amount(
        requests=1,
        tokens=event.input_tokens + event.output_tokens,
        cost_usd=event.cost_usd or Decimal(0),
    )
    user_id, at = event.user_id, event.occurred_at
    after_commit(db, lambda: runtime.quotas.settle(user_id, reservation_id, amount, at))


async def status(db: AsyncSession, runtime: Runtime, user_id: uuid.UUID) -> QuotaStatus:
    now = utcnow()
    limits = await limits_for(db, runtime.settings, user_id)
    override = await db.get(UserQuota, user_id)
    standing = await runtime.quotas.standing(user_id, now)
    _, day_end = day_window(now)
    _, month_end = month_window(now)

    def line(
        limit: int | Decimal | None, used: int | Decimal, held: int | Decimal, end: Any
    ) -> LimitStatus:
        remaining = None if limit is None else max(limit - used - held, 0)
        return LimitStatus(
            limit=None if limit is None else _number(limit),
            used=_number(used),
            reserved=_number(held),
            remaining=None if remaining is None else _number(remaining),
            resets_at=end,
        )

    return QuotaStatus(
        requests_per_day=line(
            limits.requests_per_day,
            standing.used.requests_today,
            standing.reserved.requests_today,
            day_end,
        ),
        tokens_per_month=line(
            limits.tokens_per_month,
            standing.used.tokens_month,
            standing.reserved.tokens_month,
            month_end,
        ),
        cost_per_month_usd=line(
            limits.cost_per_month_usd,
            standing.used.cost_month_usd,
            standing.reserved.cost_month_usd,
            month_end,
        ),
        unlimited=limits.unlimited,
        overridden=override is not None,
    )


async def set_user_quota(db: AsyncSession, user_id: uuid.UUID, data: QuotaIn) -> None:
    row = await db.get(UserQuota, user_id)
    if row is None:
        row = UserQuota(user_id=user_id)
        db.add(row)
    row.requests_per_day = data.requests_per_day
    row.tokens_per_month = data.tokens_per_month
    row.cost_per_month_usd = data.cost_per_month_usd
    row.unlimited = data.unlimited
    row.updated_at = utcnow()
    await db.flush()
