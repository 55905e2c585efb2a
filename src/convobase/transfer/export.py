"""The account export: a zip streamed as it is written, never whole in memory or on disk.

stdlib `zipfile` writes into `_Sink`, a non-seekable buffer (so zipfile uses data descriptors
instead of seeking back), and the generator hands the buffer's bytes on after each entry or
chunk. Rows are read page by page (keyset on id) in one read-only session, a batch of
conversations at a time (five queries a batch); a file's bytes are copied from blob storage
chunk by chunk. Memory holds one batch (about BATCH_MESSAGES messages) and one chunk at most.

Layout (README: "Convobase export format"): ``manifest.json`` (written last, with the counts),
``conversations/<id>.json`` and ``.md``, ``files.jsonl`` and ``files/<id>/<filename>``,
``preferences.json``, ``usage_events.jsonl``.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.backends.storage import BlobNotFound, BlobStorage
from convobase.db.base import utcnow
from convobase.db.engine import Database
from convobase.files import repository as files_repository
from convobase.models import (
    AgentLog,
    Conversation,
    Feedback,
    File,
    Message,
    MessageEdit,
    Preference,
    ToolRun,
    UsageEvent,
    User,
)
from convobase.transfer import formats, markdown
from convobase.transfer.schemas import EXPORT_FORMAT, FORMAT_VERSION
from convobase.usage.schemas import UsageEventOut

PAGE = 200
_ZIP64_FROM = 2**31  # entries this large need zip64 headers up front (sizes come later)


class _Sink(io.RawIOBase):
    """What zipfile writes into; `take` empties it."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        data, self._buffer = bytes(self._buffer), bytearray()
        return data


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def file_path(f: File) -> str:
    """Where a file's bytes go in the zip: a name our own import accepts."""
    name = f.filename.replace("/", "_").replace("\\", "_").replace("\x00", "") or "file"
    return f"files/{f.id}/{'file' if name in ('.', '..') else name}"


async def _pages(db: AsyncSession, model: Any, user_id: uuid.UUID) -> AsyncIterator[list[Any]]:
    after: uuid.UUID | None = None
    while True:
        stmt = select(model).where(model.user_id == user_id).order_by(model.id).limit(PAGE)
        if after is not None:
            stmt = stmt.where(model.id > after)
        rows = list((await db.execute(stmt)).scalars())
        if not rows:
            return
        yield rows
        after = rows[-1].id
        db.expunge_all()  # keep the identity map from growing with the account


# A batch of conversations is read with one query per table; batches are cut so that no more
# than this many messages are held at once (one huge conversation is still read whole).
BATCH_MESSAGES = 5_000


def _batches(page: list[Conversation]) -> list[list[Conversation]]:
    batches: list[list[Conversation]] = [[]]
    held = 0
    for c in page:
        if batches[-1] and held + c.message_count > BATCH_MESSAGES:
            batches.append([])
            held = 0
        batches[-1].append(c)
        held += c.message_count
    return batches


