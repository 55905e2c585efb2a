"""Content-addressed blobs: stored once however many upload them; deleted with their last file.

The race between an upload that reuses a blob and the deletion of that blob's last file is closed
by the blob row: the deleter removes the object from storage while it holds the row locked
(PostgreSQL ``FOR UPDATE``; SQLite writers are serialised), and an upload that finds the row
gone re-creates it and stores the bytes again (``insert_blob`` says so).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from convobase.files import repository
from convobase.runtime import Runtime

log = structlog.get_logger("convobase.files.blobs")


async def release(runtime: Runtime, shas: Iterable[str]) -> None:
    """Delete each blob that no file uses any more (run after the deleting commit)."""
    for sha256 in set(shas):
        async with runtime.database.session() as db:
            blob = await repository.lock_blob(db, sha256)
            if blob is None or await repository.blob_in_use(db, sha256):
                await db.rollback()
                continue
            await runtime.storage.delete(repository.blob_key(sha256))
            await db.delete(blob)
            await db.commit()
            log.info("blob_deleted", sha256=sha256)
