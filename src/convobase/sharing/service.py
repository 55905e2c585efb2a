"""Rules on shares.

- Only a conversation's owner creates, lists and revokes its shares (anyone else: 404).
- A link share is read-only; its token (``cbsh_`` + 256 random bits) is shown once and stored
  only as its SHA-256. A user share names an active account by email and is always live.
- Unknown, disabled and guest accounts answer alike (404 ``recipient_not_found``); sharing
  with oneself is a 422; a second live share with the same person is a 409.
- At most ``share_max_per_conversation`` live shares per conversation (409); ``expires_at``
  must be in the future (422).
- A public read shows the newest ``share_max_messages`` messages of the current path (live),
  or of the path as it was when the share was made (snapshot); never ids or the owner. An
  expired, revoked or unknown token is a 404. Reads are counted after the commit, in a short
  transaction of their own, so counting never fails a read.
- The public page shows a shared message's uploaded files through ``/s/{token}/files/{ref}``:
  ``ref`` is an HMAC of (share, file), so no file id is shown, and a ref is served only while
  the share is live and only for a file a part of that share's view points at (else 404).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.tokens import SHARE_DISPLAY_LENGTH, SHARE_PREFIX, new_share_token, token_hash
from convobase.conversations import repository as conversations
from convobase.db.base import utcnow
from convobase.db.session import after_commit
from convobase.db.tenancy import get_owned
from convobase.errors import Conflict, NotFound, RateLimited, ValidationFailed
from convobase.files import repository as files
from convobase.messages import repository as messages
from convobase.models import Conversation, File, Message, Share, User
from convobase.runtime import Runtime
from convobase.sharing import repository
from convobase.sharing.schemas import PublicConversation, PublicMessage, ShareCreate, ShareOut
from convobase.users import repository as users

MAX_TOKEN_LENGTH = 128


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        message,
        code=code,
        details={"errors": [{"loc": ["body", field], "msg": message, "type": code}]},
    )


async def create(
    db: AsyncSession, runtime: Runtime, user: User, conversation_id: uuid.UUID, data: ShareCreate
) -> tuple[Share, str | None, str | None]:
    """A new share, the link token (link shares) and the recipient's email (user shares)."""
    settings = runtime.settings
    now = utcnow()
    # The owner's conversation only, locked so concurrent creations respect the limit.
    conversation = await conversations.get(db, user.id, conversation_id, for_update=True)
    if data.expires_at is not None and data.expires_at <= now:
        raise _invalid("expires_at", "expires_at must be in the future", "value_error")
    limit = settings.share_max_per_conversation
    if await repository.count_live(db, conversation.id, now) >= limit:
        raise Conflict(f"At most {limit} live shares per conversation", code="too_many_shares")
    share = Share(
        conversation_id=conversation.id,
        user_id=user.id,
        kind=data.kind,
        mode=data.mode,
        permission=data.permission,
        expires_at=data.expires_at,
        access_count=0,
        created_at=now,
    )
    token: str | None = None
    email: str | None = None
    if data.kind == "user":
        recipient = await _recipient(db, runtime, user, data)
        if await repository.live_user_share(db, conversation.id, recipient.id, now) is not None:
            raise Conflict(
                "This conversation is already shared with this user; revoke that share first",
                code="already_shared",
            )
        share.recipient_id = recipient.id
        email = recipient.email
    else:
        token = new_share_token()
        share.token_hash = token_hash(token)
        share.token_prefix = token[:SHARE_DISPLAY_LENGTH]
        if data.mode == "snapshot":
            view = await _live_view(db, conversation, settings.share_max_messages, now)
            share.snapshot = view.model_dump(mode="json", exclude={"mode", "expires_at"})
    db.add(share)
    await db.flush()
    return share, token, email


async def _recipient(db: AsyncSession, runtime: Runtime, user: User, data: ShareCreate) -> User:
    assert data.user_email is not None  # the schema requires it for user shares
    if data.user_email == user.email:
        raise _invalid("user_email", "You cannot share a conversation with yourself", "self_share")
    # Bounds how fast one account can probe which emails have accounts.
    decision = await runtime.limiter.hit(
        f"share:invite:{user.id}", runtime.settings.share_user_invites_per_hour, 3600
    )
    if not decision.allowed:
        raise RateLimited(decision.retry_after, "Too many shares with named users; try later")
    recipient = await users.get_by_email(db, data.user_email)
    if recipient is None or recipient.disabled or recipient.role == "guest":
        raise NotFound("No account with this email can receive shares", code="recipient_not_found")
    if recipient.id == user.id:
        raise _invalid("user_email", "You cannot share a conversation with yourself", "self_share")
    return recipient


async def list_shares(
    db: AsyncSession,
    user: User,
    conversation_id: uuid.UUID,
    *,
    limit: int,
    before: uuid.UUID | None,
) -> list[tuple[Share, str | None]]:
    conversation = await conversations.get(db, user.id, conversation_id)
    return await repository.page(db, user.id, conversation.id, limit=limit, before=before)


async def revoke(db: AsyncSession, user: User, share_id: uuid.UUID) -> None:
    """Revoking takes effect at once: the link and the recipient's access are gone."""
    share = await get_owned(db, Share, share_id, user.id, what="Share")
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        await db.flush()


