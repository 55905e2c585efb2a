"""Queries on files and blobs; every owner filter goes through the tenancy helper."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.tenancy import get_owned, owned_by
from convobase.models import Blob, File, User


def blob_key(sha256: str) -> str:
    """Where a blob lives in storage: fanned out so no folder grows huge."""
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


async def get(db: AsyncSession, user_id: uuid.UUID, file_id: uuid.UUID) -> File:
    return await get_owned(db, File, file_id, user_id, what="File")


async def get_unscoped(db: AsyncSession, file_id: uuid.UUID) -> File | None:
    """For signed download links and shared pages only: the signature, or the file's place in
    a live share, grants access (not a session)."""
    return await db.get(File, file_id)


async def list_files(
    db: AsyncSession,
    user_id: uuid.UUID,
    *,
    conversation_id: uuid.UUID | None,
    before: uuid.UUID | None,
    limit: int,
) -> list[File]:
    stmt = owned_by(select(File), File, user_id)
    if conversation_id is not None:
        stmt = stmt.where(File.conversation_id == conversation_id)
    if before is not None:
        stmt = stmt.where(File.id < before)
    return list((await db.execute(stmt.order_by(File.id.desc()).limit(limit))).scalars())


async def versions(db: AsyncSession, file: File) -> list[File]:
    stmt = owned_by(select(File), File, file.user_id).where(
        File.conversation_id.is_(None)
        if file.conversation_id is None
        else File.conversation_id == file.conversation_id,
        File.filename == file.filename,
    )
    return list((await db.execute(stmt.order_by(File.version))).scalars())


async def latest_version(
    db: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID | None, filename: str
) -> int:
    stmt = owned_by(select(func.max(File.version)), File, user_id).where(
        File.conversation_id.is_(None)
        if conversation_id is None
        else File.conversation_id == conversation_id,
        File.filename == filename,
    )
    return (await db.scalar(stmt)) or 0


async def lock_user(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise a user's uploads outside conversations (PostgreSQL; SQLite writers queue)."""
    await db.execute(select(User.id).where(User.id == user_id).with_for_update())


async def owned_ids(
    db: AsyncSession, user_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    wanted = set(ids)
    if not wanted:
        return set()
    stmt = owned_by(select(File.id), File, user_id).where(File.id.in_(wanted))
    return set((await db.execute(stmt)).scalars())


async def blob_shas_of_conversation(db: AsyncSession, conversation_id: uuid.UUID) -> list[str]:
    stmt = select(File.blob_sha256).where(File.conversation_id == conversation_id).distinct()
    return list((await db.execute(stmt)).scalars())


async def blob_exists(db: AsyncSession, sha256: str) -> bool:
    return bool(await db.scalar(select(exists().where(Blob.sha256 == sha256))))


async def insert_blob(db: AsyncSession, sha256: str, size: int) -> bool:
    """Record the blob; True when this call created the row (it did not exist)."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Blob)
        .values(sha256=sha256, size=size)
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(Blob.sha256)
    )
    return (await db.execute(stmt)).scalar_one_or_none() is not None


async def claim_blob(db: AsyncSession, sha256: str, size: int) -> bool:
    """Record the blob and hold its row until commit; True when the bytes must be (re)stored.

    True means no row existed (or a concurrent deletion just removed it): the object may be
    missing from storage.
    """
    if await insert_blob(db, sha256, size):
        return True
    if await lock_blob(db, sha256) is None:  # deleted while we looked
        await insert_blob(db, sha256, size)
        return True
    return False


async def lock_blob(db: AsyncSession, sha256: str) -> Blob | None:
    stmt = select(Blob).where(Blob.sha256 == sha256).with_for_update()
    return (await db.execute(stmt)).scalar_one_or_none()


async def blob_in_use(db: AsyncSession, sha256: str) -> bool:
    return bool(await db.scalar(select(exists().where(File.blob_sha256 == sha256))))
