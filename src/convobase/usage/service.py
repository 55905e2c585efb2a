"""Usage: recording events (priced, rolled up in the same transaction) and summarising them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.config import Settings
from convobase.db.base import utcnow
from convobase.db.tenancy import get_owned
from convobase.errors import NotFound, ValidationFailed
from convobase.models import Conversation, Message, ModelPrice, UsageEvent, User
from convobase.models.usage import SYSTEM_ID, UsageDaily
from convobase.timestamps import FILTER_EARLIEST
from convobase.usage import pricing, repository
from convobase.usage.schemas import (
    Breakdown,
    DayPoint,
    ModelPriceIn,
    Summary,
    TopUser,
    Totals,
    UsageEventIn,
)

_FUTURE_SKEW = timedelta(minutes=5)


async def price_of(
    db: AsyncSession, model: str | None, provider: str | None, tokens: pricing.Tokens
) -> pricing.Price:
    override = await db.get(ModelPrice, model) if model else None
    return price_with(override, model, provider, tokens)


def price_with(
    override: ModelPrice | None, model: str | None, provider: str | None, tokens: pricing.Tokens
) -> pricing.Price:
    """The price of ``tokens`` from an admin's ``override`` (already read) or the table; the
    gateway reads the override once per call and prices both its estimate and the answer."""
    if not model:
        return pricing.Price(cost_usd=None, source=None, provider=None)
    if override is not None and (override.provider in (None, provider) or provider is None):
        return pricing.from_override(tokens, override)
    return pricing.from_table(tokens, model, provider)


async def record(
    db: AsyncSession,
    user: User,
    data: UsageEventIn,
    *,
    price: pricing.Price | None = None,
    references_checked: bool = False,
) -> UsageEvent:
    """Store one event with its server-computed cost, and fold it into the rollups.

    The gateway passes the ``price`` it already computed and ``references_checked`` for the
    conversation and message it has just written itself.
    """
    now = utcnow()
    occurred_at = data.occurred_at.astimezone(UTC) if data.occurred_at else now
    if occurred_at > now + _FUTURE_SKEW:
        raise ValidationFailed(
            "occurred_at is in the future",
            details={"errors": [{"loc": ["body", "occurred_at"], "msg": "in the future"}]},
        )
    if data.conversation_id is not None and not references_checked:
        await get_owned(db, Conversation, data.conversation_id, user.id, what="Conversation")
    if data.message_id is not None and not references_checked:
        message = await get_owned(db, Message, data.message_id, user.id, what="Message")
        if data.conversation_id is not None and message.conversation_id != data.conversation_id:
            raise NotFound("Message not found")
    tokens = pricing.Tokens(
        input=data.input_tokens,
        output=data.output_tokens,
        cached=data.cached_tokens,
        cache_write=data.cache_write_tokens,
    )
    if price is None:
        price = await price_of(db, data.model, data.provider, tokens)
    event = UsageEvent(
        user_id=user.id,
        occurred_at=occurred_at,
        endpoint=data.endpoint,
        provider=data.provider or price.provider,
        model=data.model,
        input_tokens=data.input_tokens,
        output_tokens=data.output_tokens,
        cached_tokens=data.cached_tokens,
        cache_write_tokens=data.cache_write_tokens,
        latency_ms=data.latency_ms,
        status=data.status,
        conversation_id=data.conversation_id,
        message_id=data.message_id,
        cost_usd=price.cost_usd,
        price_source=price.source,
        meta=data.metadata,
    )
    db.add(event)
    await db.flush()
    await repository.add_rollups(db, event)  # same transaction: never drifts from the events
    return event


# The default range of a summary, in whole UTC days ending with the end's day (today included).
# The API's default and the console's "Last N days" both come from `window`, so they agree.
DEFAULT_WINDOW_DAYS = 30


def window(
    settings: Settings,
    start: datetime | None,
    end: datetime | None,
    *,
    days: int = DEFAULT_WINDOW_DAYS,
    now: datetime | None = None,
) -> repository.Window:
    """The UTC day range a summary covers: from ``start``'s day to ``end``'s day (default:
    today), both whole; without ``start``, the ``days`` UTC days ending with ``end``'s day."""
    now = now or utcnow()
    end_at = (end or now).astimezone(UTC)
    if start is None:
        # Whole UTC days, never before the epoch (no UUIDv7 id, hence no id bound, is).
        first = max(end_at.date() - timedelta(days=days - 1), FILTER_EARLIEST.date())
        start_at = datetime.combine(first, time.min, UTC)
    else:
        start_at = start.astimezone(UTC)
    errors = []
    if start_at > end_at:
        errors.append({"loc": ["query", "start"], "msg": "start is after end", "type": "range"})
    elif (end_at - start_at).days > settings.usage_max_range_days:
        errors.append(
            {
                "loc": ["query", "start"],
                "msg": f"the range is longer than {settings.usage_max_range_days} days",
                "type": "range",
            }
        )
    if errors:
        raise ValidationFailed(
            "Invalid date range", code="invalid_range", details={"errors": errors}
        )
    first, last = start_at.date(), end_at.date()
    return repository.Window(
        start=first,
        end=last,
        start_at=datetime.combine(first, time.min, UTC),
        end_at=datetime.combine(last + timedelta(days=1), time.min, UTC),
    )


