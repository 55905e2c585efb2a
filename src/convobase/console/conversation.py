"""One conversation: its current branch, the branch switcher, tool runs, attached files,
feedback, and the forms that append, branch, edit and delete through the services."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from convobase.agents import service as agents
from convobase.auth.dependencies import RuntimeDep
from convobase.console.chats import load_sidebar, split_tags
from convobase.console.web import (
    FormViewer,
    PageViewer,
    failing_back_to,
    form_id,
    optional,
    render,
    see_other,
    text,
)
from convobase.conversations import repository as conversations
from convobase.conversations import service as conversation_service
from convobase.conversations.schemas import ConversationUpdate
from convobase.db.base import utcnow
from convobase.db.session import DbSession
from convobase.files import service as files
from convobase.messages import repository as message_repository
from convobase.messages import service as messages
from convobase.messages.schemas import FeedbackIn, MessageCreate

router = APIRouter(prefix="/console/c", include_in_schema=False)

PATH_LIMIT = 200  # messages shown: the newest of the current branch
_ROLES = ("user", "assistant", "system")


@router.get("/{conversation_id}")
async def view(
    conversation_id: uuid.UUID,
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    before: Annotated[uuid.UUID | None, Query()] = None,
) -> HTMLResponse:
    """The newest ``PATH_LIMIT`` messages of the current branch, or (``before``) the page of
    the branch that ends just above that message: a keyset walk up the branch."""
    user = viewer.user
    access = await conversations.get_shared_or_owned(db, user.id, conversation_id, utcnow())
    conversation = access.conversation
    listing = await messages.list_messages(
        db, user, conversation.id, limit=PATH_LIMIT, after=before, descending=True, leaf="current"
    )
    path = list(reversed(listing.messages))
    earlier = None
    if listing.has_more and path:
        earlier = f"/console/c/{conversation.id}?{urlencode({'before': str(path[0].id)})}"
    shown = await messages.to_out(db, conversation.id, path)
    feedback: dict[uuid.UUID, str] = {}
    tool_runs: list[Any] = []
    attached: list[Any] = []
    owner = access.permission == "owner"
    if owner:
        for message in shown:
            if message.role == "assistant":
                row = await message_repository.feedback(db, user.id, message.id)
                if row is not None:
                    feedback[message.id] = row.rating
        tool_runs = await agents.list_tool_runs(
            db, user, conversation.id, limit=100, after=None, status=None
        )
        attached = await files.list_files(
            db, user, conversation_id=conversation.id, before=None, limit=100
        )
    sidebar = await load_sidebar(db, runtime, viewer)
    return render(
        request,
        "conversation.html",
        viewer,
        conversation=conversation,
        permission=access.permission,
        owner=owner,
        messages=shown,
        earlier=earlier,
        paged=before is not None,
        feedback=feedback,
        tool_runs=tool_runs,
        files=attached,
        sidebar=sidebar,
        roles=_ROLES,
        nav="conversations",
    )


@router.post("/{conversation_id}/messages")
async def append(
    conversation_id: uuid.UUID, request: Request, viewer: FormViewer, db: DbSession
) -> Response:
    """Append a message (a new branch when ``parent_id`` names a message with replies)."""
    form = await request.form()
    back = f"/console/c/{conversation_id}"
    body: dict[str, Any] = {"role": text(form, "role") or "user", "content": text(form, "content")}
    if "parent_id" in form:  # present and empty: a new root (an alternative first message)
        body["parent_id"] = text(form, "parent_id") or None
    with failing_back_to(back):
        data = MessageCreate.model_validate(body)
        await messages.append(db, viewer.user, conversation_id, data)
    return see_other(request, back)


@router.post("/{conversation_id}/branch")
async def switch_branch(
    conversation_id: uuid.UUID, request: Request, viewer: FormViewer, db: DbSession
) -> Response:
    """Follow another sibling: its newest descendant becomes the current leaf."""
    form = await request.form()
    back = f"/console/c/{conversation_id}"
    with failing_back_to(back):
        data = ConversationUpdate.model_validate({"current_leaf_id": text(form, "message_id")})
        await conversation_service.update(db, viewer.user, conversation_id, data)
    return see_other(request, back)


@router.post("/{conversation_id}/feedback")
async def feedback(
    conversation_id: uuid.UUID, request: Request, viewer: FormViewer, db: DbSession
) -> Response:
    form = await request.form()
    back = f"/console/c/{conversation_id}"
    with failing_back_to(back):
        message_id = form_id(form, "message_id", back, "Message")
        data = FeedbackIn.model_validate(
            {"rating": text(form, "rating"), "comment": optional(form, "comment")}
        )
        await messages.set_feedback(db, viewer.user, conversation_id, message_id, data)
    return see_other(request, back, "Thanks for the feedback")


@router.post("/{conversation_id}/edit")
async def edit(
    conversation_id: uuid.UUID, request: Request, viewer: FormViewer, db: DbSession
) -> Response:
    """Title, tags, pinned and archived: one form, one service call."""
    form = await request.form()
    back = f"/console/c/{conversation_id}"
    with failing_back_to(back):
        data = ConversationUpdate(
            title=optional(form, "title"),
            tags=split_tags(text(form, "tags")),
            pinned=form.get("pinned") == "on",
            archived=form.get("archived") == "on",
        )
        await conversation_service.update(db, viewer.user, conversation_id, data)
    return see_other(request, back, "Saved")


@router.post("/{conversation_id}/delete")
async def delete(
    conversation_id: uuid.UUID,
    request: Request,
    viewer: FormViewer,
    db: DbSession,
    runtime: RuntimeDep,
) -> Response:
    with failing_back_to(f"/console/c/{conversation_id}"):
        await conversation_service.delete(db, runtime, viewer.user, conversation_id)
    return see_other(request, "/console/", "Conversation deleted")
