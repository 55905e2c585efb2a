"""Usage queries: the event insert with its rollups, and the summaries read from the rollups."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.base import utcnow
from convobase.db.tenancy import owned_by
from convobase.models import Conversation, File, Message, UsageEvent, User
from convobase.models.usage import SYSTEM_ID, UsageDaily, UsageLatencyDaily, UsageUserPeriod

# Latency histogram: bucket b holds [GROWTH**b - 1, GROWTH**(b+1) - 1) ms, so a p95 read from
# it is within 25% of the exact value (reported as the bucket's upper bound).
GROWTH = 1.25


def latency_bucket(latency_ms: int) -> int:
    return int(math.log(latency_ms + 1, GROWTH))


def bucket_upper_ms(bucket: int) -> float:
    return round(GROWTH ** (bucket + 1) - 1, 1)


def _insert(db: AsyncSession) -> Any:
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


# The counters of a usage_daily row (its key is user, day, provider, model).
DAILY_COUNTERS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "unpriced",
    "latency_ms_sum",
    "latency_count",
)
_upserts: dict[str, tuple[Any, Any, Any]] = {}


def _rollup_upserts(db: AsyncSession) -> tuple[Any, Any, Any]:
    """The three rollup upserts, built once per dialect: the gateway runs them on every call,
    and building an ON CONFLICT statement costs more than executing it."""
    dialect = db.get_bind().dialect.name
    if dialect not in _upserts:
        insert = _insert(db)
        daily = insert(UsageDaily)
        daily = daily.on_conflict_do_update(
            index_elements=["user_id", "day", "provider", "model"],
            set_={k: getattr(UsageDaily, k) + daily.excluded[k] for k in DAILY_COUNTERS},
        )
        latency = insert(UsageLatencyDaily)
        latency = latency.on_conflict_do_update(
            index_elements=["user_id", "day", "bucket"],
            set_={"count": UsageLatencyDaily.count + latency.excluded.count},
        )
        periods = insert(UsageUserPeriod)
        periods = periods.on_conflict_do_update(
            index_elements=["user_id", "kind", "start"],
            set_={
                "requests": UsageUserPeriod.requests + periods.excluded.requests,
                "tokens": UsageUserPeriod.tokens + periods.excluded.tokens,
                "cost_usd": UsageUserPeriod.cost_usd + periods.excluded.cost_usd,
            },
        )
        _upserts[dialect] = (daily, latency, periods)
    return _upserts[dialect]


async def add_rollups(db: AsyncSession, event: UsageEvent) -> None:
    """Fold ``event`` into the rollups of its user and of the whole system: daily totals per
    provider and model, the latency histogram, and the user's day and month quota periods.
    Three statements, each upserting its rows together (executemany)."""
    daily, latency_hist, periods = _rollup_upserts(db)
    day = event.occurred_at.date()
    cost = event.cost_usd if event.cost_usd is not None else Decimal(0)
    latency = event.latency_ms
    totals = {
        "day": day,
        "provider": event.provider or "",
        "model": event.model or "",
        "requests": 1,
        "errors": 0 if event.status == "success" else 1,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cached_tokens": event.cached_tokens,
        "cost_usd": cost,
        # Any event without a cost (an unknown model, or none named) is unpriced: summaries
        # show its cost as unknown, never as $0.
        "unpriced": 1 if event.cost_usd is None else 0,
        "latency_ms_sum": latency or 0,
        "latency_count": 0 if latency is None else 1,
    }
    scopes = (event.user_id, SYSTEM_ID)
    await db.execute(daily, [{**totals, "user_id": scope} for scope in scopes])
    if latency is not None:
        bucket = latency_bucket(latency)
        await db.execute(
            latency_hist,
            [{"user_id": scope, "day": day, "bucket": bucket, "count": 1} for scope in scopes],
        )
    tokens = event.input_tokens + event.output_tokens
    await db.execute(
        periods,
        [
            {
                "user_id": event.user_id,
                "kind": kind,
                "start": start,
                "requests": 1,
                "tokens": tokens,
                "cost_usd": cost,
            }
            for kind, start in (("d", day), ("m", day.replace(day=1)))
        ],
    )


@dataclass(frozen=True, slots=True)
class Window:
    start: date  # inclusive
    end: date  # inclusive
    start_at: datetime
    end_at: datetime


def _daily_scope(user_id: uuid.UUID, window: Window) -> ColumnElement[bool]:
    return and_(
        UsageDaily.user_id == user_id, UsageDaily.day >= window.start, UsageDaily.day <= window.end
    )


_TOKENS = UsageDaily.input_tokens + UsageDaily.output_tokens


async def totals(db: AsyncSession, user_id: uuid.UUID, window: Window) -> dict[str, Any]:
    stmt = select(
        *(func.coalesce(func.sum(getattr(UsageDaily, k)), 0) for k in DAILY_COUNTERS)
    ).where(_daily_scope(user_id, window))
    row = (await db.execute(stmt)).one()
    return dict(zip(DAILY_COUNTERS, row, strict=True))


async def breakdown(
    db: AsyncSession, user_id: uuid.UUID, window: Window, column: Any
) -> list[tuple[str, int, int, Decimal, int]]:
    """Per ``column`` value: requests, tokens, the priced requests' cost, unpriced requests."""
    stmt = (
        select(
            column,
            func.sum(UsageDaily.requests),
            func.sum(_TOKENS),
            func.sum(UsageDaily.cost_usd),
            func.sum(UsageDaily.unpriced),
        )
        .where(_daily_scope(user_id, window))
        .group_by(column)
        .order_by(func.sum(UsageDaily.requests).desc())
    )
    return [tuple(row) for row in (await db.execute(stmt)).all()]


