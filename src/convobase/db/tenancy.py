"""Tenancy by query scope: every owner filter in Convobase goes through these helpers.

A row that belongs to someone else is simply not found (404), never "forbidden".
The one exception to "owned" is a conversation shared with a named user: ``accessible_by`` and
``get_accessible`` widen the owner filter to "owned, or shared with me by a live user share";
``shared_with`` is that second half on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import BindParameter, ColumnElement, ScalarSelect, Select, any_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from convobase.errors import NotFound
from convobase.models import Conversation, Share


class Owned(Protocol):
    id: Any
    user_id: Any


OwnedT = TypeVar("OwnedT", bound=Owned)
SelectT = TypeVar("SelectT", bound=Select[Any])
# A user id or moment given now, or a parameter bound at execution (for prebuilt statements).
UserRef = uuid.UUID | BindParameter[uuid.UUID]
Moment = datetime | BindParameter[datetime]


def owned_by(stmt: SelectT, model: type[Owned], user_id: UserRef) -> SelectT:
    """Restrict ``stmt`` to the rows of ``model`` that ``user_id`` owns."""
    column: InstrumentedAttribute[uuid.UUID] = model.user_id
    return stmt.where(column == user_id)


async def get_owned(
    db: AsyncSession,
    model: type[OwnedT],
    row_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    what: str | None = None,
) -> OwnedT:
    """The row ``row_id`` if ``user_id`` owns it, else NotFound."""
    stmt = owned_by(select(model), model, user_id).where(model.id == row_id)
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{what or model.__name__} not found")
    return row


Permission = Literal["owner", "write", "read"]


def _live_user_share(user_id: UserRef, now: Moment) -> tuple[ColumnElement[bool], ...]:
    """A share is a live user share to ``user_id``: unrevoked, unexpired, of kind "user"."""
    return (
        Share.recipient_id == user_id,
        Share.kind == "user",
        Share.revoked_at.is_(None),
        or_(Share.expires_at.is_(None), Share.expires_at > now),
    )


def _live_user_shares(user_id: UserRef, now: Moment) -> Select[uuid.UUID]:
    """Ids of the conversations shared with ``user_id``; served by the index
    ix_shares_recipient_conversation."""
    return select(Share.conversation_id).where(*_live_user_share(user_id, now))


def _accessible(user_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    return or_(
        Conversation.user_id == user_id,
        Conversation.id.in_(_live_user_shares(user_id, now)),
    )


def accessible_by(stmt: SelectT, user_id: uuid.UUID, now: datetime) -> SelectT:
    """Restrict ``stmt`` to the conversations ``user_id`` owns or has been shared (user share)."""
    return stmt.where(_accessible(user_id, now))


def shared_with(stmt: SelectT, user_id: UserRef, now: Moment, *, dialect: str) -> SelectT:
    """Restrict ``stmt`` to the conversations shared with ``user_id`` that they do not own.

    ``owned_by`` and ``shared_with`` split ``accessible_by`` into two disjoint halves, so a
    query can walk each through its own index (the conversation list merges the two). Either
    way the conversations are found from the user's live shares, one primary-key lookup each,
    so the cost follows what is shared with the user, never the size of the table."""
    shared_ids = _live_user_shares(user_id, now)
    if dialect == "postgresql":
        # Left to choose, PostgreSQL may merge- or hash-join the shares against a scan of all
        # conversations; an array of ids, computed once (an InitPlan), is looked up by key.
        found = Conversation.id == any_(func.array(shared_ids.scalar_subquery()))
    else:
        found = Conversation.id.in_(shared_ids)  # SQLite: the list, then key lookups
    return stmt.where(found, Conversation.user_id != user_id)


def shared_permission(
    conversation_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
    user_id: UserRef,
    now: Moment,
) -> ScalarSelect[str | None]:
    """The strongest live permission ``user_id`` has been shared on ``conversation_id`` (a
    column of the enclosing query), NULL when none: a correlated lookup of
    ix_shares_recipient_conversation, for a query that lists conversations with permissions."""
    # "write" sorts after "read", so max() is the strongest.
    return (
        select(func.max(Share.permission))
        .where(Share.conversation_id == conversation_id, *_live_user_share(user_id, now))
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class Access:
    """A conversation the caller may reach, and how: its owner, or a recipient of a share."""

    conversation: Conversation
    permission: Permission

    @property
    def is_owner(self) -> bool:
        return self.permission == "owner"

    @property
    def can_write(self) -> bool:
        return self.permission in ("owner", "write")


async def get_accessible(
    db: AsyncSession,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    *,
    for_update: bool = False,
) -> Access:
    """The conversation if ``user_id`` owns it or it is shared with them, else NotFound.

    The owner's case (nearly every call: each append) is one plain owned lookup; only a miss
    looks for a live share, then loads the conversation."""
    owned = owned_by(select(Conversation), Conversation, user_id).where(
        Conversation.id == conversation_id
    )
    if for_update:
        owned = owned.with_for_update(of=Conversation)
    conversation = (await db.execute(owned)).scalar_one_or_none()
    if conversation is not None:
        return Access(conversation, "owner")
    permissions = await shared_permissions(db, user_id, [conversation_id], now)
    if conversation_id not in permissions:
        raise NotFound("Conversation not found")
    shared = select(Conversation).where(Conversation.id == conversation_id)
    if for_update:
        shared = shared.with_for_update(of=Conversation)
    conversation = (await db.execute(shared)).scalar_one_or_none()
    if conversation is None:  # deleted between the two reads
        raise NotFound("Conversation not found")
    return Access(conversation, permissions[conversation_id])


async def shared_permissions(
    db: AsyncSession, user_id: uuid.UUID, conversation_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Permission]:
    """For conversations shared with ``user_id``: the strongest live permission of each."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    stmt = (
        _live_user_shares(user_id, now)
        .add_columns(func.max(Share.permission))
        .where(Share.conversation_id.in_(ids))
        .group_by(Share.conversation_id)
    )
    rows = await db.execute(stmt)
    # "write" sorts after "read", so max() is the strongest.
    return {cid: ("write" if perm == "write" else "read") for cid, perm in rows}
