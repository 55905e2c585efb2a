"""HTTP layer for /api/v1/conversations and the session's active conversation."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.conversations import repository, service
from convobase.conversations.schemas import (
    ActiveConversationIn,
    ActiveConversationOut,
    ConversationCreate,
    ConversationOut,
    ConversationPage,
    ConversationUpdate,
    conversation_out,
)
from convobase.db.base import utcnow
from convobase.db.pagination import cursor_datetime, cursor_uuid, decode_cursor, page_of
from convobase.db.session import DbSession
from convobase.errors import BadRequest, NotFound

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])
session_router = APIRouter(prefix="/api/v1/auth/sessions/current", tags=["auth"])

TriState = Literal["true", "false", "any"]


def _tri(value: TriState) -> bool | None:
    return None if value == "any" else value == "true"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationOut)
async def create_conversation(
    data: ConversationCreate, principal: CurrentPrincipal, db: DbSession
) -> ConversationOut:
    return ConversationOut.model_validate(await service.create(db, principal.user, data))


@router.get("", response_model=ConversationPage)
async def list_conversations(
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    archived: Annotated[TriState, Query(description="Default: only unarchived")] = "false",
    pinned: TriState = "any",
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    include_total: bool = False,
) -> ConversationPage:
    after = None
    if cursor:
        at, row_id = decode_cursor(runtime.secret, cursor, 2)
        after = (cursor_datetime(at), cursor_uuid(row_id))
    where = repository.ConversationFilter(
        archived=_tri(archived), pinned=_tri(pinned), tag=tag, domain=domain
    )
    now = utcnow()
    user_id = principal.user.id
    rows = await repository.page(db, user_id, limit=limit + 1, after=after, where=where, now=now)
    rows, next_cursor = page_of(
        rows,
        limit,
        runtime.secret,
        lambda a: (a.conversation.last_activity_at.isoformat(), a.conversation.id),
    )
    total = await repository.count(db, user_id, where, now) if include_total else None
    return ConversationPage(
        data=[conversation_out(a.conversation, a.permission) for a in rows],
        next_cursor=next_cursor,
        total=total,
    )


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> ConversationOut:
    """Your own conversation, or one shared with you (marked `shared`, with your permission)."""
    access = await repository.get_shared_or_owned(db, principal.user.id, conversation_id, utcnow())
    return conversation_out(access.conversation, access.permission)


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: uuid.UUID, data: ConversationUpdate, principal: CurrentPrincipal, db: DbSession
) -> ConversationOut:
    return ConversationOut.model_validate(
        await service.update(db, principal.user, conversation_id, data)
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> None:
    await service.delete(db, runtime, principal.user, conversation_id)


def _session_id(principal: CurrentPrincipal) -> uuid.UUID:
    if principal.session is None:
        raise BadRequest(
            "The active conversation belongs to a session, not an API key", code="not_a_session"
        )
    return principal.session.id


@session_router.get("/conversation", response_model=ActiveConversationOut)
async def get_active_conversation(
    principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> ActiveConversationOut:
    """Continue where you left off: the conversation this session was last on."""
    record = await runtime.session_store(db).get(_session_id(principal), utcnow())
    active = record.active_conversation_id if record else None
    if active is None:
        return ActiveConversationOut(conversation_id=None)
    try:
        conversation = await repository.get(db, principal.user.id, active)
    except NotFound:  # deleted since
        return ActiveConversationOut(conversation_id=None)
    return ActiveConversationOut(
        conversation_id=active, conversation=ConversationOut.model_validate(conversation)
    )


@session_router.put("/conversation", response_model=ActiveConversationOut)
async def set_active_conversation(
    data: ActiveConversationIn, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> ActiveConversationOut:
    session_id = _session_id(principal)
    conversation = None
    if data.conversation_id is not None:
        conversation = await repository.get(db, principal.user.id, data.conversation_id)
    await runtime.session_store(db).set_active_conversation(session_id, data.conversation_id)
    return ActiveConversationOut(
        conversation_id=data.conversation_id,
        conversation=ConversationOut.model_validate(conversation) if conversation else None,
    )