async def daily(
    db: AsyncSession, user_id: uuid.UUID, window: Window
) -> list[tuple[date, int, int, Decimal, int]]:
    stmt = (
        select(
            UsageDaily.day,
            func.sum(UsageDaily.requests),
            func.sum(_TOKENS),
            func.sum(UsageDaily.cost_usd),
            func.sum(UsageDaily.unpriced),
        )
        .where(_daily_scope(user_id, window))
        .group_by(UsageDaily.day)
        .order_by(UsageDaily.day)
    )
    return [tuple(row) for row in (await db.execute(stmt)).all()]  # type: ignore[misc]


async def latency_histogram(
    db: AsyncSession, user_id: uuid.UUID, window: Window
) -> list[tuple[int, int]]:
    stmt = (
        select(UsageLatencyDaily.bucket, func.sum(UsageLatencyDaily.count))
        .where(
            UsageLatencyDaily.user_id == user_id,
            UsageLatencyDaily.day >= window.start,
            UsageLatencyDaily.day <= window.end,
        )
        .group_by(UsageLatencyDaily.bucket)
        .order_by(UsageLatencyDaily.bucket)
    )
    return [(int(b), int(c)) for b, c in (await db.execute(stmt)).all()]


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True)
class PeriodRange:
    kind: str  # "m": the month row starting at ``lo``; "d": the day rows from ``lo`` to ``hi``
    lo: date
    hi: date
    sign: int  # +1 added, -1 subtracted


def period_ranges(window: Window, today: date) -> list[PeriodRange]:
    """The window as signed ranges of period rows: per month it touches, its month row when
    the window covers it whole; else, whichever reads fewer rows of its day rows inside the
    window (+) or the month row (+) less its day rows outside the window (-). Day rows exist
    only up to today, so a window ending today reads its last month as a single row."""
    ranges: list[PeriodRange] = []
    month = window.start.replace(day=1)
    while month <= window.end:
        last = _month_after(month) - timedelta(days=1)
        lo, hi = max(month, window.start), min(last, window.end)
        before = (month, lo - timedelta(days=1))
        after = (hi + timedelta(days=1), min(last, today))
        outside = [(a, b) for a, b in (before, after) if a <= b]
        outside_rows = sum((b - a).days + 1 for a, b in outside)
        if lo == month and hi == last:
            ranges.append(PeriodRange("m", month, month, 1))
        elif outside_rows + 1 < (hi - lo).days + 1:
            ranges.append(PeriodRange("m", month, month, 1))
            ranges += [PeriodRange("d", a, b, -1) for a, b in outside]
        else:
            ranges.append(PeriodRange("d", lo, hi, 1))
        month = _month_after(month)
    return ranges


