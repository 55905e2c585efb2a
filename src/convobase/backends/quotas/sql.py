"""The `sql` quota store: usage from the daily rollups, reservations as rows.

Each reservation runs in a short transaction of its own that locks the user's row first
(PostgreSQL ``FOR UPDATE``; SQLite serialises writers with ``BEGIN IMMEDIATE``), so concurrent
reservations for one user are checked one after the other, whichever process they come from.
It commits at once: a reservation must be visible to other requests while its own is in flight.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.backends.quotas import (
    Amount,
    Counted,
    Limits,
    Refusal,
    Reservation,
    Standing,
    check,
    day_window,
    month_window,
)
from convobase.db.base import new_id
from convobase.db.engine import Database
from convobase.models import QuotaReservation, UsageDaily, User


class SqlQuotaStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def reserve(
        self, user_id: uuid.UUID, limits: Limits, amount: Amount, now: datetime, ttl: timedelta
    ) -> Reservation | Refusal:
        async with self.database.session() as db:
            await db.execute(select(User.id).where(User.id == user_id).with_for_update())
            await db.execute(
                delete(QuotaReservation).where(
                    QuotaReservation.user_id == user_id, QuotaReservation.expires_at <= now
                )
            )
            refusal = check(limits, await _standing(db, user_id, now), amount, now)
            if refusal is not None:
                await db.commit()  # keep the clean-up
                return refusal
            reservation = QuotaReservation(
                id=new_id(),
                user_id=user_id,
                requests=amount.requests,
                tokens=amount.tokens,
                cost_usd=amount.cost_usd,
                created_at=now,
                expires_at=now + ttl,
            )
            db.add(reservation)
            await db.commit()
            return Reservation(id=reservation.id, expires_at=reservation.expires_at)

    async def settle(
        self, user_id: uuid.UUID, reservation_id: uuid.UUID | None, amount: Amount, at: datetime
    ) -> None:
        # The usage itself is already in the rollups, written with the event.
        if reservation_id is not None:
            await self.release(user_id, reservation_id)

    async def holds(self, user_id: uuid.UUID, reservation_id: uuid.UUID, now: datetime) -> bool:
        async with self.database.session(write=False) as db:
            found = await db.scalar(
                select(QuotaReservation.id).where(
                    QuotaReservation.id == reservation_id,
                    QuotaReservation.user_id == user_id,
                    QuotaReservation.expires_at > now,
                )
            )
        return found is not None

    async def release(self, user_id: uuid.UUID, reservation_id: uuid.UUID) -> bool:
        async with self.database.session() as db:
            result = await db.execute(
                delete(QuotaReservation).where(
                    QuotaReservation.id == reservation_id, QuotaReservation.user_id == user_id
                )
            )
            await db.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def standing(self, user_id: uuid.UUID, now: datetime) -> Standing:
        async with self.database.session(write=False) as db:
            return await _standing(db, user_id, now)

    async def forget(self, user_id: uuid.UUID) -> None:
        """Nothing to do: counts come from the rollups, reservations go with the user row."""

    async def merge(self, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
        """Nothing to do: rollups and reservation rows moved in the merge's transaction."""


async def used_from_rollups(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> Counted:
    today, _ = day_window(now)
    month_start, _ = month_window(now)
    requests = await db.scalar(
        select(func.coalesce(func.sum(UsageDaily.requests), 0)).where(
            UsageDaily.user_id == user_id, UsageDaily.day == today
        )
    )
    tokens, cost = (
        await db.execute(
            select(
                func.coalesce(func.sum(UsageDaily.input_tokens + UsageDaily.output_tokens), 0),
                func.coalesce(func.sum(UsageDaily.cost_usd), 0),
            ).where(
                UsageDaily.user_id == user_id,
                UsageDaily.day >= month_start,
                UsageDaily.day <= today,
            )
        )
    ).one()
    return Counted(int(requests or 0), int(tokens), Decimal(str(cost)))


async def _standing(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> Standing:
    requests, tokens, cost = (
        await db.execute(
            select(
                func.coalesce(func.sum(QuotaReservation.requests), 0),
                func.coalesce(func.sum(QuotaReservation.tokens), 0),
                func.coalesce(func.sum(QuotaReservation.cost_usd), 0),
            ).where(QuotaReservation.user_id == user_id, QuotaReservation.expires_at > now)
        )
    ).one()
    reserved = Counted(int(requests), int(tokens), Decimal(str(cost)))
    return Standing(used=await used_from_rollups(db, user_id, now), reserved=reserved)
