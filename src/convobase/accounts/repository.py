"""Bulk queries behind guest merges, account deletion and pruning, driven by the registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts.ownership import OnDelete, OnMerge, Owned, entries
from convobase.db.base import utcnow
from convobase.models import (
    AuthSession,
    Base,
    Feedback,
    File,
    ImportedConversation,
    Preference,
    QuotaReservation,
    Share,
    User,
)
from convobase.models.usage import SYSTEM_ID
from convobase.search.index import owner_token


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _insert(db: AsyncSession) -> Any:
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


def _extra_values(entry: Owned, target: uuid.UUID) -> dict[str, Any]:
    if entry.table == "search_docs":
        return {"owner": owner_token(target)}
    return {}


async def blob_shas_of_user(db: AsyncSession, user_id: uuid.UUID) -> list[str]:
    stmt = select(File.blob_sha256).where(File.user_id == user_id).distinct()
    return list((await db.execute(stmt)).scalars())


# --- merge: a guest's rows become the account's --------------------------------------------


async def _drop_merge_conflicts(db: AsyncSession, guest: uuid.UUID, account: uuid.UUID) -> None:
    """Rows of the guest that would break a unique key once moved: the account's copy wins."""
    mine = Feedback.__table__.alias("mine")
    await db.execute(
        delete(Feedback).where(
            Feedback.user_id == guest,
            exists().where(mine.c.message_id == Feedback.message_id, mine.c.user_id == account),
        )
    )
    theirs = ImportedConversation.__table__.alias("theirs")
    await db.execute(
        delete(ImportedConversation).where(
            ImportedConversation.user_id == guest,
            exists().where(
                theirs.c.user_id == account,
                theirs.c.source == ImportedConversation.source,
                theirs.c.source_id == ImportedConversation.source_id,
            ),
        )
    )


async def renumber_library_files(db: AsyncSession, guest: uuid.UUID, account: uuid.UUID) -> None:
    """A guest's file outside conversations whose name the account already has becomes the
    newer versions of the account's file (versions continue, never repeat)."""
    mine = File.__table__.alias("mine")
    highest = (
        select(func.max(mine.c.version))
        .where(
            mine.c.user_id == account,
            mine.c.conversation_id.is_(None),
            mine.c.filename == File.filename,
        )
        .scalar_subquery()
    )
    await db.execute(
        update(File)
        .where(File.user_id == guest, File.conversation_id.is_(None), highest.is_not(None))
        .values(version=File.version + highest)
        .execution_options(synchronize_session=False)
    )


async def move_preferences(db: AsyncSession, guest: uuid.UUID, account: uuid.UUID) -> None:
    """Whole documents, never mixed (two valid documents can combine into an invalid one):
    the account's preferences win when it has any; otherwise the guest's become the account's.
    The guest's row, when not moved, goes with the guest (cascade)."""
    theirs = await db.scalar(select(Preference).where(Preference.user_id == guest))
    if theirs is None or not theirs.data:
        return
    mine = await db.scalar(select(Preference).where(Preference.user_id == account))
    if mine is not None and mine.data:
        return
    version = max(theirs.version, mine.version if mine else 0) + 1  # syncing clients see a change
    if mine is not None:
        await db.delete(mine)
        await db.flush()
    theirs.user_id, theirs.version, theirs.updated_at = account, version, utcnow()
    await db.flush()


async def move_rows(db: AsyncSession, guest: uuid.UUID, account: uuid.UUID) -> None:
    await _drop_merge_conflicts(db, guest, account)
    for entry in entries(merge=OnMerge.MOVE):
        table = _table(entry.table)
        column = table.c[entry.column]
        await db.execute(
            update(table)
            .where(column == guest)
            .values({entry.column: account, **_extra_values(entry, account)})
        )
    # A share the guest received for what is now the account's own conversation.
    await db.execute(delete(Share).where(Share.recipient_id == account, Share.user_id == account))


async def sum_rollups(db: AsyncSession, guest: uuid.UUID, account: uuid.UUID) -> None:
    """Add the guest's rollup rows into the account's (INSERT ... SELECT ... ON CONFLICT), then
    drop the guest's. Keys are the primary key minus ``user_id``; counters the other columns."""
    insert = _insert(db)
    for entry in entries(merge=OnMerge.SUM):
        table = _table(entry.table)
        owner = table.c[entry.column]
        keys = [c.name for c in table.primary_key.columns if c.name != entry.column]
        counters = [c.name for c in table.columns if not c.primary_key]
        names = [entry.column, *keys, *counters]
        source = select(
            literal(account, owner.type).label(entry.column),
            *(table.c[name] for name in keys + counters),
        ).where(owner == guest)
        stmt = insert(table).from_select(names, source)
        excluded = stmt.excluded
        await db.execute(
            stmt.on_conflict_do_update(
                index_elements=[entry.column, *keys],
                set_={name: table.c[name] + excluded[name] for name in counters},
            )
        )
        await db.execute(delete(table).where(owner == guest))


# --- deletion: what the foreign keys do not ------------------------------------------------


async def anonymise_usage(db: AsyncSession, user_id: uuid.UUID, anon_id: uuid.UUID) -> None:
    """Move the user's usage to ``anon_id`` and strip what ties an event to them."""
    assert user_id != SYSTEM_ID
    for entry in entries(delete=OnDelete.ANONYMISE):
        table = _table(entry.table)
        values: dict[str, Any] = {entry.column: anon_id}
        if entry.table == "usage_events":
            values |= {
                "conversation_id": None,
                "message_id": None,
                "metadata": {},
            }
        await db.execute(update(table).where(table.c[entry.column] == user_id).values(values))


async def delete_user_row(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the user; ON DELETE CASCADE / SET NULL take the rest (see the registry)."""
    await db.execute(
        delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
    )


# --- pruning -------------------------------------------------------------------------------


async def idle_guests(db: AsyncSession, idle_before: datetime, limit: int) -> list[User]:
    last_seen = func.coalesce(User.last_active_at, User.created_at)
    stmt = (
        select(User)
        .where(User.role == "guest", last_seen < idle_before)
        .order_by(User.id)
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars())


async def delete_expired(db: AsyncSession, now: datetime) -> tuple[int, int]:
    """Expired rows of the `sql` session table and stale quota reservations."""
    sessions = await db.execute(delete(AuthSession).where(AuthSession.expires_at <= now))
    reservations = await db.execute(
        delete(QuotaReservation).where(QuotaReservation.expires_at <= now)
    )
    return _count(sessions), _count(reservations)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
