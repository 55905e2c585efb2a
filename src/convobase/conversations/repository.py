"""Queries on conversations, always through the tenancy helper.

Owner-only actions use ``get`` (owned_by); reads and appends that a share's recipient may do
use ``get_accessible``, and the list shows owned and shared conversations (``owned_by`` and
``shared_with``, merged; ``accessible_by`` for its count).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from convobase.db.base import UTCDateTime
from convobase.db.tenancy import (
    Access,
    Permission,
    accessible_by,
    get_accessible,
    get_owned,
    owned_by,
    shared_permission,
    shared_with,
)
from convobase.errors import NotFound
from convobase.models import Conversation, ConversationTag

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    archived: bool | None = False
    pinned: bool | None = None
    tag: str | None = None
    domain: str | None = None


async def get(
    db: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, *, for_update: bool = False
) -> Conversation:
    """The user's conversation, else NotFound; ``for_update`` locks the row (PostgreSQL)."""
    if not for_update:
        return await get_owned(db, Conversation, conversation_id, user_id, what="Conversation")
    stmt = (
        owned_by(select(Conversation), Conversation, user_id)
        .where(Conversation.id == conversation_id)
        .with_for_update()
    )
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("Conversation not found")
    return row


async def get_shared_or_owned(
    db: AsyncSession,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    now: datetime,
    *,
    for_update: bool = False,
) -> Access:
    """The conversation if the user owns it or it is shared with them, with their permission."""
    return await get_accessible(db, conversation_id, user_id, now, for_update=for_update)


def _flags_filtered(stmt: SelectT, where: ConversationFilter) -> SelectT:
    # The filters apply to the fields as the owner set them (on shared conversations too).
    if where.archived is not None:
        stmt = stmt.where(Conversation.archived == where.archived)
    if where.pinned is not None:
        stmt = stmt.where(Conversation.pinned == where.pinned)
    return stmt


def _other_filtered(
    stmt: SelectT, domain: str | BindParameter[str] | None, tag: str | BindParameter[str] | None
) -> SelectT:
    if domain is not None:
        stmt = stmt.where(Conversation.domain == domain)
    if tag is not None:
        stmt = stmt.where(
            exists().where(
                ConversationTag.conversation_id == Conversation.id,
                ConversationTag.user_id == Conversation.user_id,
                ConversationTag.tag == tag,
            )
        )
    return stmt


def _flag_values(value: bool | None) -> tuple[bool, ...]:
    return (False, True) if value is None else (value,)


