"""HTTP layer for /api/v1/conversations/{id}/messages."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.db.pagination import encode_cursor, id_from_cursor
from convobase.db.session import DbSession
from convobase.errors import ValidationFailed
from convobase.messages import repository, service
from convobase.messages.schemas import (
    FeedbackIn,
    FeedbackOut,
    MessageCreate,
    MessageDetailOut,
    MessageEditOut,
    MessageOut,
    MessagePage,
    MessageUpdate,
)

router = APIRouter(prefix="/api/v1/conversations/{conversation_id}/messages", tags=["messages"])


async def _one(db: DbSession, conversation_id: uuid.UUID, message: object) -> MessageOut:
    return (await service.to_out(db, conversation_id, [message]))[0]  # type: ignore[list-item]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MessageOut)
async def append_message(
    conversation_id: uuid.UUID, data: MessageCreate, principal: CurrentPrincipal, db: DbSession
) -> MessageOut:
    message = await service.append(db, principal.user, conversation_id, data)
    return await _one(db, conversation_id, message)


def _leaf(value: str | None) -> uuid.UUID | str | None:
    if value is None or value == "current":
        return value
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ValidationFailed(
            "leaf_id must be a message id or 'current'",
            details={
                "errors": [
                    {"loc": ["query", "leaf_id"], "msg": "not a UUID or 'current'", "type": "uuid"}
                ]
            },
        ) from exc


@router.get("", response_model=MessagePage)
async def list_messages(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    order: Literal["asc", "desc"] = "asc",
    leaf_id: Annotated[
        str | None,
        Query(max_length=64, description="A message id or 'current': the path to that leaf"),
    ] = None,
) -> MessagePage:
    after = id_from_cursor(runtime.secret, cursor)
    listing = await service.list_messages(
        db,
        principal.user,
        conversation_id,
        limit=limit,
        after=after,
        descending=order == "desc",
        leaf=_leaf(leaf_id),
    )
    data = await service.to_out(db, conversation_id, listing.messages)
    next_cursor = encode_cursor(runtime.secret, data[-1].id) if listing.has_more and data else None
    return MessagePage(data=data, next_cursor=next_cursor)


@router.get("/{message_id}", response_model=MessageDetailOut)
async def get_message(
    conversation_id: uuid.UUID, message_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> MessageDetailOut:
    message = await service.get_message(db, principal.user, conversation_id, message_id)
    out = await _one(db, conversation_id, message)
    edits = await repository.edits(db, message.id)
    feedback = await repository.feedback(db, principal.user.id, message.id)
    return MessageDetailOut(
        **out.model_dump(),
        edits=[MessageEditOut.model_validate(e) for e in edits],
        feedback=FeedbackOut.model_validate(feedback) if feedback else None,
    )


@router.patch("/{message_id}", response_model=MessageOut)
async def edit_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    data: MessageUpdate,
    principal: CurrentPrincipal,
    db: DbSession,
) -> MessageOut:
    message = await service.edit(db, principal.user, conversation_id, message_id, data)
    return await _one(db, conversation_id, message)


@router.delete("/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_message(
    conversation_id: uuid.UUID, message_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> None:
    await service.delete(db, principal.user, conversation_id, message_id)


@router.post("/{message_id}/feedback", response_model=FeedbackOut)
async def set_feedback(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    data: FeedbackIn,
    principal: CurrentPrincipal,
    db: DbSession,
    response: Response,
) -> FeedbackOut:
    row, created = await service.set_feedback(db, principal.user, conversation_id, message_id, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return FeedbackOut.model_validate(row)