async def conversations_data(db: AsyncSession, batch: list[Conversation]) -> list[dict[str, Any]]:
    """Conversations in the export's JSON shape, every branch included: five queries a batch."""
    ids = [c.id for c in batch]
    user_ids = {c.user_id for c in batch}
    messages: dict[uuid.UUID, list[Message]] = defaultdict(list)
    for m in (
        await db.execute(
            select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.id)
        )
    ).scalars():
        messages[m.conversation_id].append(m)
    in_batch = select(Message.id).where(Message.conversation_id.in_(ids))
    edits: dict[uuid.UUID, list[MessageEdit]] = defaultdict(list)
    for edit in (
        await db.execute(
            select(MessageEdit).where(MessageEdit.message_id.in_(in_batch)).order_by(MessageEdit.id)
        )
    ).scalars():
        edits[edit.message_id].append(edit)
    feedback = {
        fb.message_id: fb
        for fb in (
            await db.execute(
                select(Feedback).where(
                    Feedback.message_id.in_(in_batch), Feedback.user_id.in_(user_ids)
                )
            )
        ).scalars()
    }
    runs: dict[uuid.UUID, list[ToolRun]] = defaultdict(list)
    for r in (
        await db.execute(
            select(ToolRun).where(ToolRun.conversation_id.in_(ids)).order_by(ToolRun.id)
        )
    ).scalars():
        runs[r.conversation_id].append(r)
    logs: dict[uuid.UUID, list[AgentLog]] = defaultdict(list)
    for log in (
        await db.execute(
            select(AgentLog).where(AgentLog.conversation_id.in_(ids)).order_by(AgentLog.id)
        )
    ).scalars():
        logs[log.conversation_id].append(log)
    return [
        formats.conversation_json(
            c,
            [formats.message_json(m, edits[m.id], feedback.get(m.id)) for m in messages[c.id]],
            [formats.tool_run_json(r) for r in runs[c.id]],
            [formats.log_json(entry) for entry in logs[c.id]],
        )
        for c in batch
    ]


def _file_json(f: File) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "conversation_id": str(f.conversation_id) if f.conversation_id else None,
        "message_id": str(f.message_id) if f.message_id else None,
        "filename": f.filename,
        "content_type": f.content_type,
        "claimed_type": f.claimed_type,
        "size": f.size,
        "version": f.version,
        "sha256": f.blob_sha256,
        "analysis": f.analysis,
        "created_at": f.created_at.isoformat(),
        "path": file_path(f),
    }


async def export_zip(
    database: Database, storage: BlobStorage, user_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """The whole account of ``user_id`` as zip bytes, chunk by chunk."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    counts: dict[str, int] = defaultdict(int)
    missing: list[str] = []
    async with database.session(write=False) as db:
        user = await db.get(User, user_id)
        if user is None:
            return
        account = {
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "created_at": user.created_at.isoformat(),
        }
        async for page in _pages(db, Conversation, user_id):
            for batch in _batches(page):
                for c, data in zip(batch, await conversations_data(db, batch), strict=True):
                    archive.writestr(f"conversations/{c.id}.json", _dumps(data))
                    archive.writestr(f"conversations/{c.id}.md", markdown.render(data))
                    counts["conversations"] += 1
                    counts["messages"] += len(data["messages"])
                    counts["tool_runs"] += len(data["tool_runs"])
                    yield sink.take()
        with archive.open("files.jsonl", "w") as out:
            async for page in _pages(db, File, user_id):
                for f in page:
                    out.write(_dumps(_file_json(f)) + b"\n")
                    counts["files"] += 1
                yield sink.take()
        async for page in _pages(db, File, user_id):
            for f in page:
                try:
                    reader = await storage.open(files_repository.blob_key(f.blob_sha256))
                except BlobNotFound:
                    missing.append(str(f.id))
                    continue
                stamp = max(f.created_at.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
                info = zipfile.ZipInfo(file_path(f), date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=f.size >= _ZIP64_FROM) as out:
                    async for chunk in reader:
                        out.write(chunk)
                        yield sink.take()
        preference = (
            await db.execute(select(Preference).where(Preference.user_id == user_id))
        ).scalar_one_or_none()
        if preference is not None:
            archive.writestr(
                "preferences.json",
                _dumps(
                    {
                        "data": preference.data,
                        "version": preference.version,
                        "updated_at": preference.updated_at.isoformat(),
                    }
                ),
            )
        with archive.open("usage_events.jsonl", "w") as out:
            async for page in _pages(db, UsageEvent, user_id):
                for event in page:
                    line = UsageEventOut.model_validate(event).model_dump(mode="json")
                    out.write(_dumps(line) + b"\n")
                    counts["usage_events"] += 1
                yield sink.take()
    manifest = {
        "format": EXPORT_FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": utcnow().isoformat(),
        "account": account,
        "counts": dict(counts),
        "missing_files": missing,
    }
    archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    archive.close()
    yield sink.take()