@functools.lru_cache(maxsize=128)
def page_statement(
    archived: bool | None,
    pinned: bool | None,
    *,
    by_domain: bool,
    by_tag: bool,
    paged: bool,
    dialect: str,
) -> Select[Conversation, str]:
    """One page of the list, newest activity first, keyset on (last_activity_at, id), each row
    with the caller's permission on it ("owner", or the share's "write"/"read").

    A UNION ALL of index walks merged in list order: the user's own conversations as one walk
    of ix_conversations_user_list per (archived, pinned) pair the filters allow (each range is
    already in list order), and the conversations shared with them (found through their live
    shares, then sorted: the only sort, over what is shared with them, never their own). The
    merge stops at ``limit`` rows, so a page's cost does not grow with the conversations owned.
    The permission is looked up for the page's shared rows only, in the same statement (one
    round trip for the whole page).

    Built once per shape (which filters, first or later page, engine) with the values as
    parameters (``page_parameters``): building this statement costs about as much as running it.
    """
    user_id = bindparam("user_id", type_=Uuid())
    now = bindparam("now", type_=UTCDateTime())
    limit = bindparam("limit", type_=Integer())
    domain = bindparam("domain", type_=String()) if by_domain else None
    tag = bindparam("tag", type_=String()) if by_tag else None
    keyset = None
    if paged:
        after = tuple_(
            bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=Uuid())
        )
        keyset = tuple_(Conversation.last_activity_at, Conversation.id) < after

    def narrowed(arm: SelectT) -> SelectT:
        arm = _other_filtered(arm, domain, tag)
        return arm if keyset is None else arm.where(keyset)

    arms = [
        narrowed(owned_by(select(Conversation), Conversation, user_id)).where(
            Conversation.archived == is_archived, Conversation.pinned == is_pinned
        )
        for is_archived in _flag_values(archived)
        for is_pinned in _flag_values(pinned)
    ]
    flags = ConversationFilter(archived=archived, pinned=pinned)
    shared = narrowed(
        _flags_filtered(shared_with(select(Conversation), user_id, now, dialect=dialect), flags)
    )
    if dialect == "postgresql":
        # PostgreSQL merges (Merge Append) only arms it knows to be ordered, and an arm's own
        # equality on the index's leading columns does not tell it so: each arm is cut to a
        # page in its own subquery (an index walk of at most ``limit`` rows, or for the shared
        # arm a top-N sort that keeps only ``limit`` rows), then merged.
        arms = [arm.order_by(*_list_order(Conversation)).limit(limit) for arm in [*arms, shared]]
    else:
        # SQLite merges the bare arms lazily (MERGE (UNION ALL)), reading only what it keeps,
        # but sorts the shared arm in full, whole rows (titles, prompts, settings) included.
        # The sort is cut to a page of keys, then only those rows are read and sorted.
        page_of_shared = (
            shared.with_only_columns(Conversation.id)
            .order_by(*_list_order(Conversation))
            .limit(limit)
        )
        arms.append(select(Conversation).where(Conversation.id.in_(page_of_shared)))
    # Ordered outside the UNION ALL, which both engines then plan as a merge of the arms.
    listed = aliased(Conversation, union_all(*arms).subquery("listed"))
    permission = case(
        (listed.user_id == user_id, literal("owner")),
        else_=shared_permission(listed.id, user_id, now),
    )
    return select(listed, permission).order_by(*_list_order(listed)).limit(limit)


def _list_order(entity: Any) -> tuple[ColumnElement[Any], ...]:
    return (entity.last_activity_at.desc(), entity.id.desc())


def page_parameters(
    user_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    where: ConversationFilter,
    now: datetime,
) -> dict[str, Any]:
    """The values ``page_statement`` runs with."""
    values: dict[str, Any] = {"user_id": user_id, "now": now, "limit": limit}
    if after is not None:
        values["after_at"], values["after_id"] = after
    if where.domain is not None:
        values["domain"] = where.domain
    if where.tag is not None:
        values["tag"] = where.tag
    return values


async def page(
    db: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    where: ConversationFilter,
    now: datetime,
) -> list[Access]:
    """Owned and shared conversations, newest activity first, each with the caller's
    permission, in one statement (see ``page_statement``)."""
    stmt = page_statement(
        where.archived,
        where.pinned,
        by_domain=where.domain is not None,
        by_tag=where.tag is not None,
        paged=after is not None,
        dialect=db.get_bind().dialect.name,
    )
    values = page_parameters(user_id, limit=limit, after=after, where=where, now=now)
    rows = await db.execute(stmt, values)
    return [Access(conversation, _permission(granted)) for conversation, granted in rows]


def _permission(granted: str | None) -> Permission:
    if granted == "owner":
        return "owner"
    # "write" sorts after "read", so the strongest live share is max(); the row was listed
    # for that share, so None (none found) cannot happen but would read as the weaker one.
    return "write" if granted == "write" else "read"


async def count(
    db: AsyncSession, user_id: uuid.UUID, where: ConversationFilter, now: datetime
) -> int:
    stmt = accessible_by(select(func.count()).select_from(Conversation), user_id, now)
    stmt = _other_filtered(_flags_filtered(stmt, where), where.domain, where.tag)
    return int((await db.execute(stmt)).scalar_one())


async def replace_tags(db: AsyncSession, conversation: Conversation, tags: list[str]) -> None:
    await db.execute(
        delete(ConversationTag).where(ConversationTag.conversation_id == conversation.id)
    )
    db.add_all(
        ConversationTag(conversation_id=conversation.id, tag=tag, user_id=conversation.user_id)
        for tag in tags
    )
