"""Files of a Convobase export: planned before the conversations, stored after them.

The plan reads ``files.jsonl`` first and chooses each file's new id, so message parts can be
rewritten to point at it while the conversations are written. A file this user already has
(same name, bytes and upload time) is not imported again: its parts point at the existing one.
Then each file's bytes are copied out of the zip (size-limited while decompressing), their
SHA-256 checked against the export's, stored as a content-addressed blob as an upload would be
(`files.repository.claim_blob`), and the file row inserted with its conversation and message
mapped to the new ones.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.backends.storage import BlobStorage
from convobase.config import Settings
from convobase.errors import ValidationFailed
from convobase.files import repository as files_repository
from convobase.files import sniff
from convobase.models import File, User
from convobase.transfer import writer
from convobase.transfer.ids import millis, uuid7_at
from convobase.transfer.schemas import ExportedFile, ImportReport
from convobase.transfer.sources import FILES_INDEX, ImportFile

MAX_FILES = 100_000


@dataclass
class FilePlan:
    files: list[ExportedFile] = field(default_factory=list)  # to import
    file_ids: dict[str, uuid.UUID] = field(default_factory=dict)  # export's id -> ours
    message_refs: set[str] = field(default_factory=set)  # message ids files point at
    # Filled while the conversations are written:
    conversation_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    message_ids: dict[str, uuid.UUID] = field(default_factory=dict)


async def _existing(db: AsyncSession, user: User, f: ExportedFile) -> uuid.UUID | None:
    stmt = select(File.id).where(
        File.user_id == user.id,
        File.blob_sha256 == f.sha256,
        File.filename == f.filename,
        File.created_at == f.created_at,
    )
    return (await db.execute(stmt.limit(1))).scalar_one_or_none()


async def plan_files(
    db: AsyncSession, user: User, opened: ImportFile, report: ImportReport
) -> FilePlan:
    plan = FilePlan()
    for index, raw in enumerate(opened.jsonl(FILES_INDEX)):
        if index >= MAX_FILES:
            report.skip("file", "limit", f"At most {MAX_FILES} files per import", index=index)
            continue
        try:
            f = ExportedFile.model_validate(raw)
        except ValidationError:
            report.skip("file", "invalid_file", "A line of files.jsonl is malformed", index=index)
            continue
        existing = await _existing(db, user, f)
        if existing is not None:
            plan.file_ids[f.id] = existing
            report.skip("file", "already_imported", "This file was imported before", id=f.id)
            continue
        plan.file_ids[f.id] = uuid7_at(millis(f.created_at))
        plan.files.append(f)
        if f.message_id:
            plan.message_refs.add(f.message_id)
    return plan


@dataclass(frozen=True, slots=True)
class _Copied:
    path: Path
    sha256: str
    size: int
    head: bytes  # the first bytes, to type the file as an upload is typed


def _copy_out(opened: ImportFile, name: str, tmp_dir: Path, max_bytes: int) -> _Copied:
    """The entry's bytes in a temporary file. Blocking; in a thread."""
    assert opened.archive is not None
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="import-", suffix=".part")
    digest, size, head = hashlib.sha256(), 0, bytearray()
    try:
        with os.fdopen(fd, "wb") as out, opened.archive.open(name, max_bytes) as stream:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if len(head) < sniff.SNIFF_BYTES:
                    head += chunk[: sniff.SNIFF_BYTES - len(head)]
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return _Copied(Path(tmp), digest.hexdigest(), size, bytes(head))


def _claim(raw: str | None) -> str | None:
    try:
        return sniff.parse_claim(raw)
    except ValidationFailed:
        return None  # a malformed claim in the file is no claim: the bytes decide


def _typed(f: ExportedFile, copied: _Copied, allowed_types: list[str]) -> str:
    """The file's type as an upload would get it: from its bytes, within the allow-list (the
    export's own type is only a claim, like a client's)."""
    return sniff.detect(
        copied.head,
        sniff.safe_filename(f.filename),
        _claim(f.content_type),
        allowed_types,
        complete=copied.size <= len(copied.head),
    )


async def import_files(
    db: AsyncSession,
    storage: BlobStorage,
    settings: Settings,
    user: User,
    opened: ImportFile,
    plan: FilePlan,
    report: ImportReport,
) -> None:
    # Conversations imported before this run (and now skipped) are found in the ledger.
    wanted = list({f.conversation_id for f in plan.files if f.conversation_id})
    known = await writer.already_imported(db, user.id, "convobase", wanted)
    conversations = {**known, **plan.conversation_ids}
    tmp_dir = settings.data_dir.resolve() / "tmp"
    # A file this server would take as an upload is taken from an export too.
    max_bytes = max(settings.import_max_item_bytes, settings.upload_max_bytes)
    for f in plan.files:
        if not opened.has(f.path):
            report.skip("file", "missing_bytes", "The file's bytes are not in the zip", id=f.id)
            continue
        copied = await anyio.to_thread.run_sync(_copy_out, opened, f.path, tmp_dir, max_bytes)
        sha256, size = copied.sha256, copied.size
        try:
            if sha256 != f.sha256 or size != f.size:
                report.skip(
                    "file", "checksum_mismatch", "The bytes do not match files.jsonl", id=f.id
                )
                continue
            try:
                content_type = _typed(f, copied, settings.upload_allowed_types)
            except sniff.UnsupportedType as exc:
                report.skip("file", exc.code, exc.message, id=f.id)
                continue
            key = files_repository.blob_key(sha256)
            # The blob row is held until commit (see files/blobs.py), then the bytes stored
            # unless the store already has them.
            claimed = await files_repository.claim_blob(db, sha256, size)
            if claimed or await storage.size(key) != size:
                await storage.put_file(key, copied.path, content_type)
        finally:
            copied.path.unlink(missing_ok=True)
        db.add(
            File(
                id=plan.file_ids[f.id],
                user_id=user.id,
                conversation_id=conversations.get(f.conversation_id or ""),
                message_id=plan.message_ids.get(f.message_id or ""),
                blob_sha256=sha256,
                filename=sniff.safe_filename(f.filename),
                content_type=content_type,
                claimed_type=_claim(f.claimed_type),
                size=size,
                version=f.version,
                analysis=f.analysis,
                created_at=f.created_at,
            )
        )
        await db.flush()
        report.files.imported += 1