def to_out(share: Share, email: str | None, now: datetime | None = None) -> ShareOut:
    now = now or utcnow()
    return ShareOut(
        id=share.id,
        conversation_id=share.conversation_id,
        kind=share.kind,
        mode=share.mode,
        permission=share.permission,
        token_prefix=share.token_prefix,
        recipient_email=email,
        expires_at=share.expires_at,
        revoked=share.revoked_at is not None,
        revoked_at=share.revoked_at,
        expired=share.expires_at is not None and share.expires_at <= now,
        access_count=share.access_count,
        last_accessed_at=share.last_accessed_at,
        created_at=share.created_at,
    )


async def _live_view(
    db: AsyncSession, conversation: Conversation, max_messages: int, now: datetime
) -> PublicConversation:
    """The newest ``max_messages`` messages of the conversation's current path, oldest first."""
    shown: list[Message] = []
    truncated = False
    if conversation.current_leaf_id is not None:
        segments = await messages.path_segments(
            db, conversation.id, conversation.current_leaf_id, span=max_messages
        )
        if segments:
            high = segments[0].end
            low = max(0, high - max_messages + 1)
            truncated = low > 0
            shown = await messages.path_page(
                db, conversation.id, segments, low=low, high=high, descending=False
            )
    return PublicConversation(
        title=conversation.title,
        mode="live",
        messages=[
            PublicMessage(
                role=m.role,
                # File ids stay in the stored view (the page's share-scoped links need them);
                # `without_file_ids` strips them from everything the public is shown.
                parts=[p for p in m.parts if isinstance(p, dict)],
                content=m.content,
                model=_model(m.meta),
                created_at=m.created_at,
            )
            for m in shown
        ],
        truncated=truncated,
        as_of=now,
        expires_at=None,
    )


def public_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parts as the public sees them: without ``file_id`` (our ids stay private; the file
    routes are the owner's alone, so the id would only leak)."""
    return [{k: v for k, v in p.items() if k != "file_id"} for p in parts if isinstance(p, dict)]


def without_file_ids(view: PublicConversation) -> PublicConversation:
    messages_out = [m.model_copy(update={"parts": public_parts(m.parts)}) for m in view.messages]
    return view.model_copy(update={"messages": messages_out})


def _model(meta: dict[str, Any]) -> str | None:
    model = meta.get("model") if isinstance(meta, dict) else None
    return model if isinstance(model, str) else None


@dataclass(frozen=True)
class OpenLink:
    """A live link share and its view, parts still carrying their ``file_id``s."""

    share_id: uuid.UUID
    view: PublicConversation


async def _open(db: AsyncSession, runtime: Runtime, token: str) -> OpenLink:
    if not token.startswith(SHARE_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("Share not found")
    now = utcnow()
    share = await repository.live_link(db, token_hash(token), now)
    if share is None:
        raise NotFound("Share not found")
    if share.mode == "snapshot" and share.snapshot is not None:
        view = PublicConversation.model_validate(
            {**share.snapshot, "mode": "snapshot", "expires_at": None}
        )
    else:
        conversation = await get_owned(
            db, Conversation, share.conversation_id, share.user_id, what="Share"
        )
        view = await _live_view(db, conversation, runtime.settings.share_max_messages, now)
    view = view.model_copy(update={"expires_at": share.expires_at})
    return OpenLink(share_id=share.id, view=view)


async def read_public(db: AsyncSession, runtime: Runtime, token: str) -> PublicConversation:
    """What anyone holding the link sees (no ids); counts the read (after the commit)."""
    return without_file_ids((await read_page(db, runtime, token)).view)


async def read_page(db: AsyncSession, runtime: Runtime, token: str) -> OpenLink:
    """The link's view for the public page, which turns file ids into share-scoped refs
    (``file_ref``) before anything is shown; counts the read (after the commit)."""
    link = await _open(db, runtime, token)
    share_id, now = link.share_id, utcnow()
    after_commit(db, lambda: _count_read(runtime, share_id, now))
    return link


def file_ref(secret: bytes, share_id: uuid.UUID, file_id: object) -> str:
    """The public name of one file of one share: opaque, stable, useless for any other share."""
    key = hmac.new(secret, b"convobase:share-file", hashlib.sha256).digest()
    digest = hmac.new(key, f"{share_id}:{file_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _referenced_files(view: PublicConversation) -> list[uuid.UUID]:
    found: list[uuid.UUID] = []
    for message in view.messages:
        for part in message.parts:
            if part.get("type") not in ("image", "file") or not part.get("file_id"):
                continue
            try:
                found.append(uuid.UUID(str(part["file_id"])))
            except ValueError:
                continue
    return found


async def shared_file(db: AsyncSession, runtime: Runtime, token: str, ref: str) -> File:
    """The file ``ref`` names, if a part of this live share's view points at it; else 404.
    Being in the shared view is the permission: the owner chose to share those messages."""
    link = await _open(db, runtime, token)
    for file_id in _referenced_files(link.view):
        if hmac.compare_digest(file_ref(runtime.secret, link.share_id, file_id), ref):
            file = await files.get_unscoped(db, file_id)
            if file is not None:
                return file
            break
    raise NotFound("File not found")


async def _count_read(runtime: Runtime, share_id: uuid.UUID, now: datetime) -> None:
    # Best-effort bookkeeping in its own short transaction (a failure is logged, not surfaced).
    async with runtime.database.session() as db:
        await repository.count_access(db, share_id, now)
        await db.commit()
