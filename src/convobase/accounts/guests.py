"""Guests: anonymous users with a real row (role ``guest``), and pruning the idle ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts import repository
from convobase.accounts.service import delete_account
from convobase.auth.service import GUEST_EMAIL_DOMAIN, ClientInfo, IssuedSession, start_session
from convobase.db.base import new_id, utcnow
from convobase.db.session import run_after_commit
from convobase.errors import Forbidden, RateLimited
from convobase.models import User
from convobase.oauth import repository as oauth
from convobase.runtime import Runtime


def guest_email(user_id: object) -> str:
    """A placeholder that satisfies the unique email and can never be a real address."""
    return f"guest-{user_id}@{GUEST_EMAIL_DOMAIN}"


async def start_guest(
    db: AsyncSession, runtime: Runtime, client: ClientInfo
) -> tuple[User, IssuedSession]:
    settings = runtime.settings
    if not settings.guests_enabled:
        raise Forbidden("Guest sessions are turned off on this server", code="guests_disabled")
    if client.ip:
        decision = await runtime.limiter.hit(
            f"guest:ip:{client.ip}", settings.guest_ip_attempts, 3600
        )
        if not decision.allowed:
            raise RateLimited(decision.retry_after, "Too many guest sessions from this address")
    user_id = new_id()
    user = User(
        id=user_id,
        email=guest_email(user_id),
        role="guest",
        password_hash=None,
        last_active_at=utcnow(),
    )
    db.add(user)
    await db.flush()
    return user, await start_session(db, runtime, user, client)


@dataclass(slots=True)
class PruneReport:
    guests: int = 0
    sessions: int = 0
    reservations: int = 0


async def prune(runtime: Runtime, *, now: datetime | None = None, batch: int = 100) -> PruneReport:
    """Delete guests idle past ``guest_idle_hours`` (and all they own, by the same path as an
    account deletion), then expired sessions, sign-in states and quota reservations.

    One transaction per batch of guests, so a large backlog never holds a long lock.
    """
    now = now or utcnow()
    idle_before = now - timedelta(hours=runtime.settings.guest_idle_hours)
    report = PruneReport()
    while True:
        async with runtime.database.session() as db:
            guests = await repository.idle_guests(db, idle_before, batch)
            for guest in guests:
                await delete_account(db, runtime, guest)
            await db.commit()
        await run_after_commit(db)
        report.guests += len(guests)
        if len(guests) < batch:
            break
    async with runtime.database.session() as db:
        report.sessions, report.reservations = await repository.delete_expired(db, now)
        await oauth.delete_expired_states(db, now)
        await db.commit()
    return report