def _money(value: Decimal | int | float | None) -> float:
    return float(value or 0)


def _cost(value: Decimal | int | float | None, requests: int, unpriced: int) -> float | None:
    """The priced requests' cost; unknown (None) when every request was unpriced, since the
    rollups hold 0 for those and a total of $0 would read as free."""
    return None if requests and unpriced >= requests else _money(value)


def _p95(histogram: list[tuple[int, int]]) -> float | None:
    total = sum(count for _, count in histogram)
    if not total:
        return None
    threshold, seen = 0.95 * total, 0
    for bucket, count in histogram:
        seen += count
        if seen >= threshold:
            return repository.bucket_upper_ms(bucket)
    return repository.bucket_upper_ms(histogram[-1][0])


async def _breakdown(
    db: AsyncSession, scope: uuid.UUID, span: repository.Window, column: Any
) -> list[Breakdown]:
    return [
        Breakdown(
            key=key or "unknown",
            requests=r,
            total_tokens=t,
            cost_usd=_cost(c, r, int(n)),
            unpriced_requests=n,
        )
        for key, r, t, c, n in await repository.breakdown(db, scope, span, column)
    ]


async def summary(
    db: AsyncSession, user_id: uuid.UUID | None, span: repository.Window, *, top: int = 0
) -> Summary:
    """The caller's (``user_id``) or the whole system's (None) usage over ``span``."""
    scope = user_id if user_id is not None else SYSTEM_ID
    raw = await repository.totals(db, scope, span)
    histogram = await repository.latency_histogram(db, scope, span)
    conversations, messages, files = await repository.created_counts(db, user_id, span)
    requests, unpriced = int(raw["requests"]), int(raw["unpriced"])
    totals = Totals(
        requests=requests,
        errors=int(raw["errors"]),
        input_tokens=int(raw["input_tokens"]),
        output_tokens=int(raw["output_tokens"]),
        cached_tokens=int(raw["cached_tokens"]),
        total_tokens=int(raw["input_tokens"]) + int(raw["output_tokens"]),
        cost_usd=_cost(raw["cost_usd"], requests, unpriced),
        unpriced_requests=unpriced,
        avg_latency_ms=(
            round(int(raw["latency_ms_sum"]) / int(raw["latency_count"]), 1)
            if raw["latency_count"]
            else None
        ),
        p95_latency_ms=_p95(histogram),
    )

    by_provider = await _breakdown(db, scope, span, UsageDaily.provider)
    by_model = await _breakdown(db, scope, span, UsageDaily.model)
    series = [
        DayPoint(
            day=day, requests=r, total_tokens=t, cost_usd=_cost(c, r, int(n)), unpriced_requests=n
        )
        for day, r, t, c, n in await repository.daily(db, scope, span)
    ]
    leaders = None
    if top:
        ranked = await repository.top_users(db, span, top)
        unpriced_of = await repository.unpriced_by_user(db, [row[0] for row in ranked], span)
        leaders = [
            TopUser(
                user_id=uid,
                email=email,
                requests=r,
                total_tokens=t,
                cost_usd=_cost(c, r, unpriced_of.get(uid, 0)),
                unpriced_requests=unpriced_of.get(uid, 0),
            )
            for uid, email, r, t, c in ranked
        ]
    return Summary(
        start=span.start,
        end=span.end,
        conversations=conversations,
        messages=messages,
        files=files,
        totals=totals,
        by_provider=by_provider,
        by_model=by_model,
        daily=series,
        top_users=leaders,
    )


async def list_prices(db: AsyncSession) -> list[ModelPrice]:
    return list((await db.execute(select(ModelPrice).order_by(ModelPrice.model))).scalars())


async def set_price(db: AsyncSession, model: str, data: ModelPriceIn) -> ModelPrice:
    row = await db.get(ModelPrice, model)
    if row is None:
        row = ModelPrice(model=model)
        db.add(row)
    for field, value in data.model_dump().items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    await db.flush()
    return row


async def delete_price(db: AsyncSession, model: str) -> None:
    row = await db.get(ModelPrice, model)
    if row is None:
        raise NotFound("No price set for this model")
    await db.delete(row)
    await db.flush()
