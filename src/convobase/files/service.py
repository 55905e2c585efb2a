"""Files: storing an upload, reading, listing, versions, deleting, signed download links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.config import Settings
from convobase.conversations import repository as conversations
from convobase.db.session import after_commit
from convobase.db.tenancy import get_owned
from convobase.errors import Forbidden, NotFound, ValidationFailed
from convobase.files import analysis, blobs, repository
from convobase.files.receive import Policy, Upload
from convobase.models import File, Message, User
from convobase.runtime import Runtime


def policy(settings: Settings) -> Policy:
    return Policy(
        tmp_dir=settings.data_dir.resolve() / "tmp",
        max_bytes=settings.upload_max_bytes,
        json_max_bytes=settings.upload_json_max_bytes,
        allowed_types=settings.upload_allowed_types,
    )


def analysis_limits(settings: Settings) -> analysis.Limits:
    return analysis.Limits(
        max_bytes=settings.analysis_max_bytes,
        pdf_max_pages=settings.analysis_pdf_max_pages,
        timeout_seconds=settings.analysis_timeout_seconds,
        image_max_pixels=settings.image_max_pixels,
    )


async def analyse(runtime: Runtime, upload: Upload) -> dict[str, Any]:
    return await analysis.analyse(
        upload.spool.path, upload.content_type, upload.size, analysis_limits(runtime.settings)
    )


async def store_ahead(runtime: Runtime, upload: Upload) -> bool:
    """Put the bytes in storage before the transaction opens, unless the blob is already there.

    Done outside the request's transaction so a slow store never holds database locks; True
    when this call stored the object.
    """
    key = repository.blob_key(upload.sha256)
    async with runtime.database.session(write=False) as db:
        known = await repository.blob_exists(db, upload.sha256)
    if known and await runtime.storage.size(key) == upload.size:
        return False
    await runtime.storage.put_file(key, upload.spool.path, upload.content_type)
    return True


def _uuid_field(upload: Upload, name: str) -> uuid.UUID | None:
    raw = upload.fields.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name} is not a valid id",
            details={"errors": [{"loc": ["body", name], "msg": "Invalid UUID", "type": "uuid"}]},
        ) from exc


async def resolve_target(
    db: AsyncSession, user: User, upload: Upload, *, lock: bool = False
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The caller's conversation and message the upload names (NotFound for anyone else's).

    ``lock`` locks the conversation, so concurrent uploads of one name get distinct versions.
    """
    conversation_id = _uuid_field(upload, "conversation_id")
    message_id = _uuid_field(upload, "message_id")
    if message_id is not None:
        message = await get_owned(db, Message, message_id, user.id, what="Message")
        if conversation_id is not None and message.conversation_id != conversation_id:
            raise NotFound("Message not found")
        conversation_id = message.conversation_id
    if conversation_id is not None:
        await conversations.get(db, user.id, conversation_id, for_update=lock)
    return conversation_id, message_id


async def check_target(runtime: Runtime, user: User, upload: Upload) -> None:
    """Refuse a bad target before any byte reaches storage (a short read, no transaction)."""
    async with runtime.database.session(write=False) as db:
        await resolve_target(db, user, upload)


async def create(
    db: AsyncSession,
    runtime: Runtime,
    user: User,
    upload: Upload,
    analysis_result: dict[str, Any],
    *,
    stored: bool,
) -> File:
    conversation_id, message_id = await resolve_target(db, user, upload, lock=True)
    if conversation_id is None:
        await repository.lock_user(db, user.id)
    if await repository.claim_blob(db, upload.sha256, upload.size) and not stored:
        # The blob went away between our look and our lock: store the bytes again.
        await runtime.storage.put_file(
            repository.blob_key(upload.sha256), upload.spool.path, upload.content_type
        )
    version = await repository.latest_version(db, user.id, conversation_id, upload.filename) + 1
    file = File(
        user_id=user.id,
        conversation_id=conversation_id,
        message_id=message_id,
        blob_sha256=upload.sha256,
        filename=upload.filename,
        content_type=upload.content_type,
        claimed_type=(upload.claimed_type or "")[:255] or None,
        size=upload.size,
        version=version,
        analysis=analysis_result,
    )
    db.add(file)
    await db.flush()
    return file


async def get(db: AsyncSession, user: User, file_id: uuid.UUID) -> File:
    return await repository.get(db, user.id, file_id)


async def list_files(
    db: AsyncSession,
    user: User,
    *,
    conversation_id: uuid.UUID | None,
    before: uuid.UUID | None,
    limit: int,
) -> list[File]:
    if conversation_id is not None:
        await conversations.get(db, user.id, conversation_id)
    return await repository.list_files(
        db, user.id, conversation_id=conversation_id, before=before, limit=limit
    )


async def versions(db: AsyncSession, user: User, file_id: uuid.UUID) -> list[File]:
    return await repository.versions(db, await repository.get(db, user.id, file_id))


async def delete(db: AsyncSession, runtime: Runtime, user: User, file_id: uuid.UUID) -> None:
    file = await repository.get(db, user.id, file_id)
    sha256 = file.blob_sha256
    await db.delete(file)
    await db.flush()
    after_commit(db, lambda: blobs.release(runtime, [sha256]))


async def release_conversation_blobs(
    db: AsyncSession, runtime: Runtime, conversation_id: uuid.UUID
) -> None:
    """Before a conversation is deleted: its files go by cascade, their blobs after the commit."""
    shas = await repository.blob_shas_of_conversation(db, conversation_id)
    if shas:
        after_commit(db, lambda: blobs.release(runtime, shas))


async def check_references(db: AsyncSession, user: User, file_ids: list[uuid.UUID]) -> None:
    """A message may point only at its author's own files."""
    missing = set(file_ids) - await repository.owned_ids(db, user.id, file_ids)
    if missing:
        raise ValidationFailed(
            "A message part references a file that does not exist",
            code="invalid_file",
            details={"file_ids": sorted(str(file_id) for file_id in missing)},
        )


# Signed download links (local storage; S3 presigns its own).


def _signature(secret: bytes, file_id: uuid.UUID, expires: int) -> str:
    key = hmac.new(secret, b"convobase:file-download", hashlib.sha256).digest()
    digest = hmac.new(key, f"{file_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def download_url(runtime: Runtime, file: File, base_url: str) -> str:
    ttl = runtime.settings.download_url_ttl_seconds
    presigned = await runtime.storage.signed_url(
        repository.blob_key(file.blob_sha256), timedelta(seconds=ttl)
    )
    if presigned is not None:
        return presigned
    expires = int(time.time()) + ttl
    signature = _signature(runtime.secret, file.id, expires)
    query = f"expires={expires}&signature={signature}"
    return f"{base_url.rstrip('/')}/api/v1/files/{file.id}/content?{query}"


class SignatureInvalid(Forbidden):
    code = "invalid_signature"
    message = "The download link is invalid"


def check_signature(runtime: Runtime, file_id: uuid.UUID, expires: int, signature: str) -> None:
    expected = _signature(runtime.secret, file_id, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureInvalid()
    if expires < time.time():
        raise SignatureInvalid("The download link has expired", code="signature_expired")