def _condition(r: PeriodRange) -> ColumnElement[bool]:
    P = UsageUserPeriod
    if r.kind == "m":
        return and_(P.kind == "m", P.start == r.lo)
    return and_(P.kind == "d", P.start >= r.lo, P.start <= r.hi)


async def top_users(
    db: AsyncSession, window: Window, limit: int, *, today: date | None = None
) -> list[tuple[uuid.UUID, str | None, int, int, Decimal]]:
    P = UsageUserPeriod
    ranges = period_ranges(window, today or utcnow().date())
    subtracted = [_condition(r) for r in ranges if r.sign < 0]

    def signed(column: Any) -> Any:
        return case((or_(*subtracted), -column), else_=column) if subtracted else column

    requests = func.sum(signed(P.requests))
    cost = func.sum(signed(P.cost_usd))
    ranked = (
        select(
            P.user_id.label("user_id"),
            requests.label("requests"),
            func.sum(signed(P.tokens)).label("tokens"),
            cost.label("cost"),
        )
        .where(or_(*(_condition(r) for r in ranges)))
        .group_by(P.user_id)
        .having(requests > 0)  # a user whose only rows were subtracted away used nothing here
        .order_by(cost.desc(), requests.desc())
        .limit(limit)
        .subquery()
    )
    stmt = (
        select(ranked.c.user_id, User.email, ranked.c.requests, ranked.c.tokens, ranked.c.cost)
        .outerjoin(User, User.id == ranked.c.user_id)
        .order_by(ranked.c.cost.desc(), ranked.c.requests.desc())
    )
    return [tuple(row) for row in (await db.execute(stmt)).all()]


async def unpriced_by_user(
    db: AsyncSession, user_ids: list[uuid.UUID], window: Window
) -> dict[uuid.UUID, int]:
    """Unpriced requests of a few users (the top users) in the window, from their daily rows
    (the period rows behind top users count cost, not what is missing from it)."""
    if not user_ids:
        return {}
    stmt = (
        select(UsageDaily.user_id, func.sum(UsageDaily.unpriced))
        .where(
            UsageDaily.user_id.in_(user_ids),
            UsageDaily.day >= window.start,
            UsageDaily.day <= window.end,
        )
        .group_by(UsageDaily.user_id)
    )
    return {uid: int(n or 0) for uid, n in (await db.execute(stmt)).all()}


def _uuid7_floor(at: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of a millisecond: ids are time-ordered, so time ranges are id ranges."""
    return uuid.UUID(int=int(at.timestamp() * 1000) << 80)


async def created_counts(
    db: AsyncSession, user_id: uuid.UUID | None, window: Window
) -> tuple[int, int, int]:
    """Conversations, messages and files created in the window (index range scans on ids)."""
    low, high = _uuid7_floor(window.start_at), _uuid7_floor(window.end_at)
    counts = []
    for model in (Conversation, Message, File):
        stmt = select(func.count()).select_from(model).where(model.id >= low, model.id < high)
        if user_id is not None:
            stmt = owned_by(stmt, model, user_id)
        counts.append(int(await db.scalar(stmt) or 0))
    return counts[0], counts[1], counts[2]


@dataclass(frozen=True, slots=True)
class EventFilter:
    start: datetime
    end: datetime
    provider: str | None = None
    model: str | None = None
    status: str | None = None
    conversation_id: uuid.UUID | None = None


async def list_events(
    db: AsyncSession,
    user_id: uuid.UUID,
    where: EventFilter,
    *,
    before: uuid.UUID | None,
    limit: int,
) -> list[UsageEvent]:
    stmt = owned_by(select(UsageEvent), UsageEvent, user_id).where(
        UsageEvent.occurred_at >= where.start, UsageEvent.occurred_at < where.end
    )
    for column, value in (
        (UsageEvent.provider, where.provider),
        (UsageEvent.model, where.model),
        (UsageEvent.status, where.status),
        (UsageEvent.conversation_id, where.conversation_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if before is not None:
        stmt = stmt.where(UsageEvent.id < before)
    stmt = stmt.order_by(UsageEvent.id.desc()).limit(limit)
    return list((await db.execute(stmt)).scalars())
